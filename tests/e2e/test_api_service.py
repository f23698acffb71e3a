"""`mydocker system service` driven by the real clients: the docker CLI on PATH and docker-py, against a
service on a private socket with private roots, started as a subprocess and stopped by its PID."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time

import pytest

pytestmark = pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker CLI on PATH")

# The docker CLIs the tests drive: the CLI 28 on PATH (API 1.50), and Debian's docker.io 20.10 client,
# installed by scripts/test.sh (API 1.41: it asks /v1.41/... and reads the answers of that version).
CLIS = {"cli28": "docker", "cli20": "/usr/bin/docker"}
each_cli = pytest.mark.parametrize("service", [
    "cli28", pytest.param("cli20", marks=pytest.mark.skipif(not os.path.exists(CLIS["cli20"]),
                                                          reason="needs Debian's docker.io 20.10 client"))],
    indirect=True)


class Service:
    """The service process, and a docker CLI pointed at it (DOCKER_CONFIG private: no ~/.docker)."""

    def __init__(self, mydocker, base: str, cli: str = "docker") -> None:
        self.mydocker = mydocker
        self.base = base
        self.cli = cli  # the docker CLI's binary (CLIS)
        self.sock = os.path.join(base, "d.sock")
        os.makedirs(os.path.join(base, "config"))
        self.env = {**os.environ, "DOCKER_HOST": f"unix://{self.sock}", "DOCKER_CONFIG": os.path.join(base, "config")}
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.mydocker.argv("system", "service", "--time", "0", f"unix://{self.sock}"),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.base, "service.log"), "ab"))
        deadline = time.monotonic() + 20
        while not os.path.exists(self.sock):
            assert self.proc.poll() is None, f"the service exited: {self.log()}"
            assert time.monotonic() < deadline, "the service did not listen within 20 s"
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            self.proc.wait(timeout=20)

    def log(self) -> str:
        with open(os.path.join(self.base, "service.log"), errors="replace") as f:
            return f.read()

    def docker(self, *args: str, rc: int | None = 0, timeout: float = 60) -> subprocess.CompletedProcess:
        proc = subprocess.run([self.cli, *args], capture_output=True, text=True, env=self.env, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        if rc is not None:
            assert proc.returncode == rc, (f"docker {' '.join(args)}: rc={proc.returncode}\nstdout: {proc.stdout!r}\n"
                                           f"stderr: {proc.stderr!r}\nservice log: {self.log()}")
        return proc

    def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> tuple[int, bytes]:
        """One raw HTTP/1.1 request (Connection: close): (status, body)."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(self.sock)
        head = {"Host": "docker", "Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
        s.sendall(f"{method} {path} HTTP/1.1\r\n".encode() + "".join(f"{k}: {v}\r\n" for k, v in head.items()).encode()
                  + b"\r\n" + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        s.close()
        status_line, _, rest = data.partition(b"\r\n")
        _headers, _, payload = rest.partition(b"\r\n\r\n")
        return int(status_line.split()[1]), payload


@pytest.fixture
def service(mydocker, request):
    """The service and the docker CLI 28; the 20.10 client in the tests marked `each_cli`."""
    base = tempfile.mkdtemp(prefix="mdapi-")  # short: a unix socket path has 108 bytes
    svc = Service(mydocker, base, CLIS[getattr(request, "param", "cli28")])
    svc.start()
    yield svc
    try:
        for cid in mydocker("ps", "-aq", rc=None).out.split():
            mydocker("rm", "-f", cid, rc=None)
    finally:
        svc.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_socket_is_root_only(service):
    mode = os.stat(service.sock).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o660
    assert os.stat(service.sock).st_uid == 0


def test_docker_version_reports_the_api_version(service):
    out = service.docker("version", "--format", "{{.Server.APIVersion}} {{.Server.Version}} {{.Server.Arch}}").stdout
    assert out.split()[0] == "1.50" and out.split()[2] in ("amd64", "arm64")
    status, body = service.request("GET", "/_ping")
    assert (status, body) == (200, b"OK")
    status, body = service.request("GET", "/v1.99/version")
    assert status == 400 and b"too new" in body


@each_cli
def test_docker_run_rm_prints_and_exits_with_the_containers_code(service, mydocker):
    out = service.docker("run", "--rm", "busybox", "echo", "hi")
    assert out.stdout == "hi\n"
    failed = service.docker("run", "--rm", "busybox", "sh", "-c", "echo oops >&2; exit 3", rc=3)
    assert failed.stdout == "" and "oops" in failed.stderr
    assert mydocker("ps", "-aq").out == ""  # --rm removed both


@each_cli
def test_docker_run_detached_ps_logs_stop_rm_inspect(service):
    cid = service.docker("run", "-d", "--name", "web", "busybox", "sh", "-c",
                         "echo started; echo warning >&2; exec sleep 100").stdout.strip()
    assert len(cid) == 64
    assert service.docker("ps", "--format", "{{.Names}} {{.State}}").stdout == "web running\n"
    deadline = time.monotonic() + 10
    while (logs := service.docker("logs", "web")).stdout != "started\n" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (logs.stdout, logs.stderr) == ("started\n", "warning\n")  # the frames keep the streams apart
    doc = json.loads(service.docker("inspect", "web").stdout)[0]
    assert doc["Id"] == cid and doc["Name"] == "/web" and doc["State"]["Running"] is True
    assert doc["Config"]["Cmd"] == ["sh", "-c", "echo started; echo warning >&2; exec sleep 100"]
    service.docker("stop", "-t", "1", "web")
    assert service.docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "web").stdout == "exited 137\n"
    service.docker("stop", "web")  # stopped already: 304, which the CLI takes as success
    assert service.docker("ps", "-a", "--format", "{{.Names}} {{.State}}").stdout == "web exited\n"
    service.docker("rm", "web")
    assert "Error" not in service.docker("info").stderr  # every field of /info as the CLI reads it
    gone = service.docker("container", "inspect", "web", rc=1)
    assert "No such container: web" in gone.stderr


@each_cli
def test_docker_images_and_image_inspect(service):
    service.docker("run", "--rm", "busybox", "true")
    assert "busybox:latest" in service.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    doc = json.loads(service.docker("image", "inspect", "busybox").stdout)[0]
    assert doc["RepoTags"] == ["busybox:latest"] and doc["Id"].startswith("sha256:")
    missing = service.docker("image", "inspect", "nosuch:1", rc=1)
    assert "No such image: nosuch:1" in missing.stderr


@each_cli
def test_a_wait_in_progress_blocks_no_other_request(service):
    service.docker("run", "-d", "--name", "sleeper", "busybox", "sleep", "100")
    waiting = subprocess.Popen([service.cli, "wait", "sleeper"], env=service.env, stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        started = time.monotonic()
        assert service.docker("ps", "--format", "{{.Names}}").stdout == "sleeper\n"
        assert time.monotonic() - started < 10
        assert waiting.poll() is None
        service.docker("kill", "sleeper")
        assert waiting.communicate(timeout=30)[0] == "137\n"
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait()


def test_containers_outlive_the_service(service):
    service.docker("run", "-d", "--name", "keeper", "busybox", "sleep", "100")
    service.stop(signal.SIGKILL)
    os.unlink(service.sock)
    service.start()
    assert service.docker("ps", "--format", "{{.Names}} {{.State}}").stdout == "keeper running\n"


def test_docker_py_runs_a_container(service):
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=f"unix://{service.sock}")
    try:
        assert client.containers.run("busybox", "echo hi", remove=True) == b"hi\n"
        with pytest.raises(docker.errors.ContainerError) as failed:
            client.containers.run("busybox", ["sh", "-c", "echo bad >&2; exit 3"], remove=True)
        assert failed.value.exit_status == 3
        with pytest.raises(docker.errors.NotFound, match="No such container: nope"):
            client.containers.get("nope")
    finally:
        client.close()


def test_docker_py_run_gets_the_output_of_a_container_that_exits_at_once(service):
    """docker-py's run follows the logs right after the start: a container as quick as `echo` has
    exited by then, and its monitor may not have written its output to the log yet (it records the
    exit once it has). The follow waits for that record, not for the init alone: 1-3 runs in 30
    came back empty before."""
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=f"unix://{service.sock}")
    try:
        outputs = [client.containers.run("busybox", "echo hi", remove=True, network_mode="none") for _ in range(30)]
    finally:
        client.close()
    assert outputs == [b"hi\n"] * 30


def test_bad_input_gets_dockers_status_and_message(service, mydocker):
    status, body = service.request("POST", "/v1.44/containers/create", b"{bad", {"Content-Type": "application/json"})
    assert status == 400 and "invalid JSON" in json.loads(body)["message"]
    status, body = service.request("POST", "/containers/create", json.dumps({"Image": "busybox", "Cmd": 5}).encode())
    assert status == 400 and json.loads(body)["message"].startswith("invalid Config.Cmd")
    status, body = service.request("GET", "/containers/nope/json")
    assert (status, json.loads(body)) == (404, {"message": "No such container: nope"})
    status, body = service.request("POST", "/containers/create", json.dumps({"Image": "nosuch:1"}).encode())
    assert (status, json.loads(body)) == (404, {"message": "No such image: nosuch:1"})
    create = json.dumps({"Image": "busybox", "Cmd": ["true"]}).encode()
    status, _ = service.request("POST", "/containers/create?name=twice", create)
    assert status == 201
    status, body = service.request("POST", "/containers/create?name=twice", create)
    assert status == 409 and "already in use" in json.loads(body)["message"]
    assert mydocker("ps", "-aq").out.split().__len__() == 1  # the refused one left nothing
    status, _ = service.request("GET", "/no/such/endpoint")
    assert status == 404
    status, _ = service.request("GET", "/_ping", headers={"X-Big": "x" * 10000})
    assert status == 431


def test_tcp_on_loopback_and_the_idle_exit(mydocker, tmp_path):
    """tcp://:PORT listens on loopback only; --time ends a service no one used for that long."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(mydocker.argv("system", "service", "--time", "2", f"tcp://:{port}"),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline and proc.poll() is None, "the service did not listen"
                time.sleep(0.05)
        with conn:
            conn.sendall(b"GET /v1.41/_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = conn.makefile("rb").read()
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"OK") and b"Api-Version: 1.50" in answer
        listening = subprocess.run(["ss", "-Htln", f"sport = :{port}"], capture_output=True, text=True).stdout
        assert [line.split()[3] for line in listening.splitlines()] == [f"127.0.0.1:{port}"]
        assert proc.wait(timeout=20) == 0  # idle for 2 s after the last connection
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

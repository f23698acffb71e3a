"""Exec through `mydocker system service`, driven by the real clients: the docker CLI 28 (through a pty
for -it, with pexpect) and docker-py's exec_run (exit codes, demultiplexed output)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.e2e.test_api_service import each_cli, service  # noqa: F401 - the fixture

pytestmark = pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker CLI on PATH")


@pytest.fixture
def web(service):  # noqa: F811
    service.docker("run", "-d", "--name", "web", "busybox", "sleep", "1000")
    return service


@each_cli
def test_docker_exec_prints_and_returns_the_commands_exit_code(web):
    assert web.docker("exec", "web", "echo", "hi").stdout == "hi\n"
    proc = web.docker("exec", "web", "sh", "-c", "echo oops >&2; exit 5", rc=5)
    assert proc.stderr == "oops\n" and proc.stdout == ""


@each_cli
def test_docker_exec_i_feeds_piped_input(web):
    proc = subprocess.run([web.cli, "exec", "-i", "web", "cat"], input="piped\nlines\n", capture_output=True,
                          text=True, env=web.env, timeout=60)
    assert (proc.returncode, proc.stdout) == (0, "piped\nlines\n"), proc.stderr


@each_cli
def test_docker_exec_it_through_a_pty(web):
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(web.cli, ["exec", "-it", "web", "sh"], env=web.env, timeout=30, dimensions=(33, 101))
    child.expect("# ")
    child.sendline("echo $((6*7)); stty size")
    child.expect("42")
    child.expect(r"(\d+) (\d+)")
    assert child.match.groups() == (b"33", b"101")  # the CLI's window size reached the exec's tty
    child.sendline("exit 3")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3


def test_docker_py_exec_run_exit_codes_and_demux(web):
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=web.env["DOCKER_HOST"])
    try:
        container = client.containers.get("web")
        result = container.exec_run(["sh", "-c", "echo out; echo err >&2; exit 4"], demux=True)
        assert (result.exit_code, result.output) == (4, (b"out\n", b"err\n"))
        assert container.exec_run("env", environment={"GREETING": "hello"},
                                  workdir="/tmp").output.count(b"GREETING=hello") == 1
        assert container.exec_run("pwd", workdir="/tmp").output == b"/tmp\n"
        assert container.exec_run("id -u", user="nobody").output.strip() == b"65534"
        # an exec instance outlives its connections: created, started and inspected on three
        exec_id = client.api.exec_create("web", ["sh", "-c", "exit 7"])["Id"]
        client.api.exec_start(exec_id)
        doc = client.api.exec_inspect(exec_id)
        assert (doc["Running"], doc["ExitCode"], doc["ContainerID"]) == (False, 7, container.id)
        assert doc["ProcessConfig"]["entrypoint"] == "sh" and doc["Pid"] > 0
        detached = client.api.exec_create("web", ["sleep", "30"])["Id"]
        client.api.exec_start(detached, detach=True)
        assert client.api.exec_inspect(detached)["Running"] is True
    finally:
        client.close()


def test_exec_bad_input_gets_dockers_status(web):
    assert web.request("GET", "/v1.50/exec/0123abcd/json")[0] == 404
    status, body = web.request("POST", "/v1.50/containers/web/exec", json.dumps({"Cmd": []}).encode(),
                               {"Content-Type": "application/json"})
    assert status == 400 and b"No exec command specified" in body
    status, body = web.request("POST", "/v1.50/containers/web/exec", json.dumps({"Cmd": "ls"}).encode())
    assert status == 400, body
    status, _ = web.request("POST", "/v1.50/containers/nope/exec", json.dumps({"Cmd": ["ls"]}).encode())
    assert status == 404
    web.docker("stop", "-t", "0", "web")
    status, body = web.request("POST", "/v1.50/containers/web/exec", json.dumps({"Cmd": ["ls"]}).encode())
    assert status == 409 and b"is not running" in body


def test_resize_reaches_a_running_containers_tty(service):  # noqa: F811
    cid = service.docker("run", "-dt", "busybox", "sh").stdout.strip()
    assert service.request("POST", f"/v1.50/containers/{cid}/resize?h=40&w=120")[0] == 200
    assert service.docker("exec", cid, "sh", "-c", "stty size < /proc/1/fd/0").stdout == "40 120\n"
    assert service.request("POST", f"/v1.50/containers/{cid}/resize?h=40")[0] == 400


@each_cli
def test_docker_run_i_pipes_input_to_the_container(service):  # noqa: F811
    """The CLI attaches with stdin=1 before it starts the container; StdinOnce ends the input with ours."""
    for command, rc in ((["cat"], 0), (["sh", "-c", "cat; exit 3"], 3)):
        proc = subprocess.run([service.cli, "run", "-i", "--rm", "busybox", *command], input="hi\nthere\n",
                              capture_output=True, text=True, env=service.env, timeout=60)
        assert (proc.returncode, proc.stdout) == (rc, "hi\nthere\n"), proc.stderr + service.log()


@each_cli
def test_docker_run_it_through_a_pty(service):  # noqa: F811
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(service.cli, ["run", "-it", "--rm", "busybox", "sh"], env=service.env, timeout=30,
                          dimensions=(31, 99))
    child.expect("# ")  # a prompt without a newline reaches the client
    child.sendline("echo $((6*7)); stty size")
    child.expect("42")
    child.expect(r"(\d+) (\d+)")
    assert child.match.groups() == (b"31", b"99")  # POST /containers/{id}/resize from the CLI
    child.sendline("exit 3")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3


@each_cli
def test_docker_attach_to_a_running_container(service):  # noqa: F811
    pexpect = pytest.importorskip("pexpect")
    service.docker("run", "-dit", "--name", "att", "busybox", "sh")
    child = pexpect.spawn(service.cli, ["attach", "att"], env=service.env, timeout=30)
    child.sendline("echo attached-$((1+1))")  # typed before the relay has the console: kept in the socket
    child.expect("attached-2")
    child.sendline("exit 4")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 4
    assert service.docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "att").stdout == "exited 4\n"


def test_exec_records_go_with_their_container(service, mydocker):  # noqa: F811
    cid = service.docker("run", "-d", "busybox", "sleep", "100").stdout.strip()
    exec_id = json.loads(service.request("POST", f"/v1.50/containers/{cid}/exec",
                                         json.dumps({"Cmd": ["true"]}).encode())[1])["Id"]
    service.docker("rm", "-f", cid)
    service.docker("run", "-d", "--name", "other", "busybox", "sleep", "100")
    service.request("POST", "/v1.50/containers/other/exec", json.dumps({"Cmd": ["true"]}).encode())
    assert service.request("GET", f"/v1.50/exec/{exec_id}/json")[0] == 404

"""What `docker run --rm` through `mydocker system service` costs the service's workers, and that
bench/api.py's mydocker part runs: each connection is a fresh fork of the service, so a module a
worker imports is paid again on every connection (engine.api.preload imports them once)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

pytestmark = pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker CLI on PATH")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_docker_run_ps_exec_stop_rm_version_import_nothing_in_the_services_workers(mydocker):
    base = tempfile.mkdtemp(prefix="mdcost-")  # short: a unix socket path has 108 bytes
    sock, log = os.path.join(base, "d.sock"), os.path.join(base, "service.log")
    os.makedirs(os.path.join(base, "config"))
    env = {**os.environ, "DOCKER_HOST": f"unix://{sock}", "DOCKER_CONFIG": os.path.join(base, "config")}
    launcher = mydocker.argv()[0]
    with open(launcher) as f:
        interpreter = f.readline()[2:].split()
    # -X importtime: every import, the forked workers' too (their stderr is the service's), on one line each
    with open(log, "wb") as err:
        service = subprocess.Popen([*interpreter, "-X", "importtime", *mydocker.argv("system", "service", "--time", "0",
                                                                                     f"unix://{sock}")],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(sock):
            assert service.poll() is None and time.monotonic() < deadline, open(log).read()[-2000:]
            time.sleep(0.05)

        def docker(*args: str) -> str:
            proc = subprocess.run(["docker", *args], env=env, capture_output=True, text=True, timeout=60,
                                  stdin=subprocess.DEVNULL)
            assert proc.returncode == 0, f"docker {' '.join(args)}: {proc.stderr}\n{open(log).read()[-2000:]}"
            return proc.stdout

        docker("run", "--rm", "--network", "none", "busybox", "true")  # the busybox image is built: its imports
        docker("create", "--name", "listed", "--network", "none", "busybox", "true")
        offset = os.path.getsize(log)
        docker("run", "--rm", "--network", "none", "busybox", "true")  # create, attach, wait, start, AutoRemove
        assert docker("ps", "-a", "--format", "{{.Names}}") == "listed\n"
        docker("run", "-d", "--name", "busy", "--network", "none", "busybox", "sleep", "100")
        assert docker("exec", "busy", "echo", "hi") == "hi\n"
        docker("stop", "-t", "0", "busy")
        docker("rm", "busy")
        docker("version")
        with open(log) as f:
            f.seek(offset)
            imported = [line.rsplit("|", 1)[-1].strip() for line in f if line.startswith("import time:")]
        assert imported == [], f"the workers imported {imported}: add them to engine/api.py's _PRELOAD"
    finally:
        subprocess.run(["docker", "rm", "-f", "listed", "busy"], env=env, capture_output=True, stdin=subprocess.DEVNULL)
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=20)
        shutil.rmtree(base, ignore_errors=True)


def test_the_api_bench_quick_mode_runs_its_mydocker_part():
    proc = subprocess.run([sys.executable, os.path.join(REPO, "bench", "api.py"), "--quick", "--engines", "mydocker"],
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {line.split()[0] + " " + line.split()[1]: line for line in proc.stdout.splitlines()
            if line.startswith("  mydocker ") and "ms" in line}
    assert "mydocker API" in rows and "mydocker CLI" in rows, proc.stdout
    assert "skipped" not in proc.stdout and "leak:" not in proc.stdout, proc.stdout
    assert "API overhead" in proc.stdout and "/s" in proc.stdout, proc.stdout  # the ratio and the list's rate
    # the ratio with its spread: a 95% interval over the rounds, the per-round quartiles, a verdict from both
    line = next(line for line in proc.stdout.splitlines() if line.startswith("  API overhead "))
    assert re.search(r"\d\.\d\dx  \[\d\.\d\d-\d\.\d\d\]  rounds [\d./]+  <= 1\.25x (met|missed|unsure)$", line), line


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return found


def _has_open(pid: int, path: str) -> bool:
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") == path for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


def test_a_spare_worker_waits_with_the_database_open_and_goes_with_the_service(mydocker):
    base = tempfile.mkdtemp(prefix="mdspare-")
    sock = os.path.join(base, "d.sock")
    mydocker("ps")  # the root exists, as a user's does
    database = os.path.join(mydocker.root, "mydocker.db")
    service = subprocess.Popen(mydocker.argv("system", "service", "--time", "0", f"unix://{sock}"),
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not [c for c in _children(service.pid) if _has_open(c, database)]:
            assert service.poll() is None and time.monotonic() < deadline, "no worker waits with the database open"
            time.sleep(0.05)
        spares = _children(service.pid)
        status, _ = _get(sock, "/_ping")
        assert status == 200
        # the spare took the connection; a new one waits, its database open too
        deadline = time.monotonic() + 20
        while not [c for c in _children(service.pid) if c not in spares and _has_open(c, database)]:
            assert time.monotonic() < deadline, "no new spare after the first took a connection"
            time.sleep(0.05)
        spares = _children(service.pid)
    finally:
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=20)
        shutil.rmtree(base, ignore_errors=True)
    # the spare is reaped by the service as it stops; a worker that ended before, by init soon after
    deadline = time.monotonic() + 5
    while (left := [pid for pid in spares if os.path.exists(f"/proc/{pid}")]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left == []


def test_four_spares_accept_their_connections_while_the_service_itself_is_stopped(mydocker):
    """docker run's three connections (and one more) are each accepted by a spare forked ahead, not
    by the service: with the service's process stopped (SIGSTOP), four kept-alive connections are
    all answered. The service hands nothing over and forks nothing in the middle of a run."""
    import socket
    base = tempfile.mkdtemp(prefix="mdspare-")
    sock = os.path.join(base, "d.sock")
    mydocker("ps")
    database = os.path.join(mydocker.root, "mydocker.db")
    service = subprocess.Popen(mydocker.argv("system", "service", "--time", "0", f"unix://{sock}"),
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    held: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 20
        while len([c for c in _children(service.pid) if _has_open(c, database)]) < 4:
            assert service.poll() is None and time.monotonic() < deadline, "four spares do not wait"
            time.sleep(0.05)
        os.kill(service.pid, signal.SIGSTOP)
        try:
            for _ in range(4):
                conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                held.append(conn)
                conn.settimeout(20)
                conn.connect(sock)
                conn.sendall(b"GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n")  # kept alive
                assert conn.recv(65536).startswith(b"HTTP/1.1 200 "), "a connection found no spare to accept it"
        finally:
            os.kill(service.pid, signal.SIGCONT)
    finally:
        for conn in held:
            conn.close()
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=20)
        shutil.rmtree(base, ignore_errors=True)


def _get(sock_path: str, path: str) -> tuple[int, bytes]:
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(sock_path)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    return int(data.split()[1]), data.partition(b"\r\n\r\n")[2]


def _monitor_pid(runroot: str) -> int:
    with open(os.path.join(runroot, "monitor.lock")) as f:
        return int(f.read().split()[0])


def _spares(monitor: int, database: str) -> list[int]:
    return [c for c in _children(monitor) if _has_open(c, database)]


def test_the_monitor_hands_launches_and_exits_to_spare_workers_that_go_with_it(mydocker):
    """A launch and an exit each find a worker forked ahead, its database open (docker run's start
    and its --rm teardown were each a fork and a first SQLite statement later); the spares never
    outlive the monitor, killed or not."""
    cid = mydocker("run", "-d", "--network", "none", "busybox", "sleep", "100").out.strip()
    try:
        monitor = _monitor_pid(mydocker.runroot)
        database = os.path.join(mydocker.root, "mydocker.db")
        deadline = time.monotonic() + 20
        while len(spares := _spares(monitor, database)) < 2:
            assert time.monotonic() < deadline, f"the monitor keeps no spare workers: {_children(monitor)}"
            time.sleep(0.05)
        mydocker("stop", "-t", "0", cid)  # its exit: recorded and torn down by a spare
        assert mydocker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", cid).out.split() == ["exited", "137"]
        while os.path.exists(f"/proc/{spares[0]}"):
            assert time.monotonic() < deadline, "the first spare did not take the exit"
            time.sleep(0.05)
        while len(_spares(monitor, database)) < 2:  # forked again once no worker runs
            assert time.monotonic() < deadline, f"no new spares after the exit: {_children(monitor)}"
            time.sleep(0.05)
        spares = _spares(monitor, database)
    finally:
        mydocker("rm", "-f", cid, rc=None)
    os.kill(monitor, signal.SIGKILL)  # the spares read end-of-file and exit
    deadline = time.monotonic() + 10
    while (left := [pid for pid in spares if _alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left == [], "spare workers outlived their monitor"


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for its (killed) parent's reaper."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_the_container_list_shows_mounts_from_the_record_and_an_older_records_from_its_config_json(mydocker, tmp_path):
    """GET /containers/json (and `ps --format {{.Mounts}}`) shows each container's Mounts, as Docker
    does, without reading each config.json (1.7 of 3.5 ms per list of 50): create records them. A
    record made before that (an empty mounts column) still gets them, from its config.json."""
    import json
    import sqlite3
    base = tempfile.mkdtemp(prefix="mdlist-")
    sock = os.path.join(base, "d.sock")
    host_dir = tmp_path / "shared"
    host_dir.mkdir()
    cid = mydocker("create", "--network", "none", "-v", f"{host_dir}:/shared:ro", "-v", "listvol:/data",
                   "busybox", "true").out.strip()
    config = os.path.join(mydocker.root, "containers", cid, "config.json")
    with open(config) as f:
        kept = f.read()
    want = [("bind", str(host_dir), "/shared", False), ("volume", "listvol", "/data", True)]
    service = subprocess.Popen(mydocker.argv("system", "service", "--time", "0", f"unix://{sock}"),
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(sock):
            assert service.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)

        def listed() -> list:
            status, body = _get(sock, "/v1.41/containers/json?all=1")
            assert status == 200, body
            [entry] = json.loads(body)
            return [(m["Type"], m.get("Name") or m["Source"], m["Destination"], m["RW"]) for m in entry["Mounts"]]

        with open(config, "w") as f:
            f.write("{}")  # the list must not need it
        assert listed() == want
        assert mydocker("ps", "-a", "--no-trunc", "--format", "{{.Mounts}}").out.strip() == f"{host_dir},listvol"
        with open(config, "w") as f:
            f.write(kept)
        db = sqlite3.connect(os.path.join(mydocker.root, "mydocker.db"))
        with db:
            db.execute("UPDATE containers SET mounts='' WHERE id=?", (cid,))  # as an older mydocker made it
        db.close()
        assert listed() == want
    finally:
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=20)
        shutil.rmtree(base, ignore_errors=True)
        mydocker("rm", "-f", "-v", cid, rc=None)
        mydocker("volume", "rm", "listvol", rc=None)

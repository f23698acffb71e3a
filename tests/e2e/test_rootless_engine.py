"""`mydocker` run by an ordinary user (issue 19, the engine's part: engine/rootless.py).

Two throwaway users (tests/rootlesskit.py: each with its own subuid/subgid range, far from the ranges
other tests use) drive the CLI through `setpriv` with a fresh XDG_RUNTIME_DIR and their default
roots. Each gets the busybox image in its own root (built from the host's busybox-static on first
use). At the end of the module each user's pause process is stopped by its pid file (the tests
started it), and the users' fixture checks that nothing of them is left: no process, no mount, no
file of theirs (or of their subordinate ids) outside their own dirs.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time

import pytest

from tests.rootlesskit import RANGE, User, make_user, needs_uidmap, tun_for_users as shared_tun

pytestmark = needs_uidmap

NONE = ("--network", "none")


def _pause_pid(runroot: str) -> int | None:
    try:
        with open(os.path.join(runroot, "pause.pid")) as f:
            return int(f.read())
    except FileNotFoundError:
        return None


def stop_pause(runroot: str) -> None:
    """Stop the user's pause process (ours: the tests started it) and wait until it is gone."""
    pid = _pause_pid(runroot)
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break  # gone: its new parent reaps it
        except FileNotFoundError:
            break
        time.sleep(0.05)


def runroot(user: User) -> str:
    return os.path.join(user.xdg, "mydocker")


def data_root(user: User) -> str:
    return os.path.join(user.home, ".local", "share", "mydocker")


@pytest.fixture(scope="module")
def alice():
    with make_user("mdrla") as u:
        try:
            yield u
        finally:
            u.mydocker("rm", "-f", *u.mydocker("ps", "-aq").stdout.split())
            stop_pause(runroot(u))


@pytest.fixture(scope="module")
def bob():
    with make_user("mdrlb") as u:
        try:
            yield u
        finally:
            u.mydocker("rm", "-f", *u.mydocker("ps", "-aq").stdout.split())
            stop_pause(runroot(u))


def ok(done) -> str:
    assert done.returncode == 0, (done.args[-6:], done.stdout, done.stderr)
    return done.stdout


def test_run_rm_is_root_inside_with_the_users_range(alice):
    out = ok(alice.mydocker("run", "--rm", *NONE, "busybox", "sh", "-c", "id -u; id -g; cat /proc/self/uid_map"))
    lines = out.split("\n")
    assert lines[:2] == ["0", "0"], out
    assert lines[2].split() == ["0", str(alice.uid), "1"], out
    assert lines[3].split() == ["1", str(alice.sub_base), str(RANGE)], out
    # the user's own dirs, private; the containers' processes ran as the user on the host
    for path in (data_root(alice), runroot(alice)):
        info = os.stat(path)
        assert (info.st_uid, info.st_mode & 0o777) == (alice.uid, 0o700), path
    pause = _pause_pid(runroot(alice))
    assert pause and os.stat(f"/proc/{pause}").st_uid == alice.uid
    with open(f"/proc/{pause}/uid_map") as f:
        assert f.read().split() == ["0", str(alice.uid), "1", "1", str(alice.sub_base), str(RANGE)]


def test_image_layers_belong_to_the_users_range(alice):
    """Unpacked inside the user namespace: a layer's root-owned file is the user's on the host, and
    nothing of it is the host's root's."""
    ok(alice.mydocker("run", "--rm", *NONE, "busybox", "true"))
    layers = os.path.join(data_root(alice), "image", "layers")
    owners = set()
    for top, dirs, files in os.walk(layers):
        for name in dirs + files:
            owners.add(os.lstat(os.path.join(top, name)).st_uid)
    assert owners and all(o == alice.uid or alice.sub_base <= o < alice.sub_base + RANGE for o in owners), owners


def test_volume_files_belong_to_the_user_on_the_host(alice):
    www = os.path.join(alice.home, "www")
    ok(alice.mydocker("run", "--rm", *NONE, "-v", f"{www}:/www", "-v", "data:/data", "busybox", "sh", "-c",
                      "echo hi > /www/index.html; echo x > /data/f; touch /www/other; chown 1000:1000 /www/other"))
    assert os.stat(os.path.join(www, "index.html")).st_uid == alice.uid
    other = os.stat(os.path.join(www, "other"))
    assert (other.st_uid, other.st_gid) == (alice.sub_base + 999, alice.sub_base + 999)
    volume = json.loads(ok(alice.mydocker("volume", "inspect", "data")))[0]["Mountpoint"]
    assert volume.startswith(data_root(alice) + "/")
    assert os.stat(os.path.join(volume, "f")).st_uid == alice.uid
    ok(alice.mydocker("volume", "rm", "data"))


def test_detached_exec_logs_stop_rm(alice):
    cid = ok(alice.mydocker("run", "-d", "--name", "web", *NONE, "busybox", "sh", "-c",
                            "trap 'exit 3' TERM; echo started; while true; do sleep 0.1; done")).strip()
    assert ok(alice.mydocker("ps", "--format", "{{.Names}} {{.Status}}")).startswith("web Up")
    deadline = time.monotonic() + 10
    while "started" not in alice.mydocker("logs", "web").stdout:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert ok(alice.mydocker("exec", "web", "sh", "-c", "id -u; cat /proc/1/cmdline | head -c 2")) == "0\nsh"
    state = json.loads(ok(alice.mydocker("inspect", "web")))[0]["State"]
    assert state["Running"] and os.stat(f"/proc/{state['Pid']}").st_uid == alice.uid
    ok(alice.mydocker("stop", "web"))
    assert json.loads(ok(alice.mydocker("inspect", "web")))[0]["State"]["ExitCode"] == 3
    ok(alice.mydocker("rm", "web"))
    assert cid not in alice.mydocker("ps", "-aq", "--no-trunc").stdout
    assert os.listdir(os.path.join(data_root(alice), "containers")) == []


def test_build_save_load(alice):
    context = os.path.join(alice.home, "ctx")
    os.mkdir(context)
    with open(os.path.join(context, "Dockerfile"), "w") as f:
        f.write('FROM busybox\nRUN mkdir /app && echo built > /app/x && chown 1000:1000 /app/x\n'
                'CMD ["sh", "-c", "cat /app/x; stat -c %u /app/x"]\n')
    os.chown(context, alice.uid, alice.gid)
    os.chown(os.path.join(context, "Dockerfile"), alice.uid, alice.gid)
    ok(alice.mydocker("build", *NONE, "-t", "app", context))
    assert ok(alice.mydocker("run", "--rm", *NONE, "app")) == "built\n1000\n"
    archive = os.path.join(alice.home, "app.tar")
    ok(alice.mydocker("save", "-o", archive, "app"))
    assert os.stat(archive).st_uid == alice.uid
    ok(alice.mydocker("rmi", "app"))
    ok(alice.mydocker("load", "-i", archive))
    assert ok(alice.mydocker("run", "--rm", "--network", "host", "app")) == "built\n1000\n"
    ok(alice.mydocker("rmi", "app"))


@pytest.mark.parametrize("flag", [["-m", "64m"], ["--cpus", "0.5"], ["--pids-limit", "10"], ["--cpuset-cpus", "0"],
                                  ["--userns", "remap"]])
def test_a_resource_flag_is_refused_in_one_line(alice, flag):
    done = alice.mydocker("run", "--rm", *NONE, *flag, "busybox", "true")
    assert done.returncode == 125
    assert len(done.stderr.strip().split("\n")) == 1, done.stderr
    assert flag[0] in done.stderr and "rootless" in done.stderr, done.stderr
    if flag[0] != "--userns":
        assert "cgroup" in done.stderr and "delegated" in done.stderr, done.stderr
    assert ok(alice.mydocker("ps", "-aq")) == ""
    assert os.listdir(os.path.join(data_root(alice), "containers")) == []


def test_update_of_a_limit_is_refused_in_one_line_and_a_restart_policy_taken(alice):
    ok(alice.mydocker("create", "--name", "upd", *NONE, "busybox", "true"))
    try:
        done = alice.mydocker("update", "-m", "64m", "upd")
        assert done.returncode == 1 and len(done.stderr.strip().split("\n")) == 1, done.stderr
        assert "--memory" in done.stderr and "rootless" in done.stderr, done.stderr
        assert ok(alice.mydocker("update", "--restart", "always", "upd")) == "upd\n"
        assert ok(alice.mydocker("inspect", "-f", "{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.Memory}}",
                                 "upd")) == "always 0\n"
    finally:
        alice.mydocker("rm", "-f", "upd")


def test_pids_limit_unlimited_asks_for_nothing(alice):
    ok(alice.mydocker("run", "--rm", *NONE, "--pids-limit", "-1", "busybox", "true"))


def test_info_names_the_driver_and_mapping(alice):
    info = json.loads(ok(alice.mydocker("info", "--format", "{{json .}}")))
    assert info["Rootless"] is True and info["Driver"] in ("overlay", "vfs")
    assert info["IDMappings"]["UIDMap"] == [[0, alice.uid, 1], [1, alice.sub_base, RANGE]]
    assert info["DockerRootDir"] == data_root(alice) and info["RunRoot"] == runroot(alice)
    text = ok(alice.mydocker("info"))
    assert f"Storage Driver: {info['Driver']}" in text and "Rootless: true" in text


def test_a_dead_pause_process_is_replaced(alice):
    ok(alice.mydocker("ps"))
    old = _pause_pid(runroot(alice))
    stop_pause(runroot(alice))
    assert ok(alice.mydocker("run", "--rm", *NONE, "busybox", "id", "-u")) == "0\n"
    new = _pause_pid(runroot(alice))
    assert new and new != old


def test_a_dead_pause_process_with_a_container_running(alice):
    """The namespaces (and the container's overlay mount) live on in the container's monitor: the
    next command joins them, so exec and rm still work and the mount goes with rm."""
    ok(alice.mydocker("run", "-d", "--name", "survivor", *NONE, "busybox", "sleep", "300"))
    stop_pause(runroot(alice))
    assert ok(alice.mydocker("exec", "survivor", "id", "-u")) == "0\n"
    pause = _pause_pid(runroot(alice))
    monitor = int(open(os.path.join(runroot(alice), "monitor.lock")).read())
    assert os.readlink(f"/proc/{pause}/ns/mnt") == os.readlink(f"/proc/{monitor}/ns/mnt")
    with open(f"/proc/{pause}/mountinfo") as f:
        assert sum(data_root(alice) in line for line in f) == 1  # the container's rootfs
    ok(alice.mydocker("rm", "-f", "survivor"))
    with open(f"/proc/{pause}/mountinfo") as f:
        assert not any(data_root(alice) in line for line in f)


def test_two_users_are_isolated(alice, bob):
    ok(alice.mydocker("run", "-d", "--name", "secret", *NONE, "busybox", "sleep", "300"))
    try:
        assert ok(bob.mydocker("ps", "-a", "--format", "{{.Names}}")) == ""
        ok(bob.mydocker("run", "--rm", *NONE, "busybox", "true"))  # its own root, its own busybox
        assert ok(bob.mydocker("ps", "-a", "--format", "{{.Names}}")) == ""
        # alice's roots are closed to bob (0700), and bob's pause is not alice's
        peek = bob.mydocker("--root", data_root(alice), "--runroot", runroot(alice), "ps")
        assert peek.returncode == 1 and len(peek.stderr.strip().split("\n")) == 1, peek.stderr
        assert bob.run("ls", data_root(alice)).returncode != 0
        assert _pause_pid(runroot(alice)) != _pause_pid(runroot(bob))
        # bob's container sees none of alice's processes
        mine = ok(bob.mydocker("run", "--rm", "--network", "host", "busybox", "sh", "-c",
                               "ls /proc | grep -c '^[0-9]'"))
        assert int(mine) <= 3
    finally:
        ok(alice.mydocker("rm", "-f", "secret"))


def test_without_xdg_runtime_dir_a_private_dir_in_tmp(bob):
    fallback = f"/tmp/mydocker-{bob.uid}"
    assert not os.path.exists(fallback)
    try:
        assert ok(bob.run(os.path.join(bob.bindir, "mydocker"), "run", "--rm", *NONE, "busybox", "true",
                          xdg=False)) == ""
        info = os.stat(fallback)
        assert (info.st_uid, info.st_mode & 0o777) == (bob.uid, 0o700)
    finally:
        stop_pause(fallback)
        import shutil
        shutil.rmtree(fallback, ignore_errors=True)
    os.mkdir(fallback, 0o755)  # someone else's (root's) directory there first: refused, nothing made
    try:
        done = bob.run(os.path.join(bob.bindir, "mydocker"), "ps", xdg=False)
        assert done.returncode == 1 and len(done.stderr.strip().split("\n")) == 1, done.stderr
        assert fallback in done.stderr and "belongs to uid 0" in done.stderr, done.stderr
        assert os.listdir(fallback) == []
    finally:
        os.rmdir(fallback)


def test_single_id_mapping_without_a_range():
    """No /etc/subuid range: the user's own id alone, and one note saying what then cannot work."""
    with make_user("mdrln", ranges=False) as carol:
        try:
            done = carol.mydocker("run", "--rm", *NONE, "busybox", "cat", "/proc/self/uid_map")
            assert done.stdout.split() == ["0", str(carol.uid), "1"], (done.stdout, done.stderr)
            assert done.returncode == 0, done.stderr
            assert "/etc/subuid" in done.stderr and len(done.stderr.strip().split("\n")) == 1, done.stderr
            assert "/etc/subuid" not in carol.mydocker("ps").stderr  # noted once, when the namespace is made
        finally:
            stop_pause(runroot(carol))


def test_push_and_pull_through_a_registry_on_loopback(alice, tmp_path):
    from tests.registry import Registry
    registry = Registry(str(tmp_path))
    try:
        ref = f"{registry.host}/rootless/bb:1"
        ok(alice.mydocker("tag", "busybox", ref))
        ok(alice.mydocker("push", ref))
        ok(alice.mydocker("rmi", ref))
        ok(alice.mydocker("pull", ref))
        assert ok(alice.mydocker("run", "--rm", *NONE, ref, "id", "-u")) == "0\n"
        ok(alice.mydocker("rmi", ref))
    finally:
        registry.stop()


@pytest.fixture
def tun_for_users():
    """/dev/net/tun opened by every user-mode stack: 0666 for the test (this host makes it 0600),
    its mode restored after."""
    with shared_tun():  # shared with other test sessions running at once
        yield


def test_default_network_publishes_a_port_on_the_host(alice, tun_for_users):
    import urllib.request
    from tests.registry import free_port
    www = os.path.join(alice.home, "site")
    os.mkdir(www)
    with open(os.path.join(www, "index.html"), "w") as f:
        f.write("rootless web\n")
    port = free_port()
    ok(alice.mydocker("run", "-d", "--name", "web", "-p", f"{port}:80", "-v", f"{www}:/www:ro", "busybox",
                      "httpd", "-f", "-p", "80", "-h", "/www"))
    try:
        assert ok(alice.mydocker("port", "web")).strip() == f"80/tcp -> 0.0.0.0:{port}"
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as reply:
                    assert reply.read() == b"rootless web\n"
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
    finally:
        ok(alice.mydocker("rm", "-f", "web"))
    assert os.listdir(os.path.join(runroot(alice), "usermode")) == []
    assert os.listdir(os.path.join(runroot(alice), "netns")) == []


def test_default_network_reaches_a_server_on_the_hosts_loopback(alice, tun_for_users):
    """10.0.2.2 is the host's loopback through the stack. The container speaks first and stops
    reading after one line: this pasta (passt 0.0~git20230309) sometimes loses the host's FIN (and
    has been seen to repeat data) towards the container, so nc would wait for an EOF forever."""
    import socket
    import threading
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    said = []

    def serve():
        server.settimeout(20)
        try:
            conn, _ = server.accept()
            with conn:
                said.append(conn.recv(100))
                conn.sendall(b"from the host\n")
        except OSError:
            pass
    thread = threading.Thread(target=serve)
    thread.start()
    try:
        out = ok(alice.mydocker("run", "--rm", "busybox", "sh", "-c",
                                f"echo from-the-container | timeout 5 nc 10.0.2.2 {port} > /tmp/reply; "
                                "head -n 1 /tmp/reply; cat /etc/resolv.conf"))
    finally:
        thread.join()
        server.close()
    assert out.startswith("from the host\n"), out
    assert said == [b"from-the-container\n"]
    assert "nameserver 10.0.2.3" in out
    assert os.listdir(os.path.join(runroot(alice), "netns")) == []


DOCKER = "/usr/local/bin/docker"   # the docker CLI 28


@contextlib.contextmanager
def api_service(user: User, log_path: str):
    """`mydocker system service` run by the user on its default socket, $XDG_RUNTIME_DIR/mydocker/docker.sock;
    yields the command line prefix that runs the docker CLI against it (DOCKER_HOST, a DOCKER_CONFIG of
    the user's own). On exit the service is stopped by SIGTERM and must exit 0 and remove its socket;
    containers left running are removed and the user's pause process stopped."""
    if not os.path.exists(DOCKER):
        pytest.skip(f"needs the docker CLI 28 at {DOCKER}")
    sock = os.path.join(runroot(user), "docker.sock")
    config = os.path.join(user.home, "docker-config")
    os.makedirs(config, 0o700, exist_ok=True)
    os.chown(config, user.uid, user.gid)
    log = open(log_path, "w+")
    service = subprocess.Popen(["setpriv", "--reuid", str(user.uid), "--regid", str(user.gid), "--init-groups",
                                "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", f"HOME={user.home}",
                                f"XDG_RUNTIME_DIR={user.xdg}", os.path.join(user.bindir, "mydocker"),
                                "system", "service", "--time", "0"],
                               cwd=user.home, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(sock):
            assert service.poll() is None and time.monotonic() < deadline, open(log_path).read()
            time.sleep(0.05)
        assert os.stat(sock).st_uid == user.uid and os.stat(sock).st_mode & 0o777 == 0o660
        yield ("env", f"DOCKER_HOST=unix://{sock}", f"DOCKER_CONFIG={config}", DOCKER)
    finally:
        service.send_signal(signal.SIGTERM)
        try:
            code = service.wait(30)
        finally:
            user.mydocker("rm", "-f", *user.mydocker("ps", "-aq").stdout.split())
            stop_pause(runroot(user))
            log.close()
    assert code == 0, open(log_path).read()
    assert not os.path.exists(sock)


def test_the_api_service_of_an_ordinary_user(tmp_path):
    """`mydocker system service` run by a user listens on $XDG_RUNTIME_DIR/mydocker/docker.sock (podman's
    rootless default is under XDG_RUNTIME_DIR too) and serves the engine the user's CLI sees; the
    docker CLI 28 drives it; once stopped it leaves nothing behind (make_user checks the rest)."""
    with make_user("mdrls") as user, api_service(user, str(tmp_path / "service.log")) as docker:
        out = ok(user.run(*docker, "run", "--rm", "--network", "none", "busybox", "id", timeout=120))
        assert out.startswith("uid=0(root) gid=0(root)"), out
        ok(user.run(*docker, "run", "-d", "--name", "seen", "--network", "none", "busybox", "sleep", "300"))
        names = ok(user.run(*docker, "ps", "--format", "{{.Names}}")).split()
        assert names == ["seen"], names
        assert ok(user.mydocker("ps", "--format", "{{.Names}}")).split() == ["seen"]  # the CLI's engine
        ok(user.run(*docker, "rm", "-f", "seen"))
        assert ok(user.run(*docker, "ps", "-aq")) == ""


def test_a_user_network_through_the_api_service_of_an_ordinary_user(tmp_path, tun_for_users):
    """The docker CLI against a user's service: a user network made, two containers on it, one reaching
    the other by name (the embedded resolver in the user's rootless netns), the network removed; then
    nothing is left: no network, no rootless netns, no process or file of the user's (make_user)."""
    with make_user("mdrlw") as user:
        with api_service(user, str(tmp_path / "service.log")) as docker:
            assert ok(user.run(*docker, "network", "create", "apinet")).strip()
            try:
                web = ok(user.run(*docker, "run", "-d", "--name", "web", "--network", "apinet", "busybox",
                                  "httpd", "-f", "-p", "80", "-h", "/etc", timeout=120)).strip()
                fetch = "printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 5 web 80 | tail -n 1"
                out = ok(user.run(*docker, "run", "--rm", "--network", "apinet", "busybox", "sh", "-c", fetch,
                                  timeout=120))
                assert out.strip() == web[:12], out   # web's /etc/hostname, reached by its name
                ok(user.run(*docker, "rm", "-f", "web"))
            finally:
                user.run(*docker, "rm", "-f", "web")
            assert ok(user.run(*docker, "network", "rm", "apinet")).strip() == "apinet"
            names = ok(user.run(*docker, "network", "ls", "--format", "{{.Name}}")).split()
            assert "apinet" not in names, names
            assert ok(user.run(*docker, "ps", "-aq")) == ""
        netns = os.path.join(runroot(user), "rootless-netns")
        deadline = time.monotonic() + 10   # its stack is signalled, not waited for (no port was published)
        while os.path.exists(netns) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not os.path.exists(netns), os.listdir(netns)

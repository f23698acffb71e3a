"""The rootless default network's user-mode stack (mydocker/network/usermode.py), driven by a throwaway
ordinary user (tests/rootlesskit.py) through tests/integration/usermode_probe.py.

As the rootless engine runs it (root of the user's own user and mount namespaces, in the host's
netns), the probe pins a netns, starts the stack and proves: a connection from the netns to a server
this test runs on the host's 127.0.0.1; a published port on the host's 127.0.0.1 reaching a server
inside the netns; the stack gone once the netns's pin is removed. Also from outside the user
namespace (paths of a holder process), a start that cannot publish its port (nothing left running),
and /dev/net/tun at this host's 0600 giving exactly one line with the fix. Traffic goes only to
loopback and into the probe's namespaces.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading

import pytest

from tests.rootlesskit import PYTHON, describe, make_user, needs_uidmap, processes_left, tun_for_users

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROBE = os.path.join(REPO, "tests", "integration", "usermode_probe.py")
TUN_DENIED = ('open("/dev/net/tun"): Permission denied: rootless networking needs the device readable and '
              'writable by users: run (as root) chmod 0666 /dev/net/tun')

pytestmark = [needs_uidmap, pytest.mark.skipif(not shutil.which("slirp4netns") or not shutil.which("unshare"),
                                               reason="needs slirp4netns and util-linux's unshare")]


@pytest.fixture(scope="session")
def tun():
    """The tun device open to users for the session (this host makes it 0600); its mode restored after."""
    with tun_for_users():
        yield


@pytest.fixture
def user():  # one per test: a test's leftover process fails that test alone
    with make_user("mdnet") as u:
        yield u


@pytest.fixture
def workdir(user):
    directory = tempfile.mkdtemp(prefix="usermode-", dir=user.home)
    os.chown(directory, user.uid, user.gid)
    yield directory
    shutil.rmtree(directory)


def probe(user, *args, wrap: list[str] = (), in_userns: bool = True) -> dict:
    argv = [*(["unshare", "--user", "--map-root-user", "--mount"] if in_userns else []),
            "env", f"PYTHONPATH={REPO}", PYTHON, PROBE, *map(str, args)]
    done = user.run(*argv, timeout=60) if not wrap else _run_wrapped(user, wrap, argv)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _run_wrapped(user, wrap: list[str], argv: list[str]) -> subprocess.CompletedProcess:
    """`wrap` (run as root) execs the user's command line, which it gets as "$@"."""
    command = ["setpriv", "--reuid", str(user.uid), "--regid", str(user.gid), "--init-groups", "env", "-i",
               "PATH=/usr/sbin:/usr/bin:/sbin:/bin", f"HOME={user.home}", f"XDG_RUNTIME_DIR={user.xdg}", *argv]
    return subprocess.run([*wrap, *command], cwd=user.home, capture_output=True, text=True, timeout=60)


class GreetingServer:
    """A TCP server on the host's 127.0.0.1 that greets each client with b"host\\n"."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"host\n")

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)


@pytest.fixture
def greeter():
    server = GreetingServer()
    yield server
    server.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_outbound_inbound_and_gone_with_the_netns(user, tun, workdir, greeter):
    report = probe(user, "inside", workdir, greeter.port, free_port())
    assert report["comm"] == "slirp4netns", report
    assert report["outbound"] == "host\n" * 5, report  # netns -> 10.0.2.2 -> the host's 127.0.0.1, to its close
    assert report["inbound"] == "inside\n", report     # the host's 127.0.0.1:port -> the netns's :80
    assert report["server"] == 0
    assert report["state_left"] == ["slirp4netns.log"], report  # its API socket is gone once ports are set
    assert report["gone"] is True, report              # exited by itself once the pin was removed
    left = processes_left(user.uid)
    assert not left, describe(left)


@pytest.fixture
def holder(user):
    """A process of the user's holding a new user namespace and netns (`unshare ... sleep`)."""
    process = subprocess.Popen(["setpriv", "--reuid", str(user.uid), "--regid", str(user.gid), "--init-groups",
                                "unshare", "--user", "--map-root-user", "--net", "sleep", "300"])
    try:
        for _ in range(500):  # ours once it runs sleep in its own netns
            if os.readlink(f"/proc/{process.pid}/ns/net") != os.readlink("/proc/self/ns/net") and \
                    open(f"/proc/{process.pid}/comm").read().strip() == "sleep":
                break
            threading.Event().wait(0.02)
        yield process.pid
    finally:
        process.kill()
        process.wait()


def test_from_outside_the_user_namespace_gone_with_the_holder(user, tun, workdir, greeter, holder):
    """userns given: the stack joins the holder's user namespace itself, and goes when the holder does."""
    report = probe(user, "outside", workdir, greeter.port, holder, in_userns=False)
    assert report["comm"] == "slirp4netns", report
    assert report["outbound"] == "host\n" * 5, report
    assert report["gone"] is True, report
    left = [pid for pid in processes_left(user.uid) if pid != holder]  # the killed holder is our zombie
    assert not left, left                 # its keeper went too


def test_stop_ends_the_stack_and_its_keeper(user, tun, workdir, holder):
    assert probe(user, "stopped", workdir, holder, in_userns=False) == {"gone": True}
    left = [pid for pid in processes_left(user.uid) if pid != holder]
    assert not left, describe(left)


def test_a_failed_start_leaves_nothing_running(user, tun, workdir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        report = probe(user, "busy", workdir, port)
    assert report["error"].startswith(f"cannot publish 127.0.0.1:{port} -> 80/tcp: "), report
    assert report["error"].endswith(": choose another host port") and "\n" not in report["error"], report
    assert report["state_left"] == ["slirp4netns.log"]
    left = processes_left(user.uid, wait=2)
    assert not left, describe(left)


def test_tun_at_0600_is_one_line_with_the_fix(user, workdir, tmp_path):
    """This host's own mode (0600, root's), on a node of the same device bound over /dev/net/tun in a
    private mount namespace: the real device's mode is left to the other tests."""
    node = tmp_path / "tun"
    subprocess.run(["mknod", "-m", "0600", str(node), "c", "10", "200"], check=True)
    wrap = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            f'mount --bind {node} /dev/net/tun && exec "$@"', "sh"]
    report = probe(user, "tun", workdir, wrap=wrap)
    assert report["check"] == TUN_DENIED                # check_tun(), before the stack starts
    assert report["start"] == TUN_DENIED                # and the same line when pasta dies of it
    left = processes_left(user.uid, wait=2)
    assert not left, describe(left)

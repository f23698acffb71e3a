"""The rootless default network through the CLI (issue 19): an ordinary user's container reaches a
server on the host's loopback through the user-mode stack (mydocker/network/usermode.py), its stack
goes with the container, and a tun device users cannot open is one line with the fix, exit 125.

Throwaway users from tests/rootlesskit.py; traffic only to the host's loopback.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time

import pytest

from tests.e2e.test_rootless_engine import ok, runroot, stop_pause
from tests.integration.test_usermode_network import TUN_DENIED, free_port, greeter, tun  # noqa: F401 (fixtures)
from tests.rootlesskit import make_user, needs_uidmap, processes_left

pytestmark = needs_uidmap


@pytest.fixture(scope="module")
def dana():
    with make_user("mdrln") as u:
        try:
            yield u
        finally:
            u.mydocker("rm", "-f", *u.mydocker("ps", "-aq").stdout.split())
            stop_pause(runroot(u))


def _stacks_of(uid: int) -> list[int]:
    """The user's live stack processes, slirp4netns and its keeper (an exited one is a zombie until the
    host's init reaps it)."""
    found = []
    for pid in processes_left(uid, wait=0):
        try:
            with open(f"/proc/{pid}/stat") as f:
                comm, _, rest = f.read().partition(" (")[2].rpartition(") ")
            if comm in ("slirp4netns", "md-slirp-keeper") and rest.split()[0] != "Z":
                found.append(pid)
        except FileNotFoundError:
            pass
    return found


def _comm(pid: int) -> str:
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


def _pss_kb(pid: int) -> int:
    """The process's proportional set size: its private memory plus its share of what it shares."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Pss:"))


def _no_stacks_soon(uid: int) -> bool:
    deadline = time.monotonic() + 10
    while _stacks_of(uid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _stacks_of(uid)


def test_container_reaches_the_hosts_loopback(dana, tun, greeter):
    out = ok(dana.mydocker("run", "--rm", "busybox", "sh", "-c",
                           f"nc -w 5 10.0.2.2 {greeter.port}; ip -4 -o addr show eth0; ip route; "
                           "grep nameserver /etc/resolv.conf"))
    lines = out.split("\n")
    assert lines[0] == "host", out
    assert "10.0.2.100/24" in lines[1], out
    assert "default via 10.0.2.2 dev eth0" in out and "nameserver 10.0.2.3" in out, out
    assert _no_stacks_soon(dana.uid)  # --rm: its stack goes with it (signalled, not waited for: no ports)


def test_a_detached_containers_stack_goes_with_rm(dana, tun):
    port = free_port()
    ok(dana.mydocker("run", "-d", "--name", "web", "-p", f"127.0.0.1:{port}:80", "busybox",
                     "httpd", "-f", "-p", "80"))
    try:
        stacks = _stacks_of(dana.uid)
        assert len(stacks) == 2, stacks   # slirp4netns and its keeper
        keeper = [pid for pid in stacks if _comm(pid) == "md-slirp-keeper"]
        assert len(keeper) == 1, stacks
        deadline = time.monotonic() + 20   # a fork of the engine for its first 2 s, then the tiny program
        while b"slirp_keeper.py" not in open(f"/proc/{keeper[0]}/cmdline", "rb").read():
            assert time.monotonic() < deadline, "the keeper never exec'd network/slirp_keeper.py"
            time.sleep(0.1)
        pss = _pss_kb(keeper[0])
        print(f"keeper pss {pss} kB")
        assert pss < 6144, f"the keeper holds {pss} kB (PSS) per container"  # 3-4.3 MB seen; a fork of the engine: 12.8
    finally:
        ok(dana.mydocker("rm", "-f", "web"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))       # the stack was waited for: its port is free again
    assert _no_stacks_soon(dana.uid)


def test_tun_at_0600_is_one_line_and_exit_125(tmp_path):
    """A user whose namespaces (its pause process's) see this host's 0600 device: a node of it bound over
    /dev/net/tun in a private mount namespace, so the real device's mode is left to the other tests."""
    node = tmp_path / "tun"
    subprocess.run(["mknod", "-m", "0600", str(node), "c", "10", "200"], check=True)
    with make_user("mdrlt") as user:
        try:
            command = ["setpriv", "--reuid", str(user.uid), "--regid", str(user.gid), "--init-groups", "env", "-i",
                       "PATH=/usr/sbin:/usr/bin:/sbin:/bin", f"HOME={user.home}", f"XDG_RUNTIME_DIR={user.xdg}",
                       os.path.join(user.bindir, "mydocker"), "run", "--rm", "busybox", "true"]
            done = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                   f'mount --bind {node} /dev/net/tun && exec "$@"', "sh", *command],
                                  cwd=user.home, capture_output=True, text=True, timeout=120)
            assert (done.returncode, done.stderr) == (125, f"mydocker: {TUN_DENIED}\n"), done
            assert ok(user.mydocker("ps", "-aq")) == ""  # nothing half-made
            assert os.listdir(os.path.join(runroot(user), "netns")) == []
        finally:
            stop_pause(runroot(user))

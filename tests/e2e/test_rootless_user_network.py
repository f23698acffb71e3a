"""User networks of a rootless engine (issue 19): an ordinary user's containers reach each other by
address and by name on a network of their own, inside the user's rootless netns
(engine/network_rootless.py), with outbound access and -p through its one slirp4netns; all of it
goes when the last container leaves; two users' networks never meet, even with the same subnet.

Throwaway users from tests/rootlesskit.py; traffic only to the host's loopback and inside the users'
own namespaces.
"""

from __future__ import annotations

import os
import socket
import time
import urllib.request

import pytest

from tests.e2e.test_rootless_engine import ok, runroot, stop_pause
from tests.e2e.test_rootless_network import _stacks_of
from tests.integration.test_usermode_network import free_port, greeter, tun  # noqa: F401 (fixtures)
from tests.rootlesskit import make_user, needs_uidmap

pytestmark = needs_uidmap

HTTPD = ("busybox", "httpd", "-f", "-p", "80", "-h", "/etc")   # serves /etc/hostname: the container's id


def _cleanup(u) -> None:
    u.mydocker("rm", "-f", *u.mydocker("ps", "-aq").stdout.split())
    for name in u.mydocker("network", "ls", "--format", "{{.Name}}").stdout.split():
        if name not in ("bridge", "host", "none"):
            u.mydocker("network", "rm", name)
    stop_pause(runroot(u))


@pytest.fixture(scope="module")
def erin():
    with make_user("mdrlu") as u:
        try:
            yield u
        finally:
            _cleanup(u)


@pytest.fixture(scope="module")
def fred():
    with make_user("mdrlv") as u:
        try:
            yield u
        finally:
            _cleanup(u)


def _rootless_netns(u) -> str:
    return os.path.join(runroot(u), "rootless-netns")


def _gone_soon(u) -> bool:
    """No rootless netns (pin, stack files) and no stack process of the user's left."""
    deadline = time.monotonic() + 10
    while (_stacks_of(u.uid) or os.path.exists(_rootless_netns(u))) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _stacks_of(u.uid) and not os.path.exists(_rootless_netns(u))


def _get(container: str) -> str:
    """A shell line that fetches /hostname from `container` port 80 (busybox's wget crashes on names here)."""
    return f"printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {container} 80 | tail -n 1"


def test_containers_of_a_user_network_reach_each_other_by_ip_and_name(erin, tun, greeter):
    ok(erin.mydocker("network", "create", "apps"))
    listed = ok(erin.mydocker("network", "ls", "--format", "{{.Name}} {{.Driver}}")).split("\n")
    assert "apps bridge" in listed, listed
    port = free_port()
    web = ok(erin.mydocker("run", "-d", "--name", "web", "--network", "apps", "-p", f"127.0.0.1:{port}:80",
                           *HTTPD)).strip()
    try:
        inspect = ok(erin.mydocker("network", "inspect", "apps", "--format",
                                   "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}")).strip()
        name, address = inspect.split()
        assert name == "web" and address.endswith("/24"), inspect
        ip = address.split("/")[0]
        assert os.path.exists(os.path.join(_rootless_netns(erin), "net"))
        assert len(_stacks_of(erin.uid)) == 2, _stacks_of(erin.uid)   # one slirp4netns (and keeper) for the user
        out = ok(erin.mydocker("run", "--rm", "--network", "apps", "busybox", "sh", "-c",
                               f"{_get(ip)}; {_get('web')}; nc -w 5 10.0.2.2 {greeter.port}; "
                               "grep -e nameserver -e ExtServers /etc/resolv.conf"))
        lines = out.split("\n")
        assert lines[:3] == [web[:12], web[:12], "host"], out        # by address, by name (embedded DNS), outbound
        gateway = ok(erin.mydocker("network", "inspect", "apps", "--format",
                                   "{{range .IPAM.Config}}{{.Gateway}}{{end}}")).strip()
        assert lines[3] == f"nameserver {gateway}", out
        assert lines[4] == "# ExtServers: [10.0.2.3]", out    # where its resolver forwards: slirp4netns's DNS
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/hostname", timeout=10) as reply:   # -p from the host
            assert reply.read().decode().strip() == web[:12]
        assert ok(erin.mydocker("port", "web")).strip() == f"80/tcp -> 127.0.0.1:{port}"
        refused = erin.mydocker("network", "rm", "apps")
        assert refused.returncode == 1 and "active endpoints (web)" in refused.stderr, refused
    finally:
        ok(erin.mydocker("rm", "-f", "web"))
    assert _gone_soon(erin), (_stacks_of(erin.uid), os.listdir(runroot(erin)))   # the last container left
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)      # past our connection's TIME_WAIT
        s.bind(("127.0.0.1", port))
        s.listen()                                                    # its forward's listener is gone
    assert ok(erin.mydocker("network", "rm", "apps")).strip() == "apps"
    assert "apps" not in ok(erin.mydocker("network", "ls"))


def test_connect_and_disconnect_a_running_container(erin, tun):
    ok(erin.mydocker("network", "create", "front"))
    ok(erin.mydocker("network", "create", "back"))
    try:
        db = ok(erin.mydocker("run", "-d", "--name", "db", "--network", "back", *HTTPD)).strip()
        ok(erin.mydocker("run", "-d", "--name", "app", "--network", "front", "busybox", "sleep", "600"))
        cut = erin.mydocker("exec", "app", "sh", "-c", _get("db"))
        assert cut.stdout.strip() != db[:12], cut                     # networks are isolated from each other
        ok(erin.mydocker("network", "connect", "back", "app"))
        assert ok(erin.mydocker("exec", "app", "sh", "-c", _get("db"))).strip() == db[:12]
        assert "eth1" in ok(erin.mydocker("exec", "app", "ip", "-o", "link"))
        ok(erin.mydocker("network", "disconnect", "back", "app"))
        assert "eth1" not in ok(erin.mydocker("exec", "app", "ip", "-o", "link"))
        ok(erin.mydocker("rm", "-f", "db"))
        assert os.path.exists(os.path.join(_rootless_netns(erin), "net"))   # app is still on front
        ok(erin.mydocker("network", "disconnect", "front", "app"))          # on no network: the netns goes
        assert _gone_soon(erin)
        ok(erin.mydocker("network", "connect", "front", "app"))             # and comes back for it
        assert "eth0" in ok(erin.mydocker("exec", "app", "ip", "-o", "link"))
        ok(erin.mydocker("run", "-d", "--name", "db", "--network", "front", *HTTPD))
        assert ok(erin.mydocker("exec", "app", "sh", "-c", _get("db"))).strip() != ""
    finally:
        erin.mydocker("rm", "-f", "db", "app")
    assert _gone_soon(erin)
    ok(erin.mydocker("network", "rm", "front", "back"))


def test_two_users_networks_never_meet(erin, fred, tun):
    """The same subnet and address for both users: each reaches its own container, in its own netns."""
    ids = {}
    try:
        for u in (erin, fred):
            ok(u.mydocker("network", "create", "--subnet", "10.77.0.0/24", "same"))
            ids[u.name] = ok(u.mydocker("run", "-d", "--name", "srv", "--network", "same", "--ip", "10.77.0.9",
                                        *HTTPD)).strip()
        for u in (erin, fred):
            got = ok(u.mydocker("run", "--rm", "--network", "same", "busybox", "sh", "-c", _get("10.77.0.9"))).strip()
            assert got == ids[u.name][:12], (u.name, got, ids)
            assert "same" in ok(u.mydocker("network", "ls"))
        assert os.stat(_rootless_netns(erin)).st_ino != os.stat(_rootless_netns(fred)).st_ino
    finally:
        for u in (erin, fred):
            u.mydocker("rm", "-f", "srv")
    for u in (erin, fred):
        assert _gone_soon(u)
        ok(u.mydocker("network", "rm", "same"))


def test_what_a_rootless_user_network_cannot_be(erin, tun):
    done = erin.mydocker("network", "create", "--driver", "overlay", "ov")
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "use --driver bridge" in done.stderr, done
    done = erin.mydocker("network", "create", "--subnet", "10.0.2.0/24", "clash")
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done
    ok(erin.mydocker("network", "create", "solo"))
    try:
        ok(erin.mydocker("run", "-d", "--name", "plain", "busybox", "sleep", "600"))   # the default network
        done = erin.mydocker("network", "connect", "solo", "plain")
        assert done.returncode == 1 and "rootless default network" in done.stderr, done
    finally:
        erin.mydocker("rm", "-f", "plain")
        ok(erin.mydocker("network", "rm", "solo"))
    assert _gone_soon(erin)


def test_a_killed_stack_is_replaced_and_the_running_containers_keep_their_network(erin, tun, greeter):
    ok(erin.mydocker("network", "create", "kept"))
    try:
        srv = ok(erin.mydocker("run", "-d", "--name", "srv", "--network", "kept", *HTTPD)).strip()
        stack = [pid for pid in _stacks_of(erin.uid) if open(f"/proc/{pid}/comm").read().strip() == "slirp4netns"]
        assert len(stack) == 1, stack
        os.kill(stack[0], 9)                                          # its keeper follows
        deadline = time.monotonic() + 10
        while _stacks_of(erin.uid) and time.monotonic() < deadline:
            time.sleep(0.05)
        out = ok(erin.mydocker("run", "--rm", "--network", "kept", "busybox", "sh", "-c",
                               f"{_get('srv')}; nc -w 5 10.0.2.2 {greeter.port}"))
        assert out.split("\n")[:2] == [srv[:12], "host"], out          # the old one reached, outbound again
    finally:
        erin.mydocker("rm", "-f", "srv")
    assert _gone_soon(erin)
    ok(erin.mydocker("network", "rm", "kept"))

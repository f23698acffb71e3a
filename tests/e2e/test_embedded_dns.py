"""The embedded DNS of user networks, with real containers on real networks: names, aliases, short ids
resolve by DNS (busybox nslookup and a resolver querying the server directly, never /etc/hosts),
only within the networks of the asking container; other names go to the container's --dns server
(tests/e2e/dnsresponder.py on a loopback address of this host: no query leaves the machine); UDP and
TCP; the resolver follows connect, disconnect, rename and restart, and is gone with the last container.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time

import pytest

from mydocker.engine.networks import root_tag
from mydocker.network.driver import bridge_name
from tests.e2e.test_network_cli import free_subnet, net, no_leaks  # noqa: F401 - fixtures

RESPONDER = os.path.join(os.path.dirname(__file__), "dnsresponder.py")

# Run inside a container's network namespace (nsenter): one query, printed as "RCODE addr,addr".
QUERY = r"""
import socket, struct, sys
server, name, qtype, proto = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", qtype, 1)
if proto == "tcp":
    s = socket.create_connection((server, 53), timeout=5)
    s.sendall(struct.pack(">H", len(q)) + q)
    data = b""
    while len(data) < 2 or len(data) < 2 + struct.unpack(">H", data[:2])[0]:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    r = data[2:]
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.sendto(q, (server, 53))
    r = s.recv(4096)
rid, flags, _qd, an = struct.unpack(">HHHH", r[:8])
assert rid == 0x1234 and flags & 0x8000
i = len(q)
out = []
for _ in range(an):
    rtype, _cls, _ttl, rdlen = struct.unpack(">HHIH", r[i + 2:i + 12])
    if rtype == 1:
        out.append(socket.inet_ntoa(r[i + 12:i + 12 + rdlen]))
    i += 12 + rdlen
print(flags & 0xF, ",".join(out))
"""


def pid_of(cli, container: str) -> str:
    return cli("inspect", "--format", "{{.State.Pid}}", container).out.strip()


def query(cli, container: str, server: str, name: str, qtype: int = 1, proto: str = "udp") -> tuple[int, list[str]]:
    """Ask `server` for `name` from inside the container's network namespace (its address is the source)."""
    out = subprocess.run(["nsenter", f"--net=/proc/{pid_of(cli, container)}/ns/net", sys.executable, "-c", QUERY,
                          server, name, str(qtype), proto], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    rcode, _, addresses = out.stdout.strip().partition(" ")
    return int(rcode), [a for a in addresses.split(",") if a]


def nslookup(cli, container: str, name: str):
    return cli("exec", container, "nslookup", name, rc=None)


def ip_on(cli, container: str, network: str) -> str:
    return cli("inspect", "--format", f'{{{{(index .NetworkSettings.Networks "{network}").IPAddress}}}}',
               container).out.strip()


def gateway(subnet: str) -> str:
    return subnet.rsplit(".", 1)[0] + ".1"


def resolver_pid(cli) -> int:
    try:
        with open(os.path.join(cli.runroot, "dns", "server.pid")) as f:
            return int(f.read().strip() or 0)
    except FileNotFoundError:
        return 0


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def resolvers(cli) -> list[str]:
    """Command lines of this root's resolver processes (not zombies: those have none)."""
    return [line for line in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines()
            if "mydocker.network.dnsserver" in line and os.path.join(cli.runroot, "dns") in line]


def assert_resolver_gone(cli, pid: int = 0) -> None:
    """It exits by itself (soon: it waits for the engine's lock) and leaves no file behind."""
    directory = os.path.join(cli.runroot, "dns")
    left = lambda: os.listdir(directory) if os.path.isdir(directory) else []  # noqa: E731
    deadline = time.monotonic() + 10
    while (alive(pid) or left() or resolvers(cli)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid) and not resolvers(cli), "the resolver still runs with no container on a user network"
    assert left() == []


@pytest.fixture
def upstream():
    """tests/e2e/dnsresponder.py on a random loopback address of this host, knowing outside.test."""
    address = f"127.{random.randrange(1, 250)}.{random.randrange(1, 250)}.{random.randrange(2, 250)}"
    proc = subprocess.Popen([sys.executable, RESPONDER, address, "outside.test=192.0.2.7"], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        yield address, proc
    finally:
        proc.kill()
        proc.wait()


def queried(proc) -> set[str]:
    proc.kill()
    proc.wait()
    return {line.split()[0] for line in proc.stdout.read().splitlines()}


def test_names_aliases_and_short_ids_resolve_by_dns_on_a_user_network(net, upstream):  # noqa: F811
    address, responder = upstream
    subnet = free_subnet()
    net("network", "create", "--subnet", subnet, "dnsa")
    web = net("run", "-d", "--name", "web", "--hostname", "webhost", "--network", "dnsa", "--network-alias", "www",
              "busybox", "sleep", "300").out.strip()
    net("run", "-d", "--name", "client", "--network", "dnsa", "--dns", address, "busybox", "sleep", "300")
    resolv = net("exec", "client", "cat", "/etc/resolv.conf").out
    assert f"nameserver {gateway(subnet)}\n" in resolv and "ndots:0" in resolv, resolv
    assert f"nameserver {address}" not in resolv and f"# ExtServers: [{address}]\n" in resolv, resolv
    web_ip = ip_on(net, "web", "dnsa")
    for name in ("web", "www", web[:12], "webhost", "WEB"):
        out = nslookup(net, "client", name)
        assert out.rc == 0 and f"Address: {web_ip}" in out.out, out
        assert query(net, "client", gateway(subnet), name) == (0, [web_ip])
    assert query(net, "client", gateway(subnet), "web", qtype=28) == (0, [])  # AAAA of ours: none, NOERROR
    assert query(net, "client", gateway(subnet), "www", proto="tcp") == (0, [web_ip])
    # names not ours go to the container's --dns server, answers and NXDOMAIN alike
    assert query(net, "client", gateway(subnet), "outside.test") == (0, ["192.0.2.7"])
    assert query(net, "client", gateway(subnet), "outside.test", proto="tcp") == (0, ["192.0.2.7"])
    out = nslookup(net, "client", "missing.test")
    assert out.rc != 0 and "NXDOMAIN" in out.out + out.err, out
    assert {"outside.test", "missing.test"} <= queried(responder)
    pid = resolver_pid(net)
    assert alive(pid)
    net("rm", "-f", "web", "client")
    assert_resolver_gone(net, pid)


def test_a_network_resolves_its_own_containers_only(net, upstream):  # noqa: F811
    address, responder = upstream
    a, b = free_subnet(), free_subnet()
    net("network", "create", "--subnet", a, "dnsa")
    net("network", "create", "--subnet", b, "dnsb")
    net("run", "-d", "--name", "web", "--network", "dnsa", "busybox", "sleep", "300")
    net("run", "-d", "--name", "other", "--network", "dnsb", "--dns", address, "busybox", "sleep", "300")
    assert query(net, "other", gateway(b), "web") == (3, [])  # not on its network: forwarded, NXDOMAIN upstream
    assert "web" in queried(responder)
    # its own network's gateway is reachable from another network, but that resolver refuses outsiders
    assert query(net, "other", gateway(a), "web") == (5, [])
    assert query(net, "other", gateway(a), "web", proto="tcp") == (5, [])
    net("rm", "-f", "web", "other")
    net("network", "rm", "dnsa", "dnsb")


def test_connect_disconnect_rename_and_restart_are_followed(net, upstream):  # noqa: F811
    address, _responder = upstream
    a, b = free_subnet(), free_subnet()
    net("network", "create", "--subnet", a, "dnsa")
    net("network", "create", "--subnet", b, "dnsb")
    net("run", "-d", "--name", "web", "--network", "dnsa", "--dns", address, "busybox", "sleep", "300")
    net("run", "-d", "--name", "late", "--network", "dnsb", "--dns", address, "busybox", "sleep", "300")
    assert query(net, "web", gateway(a), "late")[0] == 3
    bridge_mac = os.path.join("/sys/class/net", bridge_name(root_tag(net.root), "dnsa"), "address")
    with open(bridge_mac) as f:
        mac = f.read()
    net("network", "connect", "--alias", "later", "dnsa", "late")
    late_ip = ip_on(net, "late", "dnsa")
    for name in ("late", "later"):
        out = nslookup(net, "web", name)
        assert out.rc == 0 and f"Address: {late_ip}" in out.out, out
    # late asks its first network's resolver (dnsb) and finds names of its other network (dnsa) too
    assert query(net, "late", gateway(b), "web") == (0, [ip_on(net, "web", "dnsa")])
    net("network", "disconnect", "dnsa", "late")
    with open(bridge_mac) as f:  # the gateway's MAC stays when a port leaves (else it is unreachable for seconds)
        assert f.read() == mac
    assert query(net, "web", gateway(a), "later")[0] == 3
    net("rename", "web", "site")
    assert query(net, "late", gateway(b), "site")[0] == 3  # late is no longer on dnsa
    assert query(net, "site", gateway(a), "site")[0] == 0
    assert query(net, "site", gateway(a), "web")[0] == 3
    net("restart", "-t", "0", "site")
    out = nslookup(net, "site", "site")
    assert out.rc == 0 and f"Address: {ip_on(net, 'site', 'dnsa')}" in out.out, out
    # started on the default bridge (no embedded DNS there), then connected: it asks dnsa's resolver
    net("run", "-d", "--name", "plain", "busybox", "sleep", "300")
    net("network", "connect", "dnsa", "plain")
    assert f"nameserver {gateway(a)}\n" in net("exec", "plain", "cat", "/etc/resolv.conf").out
    out = nslookup(net, "plain", "site")
    assert out.rc == 0 and f"Address: {ip_on(net, 'site', 'dnsa')}" in out.out, out
    net("network", "disconnect", "dnsa", "plain")
    assert gateway(a) not in net("exec", "plain", "cat", "/etc/resolv.conf").out
    net("rm", "-f", "plain")
    pid = resolver_pid(net)
    net("stop", "-t", "0", "site")
    assert alive(pid)  # late is still on dnsb
    net("rm", "-f", "late")
    assert_resolver_gone(net, pid)
    net("rm", "-f", "site")
    net("network", "rm", "dnsa", "dnsb")


def test_foreground_runs_start_and_stop_the_resolver(net):  # noqa: F811
    subnet = free_subnet()
    net("network", "create", "--subnet", subnet, "dnsa")
    out = net("run", "--rm", "--name", "solo", "--network", "dnsa", "busybox", "nslookup", "solo")
    assert f"Address: {subnet.rsplit('.', 1)[0]}." in out.out, out
    assert_resolver_gone(net)


def test_port_53_taken_on_the_gateway_warns_and_the_container_runs(net):  # noqa: F811
    subnet = free_subnet()
    net("network", "create", "--subnet", subnet, "dnsa")
    squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        squatter.bind((gateway(subnet), 53))
        net("run", "-d", "--name", "first", "--network", "dnsa", "busybox", "sleep", "300")
        for _ in range(2):  # the resolver runs now, and still cannot have the port
            out = net("run", "--rm", "--network", "dnsa", "busybox", "cat", "/etc/resolv.conf")
            assert "WARNING: network dnsa has no embedded DNS (port 53 of " in out.err and "in use" in out.err, out
            assert out.err.count("\n") == 1, out
            assert gateway(subnet) not in out.out  # the host's resolvers instead
    finally:
        squatter.close()
    out = net("run", "--rm", "--network", "dnsa", "busybox", "sh", "-c", "cat /etc/resolv.conf; nslookup first")
    assert out.err == "" and f"nameserver {gateway(subnet)}\n" in out.out and "Name:\tfirst" in out.out, out
    net("rm", "-f", "first")
    assert_resolver_gone(net)
    net("network", "rm", "dnsa")


def test_a_killed_resolver_is_started_again_by_network_reconcile(net):  # noqa: F811
    subnet = free_subnet()
    net("network", "create", "--subnet", subnet, "dnsa")
    net("run", "-d", "--name", "web", "--network", "dnsa", "busybox", "sleep", "300")
    pid = resolver_pid(net)
    assert pid > 0 and alive(pid)
    os.kill(pid, 9)  # started by this test's `run`
    while alive(pid):
        time.sleep(0.05)
    net("network", "reconcile")
    assert resolver_pid(net) not in (0, pid) and alive(resolver_pid(net))
    out = nslookup(net, "web", "web")
    assert out.rc == 0 and "Name:\tweb" in out.out, out
    net("rm", "-f", "web")
    assert_resolver_gone(net, resolver_pid(net))
    net("network", "rm", "dnsa")


def test_parallel_runs_share_one_resolver_and_leave_nothing(net):  # noqa: F811
    net("network", "create", "--subnet", free_subnet(), "dnsa")
    procs = [subprocess.Popen(net.argv("run", "--rm", "--name", f"p{i}", "--network", "dnsa", "busybox", "nslookup",
                                       f"p{i}"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(6)]
    for i, proc in enumerate(procs):
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and f"Name:\tp{i}\n" in out and err == "", (out, err)
    assert_resolver_gone(net)
    net("network", "rm", "dnsa")


def test_the_resolver_costs_nothing_off_user_networks(net):  # noqa: F811
    """--network none and the default bridge load none of it (and start nothing); a user network only
    the engine's small side while the resolver runs."""
    net("network", "create", "--subnet", free_subnet(), "dnsa")
    with open(net.exe) as f:
        interpreter = f.readline()[2:].split()[0]  # the launcher's own `#!python -IS`

    def loaded(*args: str) -> set[str]:
        proc = subprocess.run([interpreter, "-X", "importtime", "-IS", *net.argv("run", "--rm", *args, "busybox",
                                                                                  "true")],
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                              env={**os.environ, "MYDOCKER_FORKSERVER": "0"})  # its own imports, not a server's
        assert proc.returncode == 0, proc.stderr[-2000:]
        return {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}

    for args in (["--network", "none"], []):
        assert not {m for m in loaded(*args) if "dns" in m}, args
        assert not os.path.exists(os.path.join(net.runroot, "dns"))
    net("run", "-d", "--name", "keeper", "--network", "dnsa", "busybox", "sleep", "300")
    modules = loaded("--network", "dnsa")
    assert "mydocker.engine.network_dns" in modules and "mydocker.network.dnsserver" not in modules
    assert "socket" not in modules and "selectors" not in modules
    net("rm", "-f", "keeper")
    assert_resolver_gone(net)
    net("network", "rm", "dnsa")

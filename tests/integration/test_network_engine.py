"""The engine's network API on the real kernel: netns + veth + bridge, NAT, published ports, isolation,
IPAM under concurrency, crash-safe detach, reconcile.

Processes stand in for containers here (`nsenter --net=<the container's netns>`), so this tests the
network plumbing alone; tests/e2e/test_network_cli.py does the same through `mydocker run`.
Traffic only goes to loopback or to namespaces these tests create.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import subprocess
import sys
import time

import pytest

from mydocker.engine.networks import NetworkService
from mydocker.engine.database import Records
from mydocker.errors import Conflict, InvalidArgument, NotFound
from mydocker.network import ports as portspec
from tests.netkit import settled_links

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUSYBOX = "/bin/busybox"

# A tiny server: prints "ready", then answers each TCP connection / UDP datagram with
# "<the client's address> <what it sent>", so a test can see whether NAT rewrote the source.
SERVER = r"""
import socket, sys
proto, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
s = socket.socket(socket.AF_INET, kind)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, port))
if proto == "tcp":
    s.listen(16)
print("ready", flush=True)
while True:
    if proto == "tcp":
        c, addr = s.accept()
        data = c.recv(100)
        c.sendall(f"{addr[0]} ".encode() + data)
        c.close()
    else:
        data, addr = s.recvfrom(100)
        s.sendto(f"{addr[0]} ".encode() + data, addr)
"""
CLIENT = r"""
import socket, sys
proto, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
s = socket.socket(socket.AF_INET, kind)
s.settimeout(3)
try:
    if proto == "tcp":
        s.connect((host, port)); s.sendall(b"hi"); print(s.recv(100).decode())
    else:
        s.sendto(b"hi", (host, port)); print(s.recvfrom(100)[0].decode())
except OSError as e:
    print("FAILED", e)
"""


def in_netns(path: str | None, *argv: str, timeout: float = 10) -> subprocess.CompletedProcess:
    prefix = ["nsenter", f"--net={path}"] if path else []
    return subprocess.run([*prefix, *argv], capture_output=True, text=True, timeout=timeout)


def ping(path: str, address: str) -> bool:
    return in_netns(path, BUSYBOX, "ping", "-c", "1", "-W", "2", address).returncode == 0


def request(path: str | None, proto: str, host: str, port: int) -> str:
    return in_netns(path, sys.executable, "-c", CLIENT, proto, host, str(port)).stdout.strip()


class Servers:
    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, path: str | None, proto: str, host: str, port: int) -> None:
        prefix = ["nsenter", f"--net={path}"] if path else []
        proc = subprocess.Popen([*prefix, sys.executable, "-c", SERVER, proto, host, str(port)],
                                stdout=subprocess.PIPE, text=True)
        self.procs.append(proc)
        assert proc.stdout.readline().strip() == "ready"

    def stop(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait()


@pytest.fixture
def servers():
    s = Servers()
    yield s
    s.stop()


def _outside_veth(name: str) -> bool:
    """A veth of the `outside` fixture (mdt<6 hex>h|p); not the overlay test's mdt<3 hex>... links,
    which another run of it may have on the host meanwhile."""
    return len(name) == 10 and name.startswith("mdt") and name[-1] in "hp"


def own_links(names: set[str], table: str) -> set[str]:
    return {n for n in os.listdir("/sys/class/net") if n in names or n.startswith(f"md{table[9:]}") or _outside_veth(n)}


def host_state(scope: str, names: set[str], table: str, before: dict | None = None) -> dict:
    """What a network test could leave behind, scoped to the test's own objects: other engineers'
    tests run containers (with their own bridges, veths and nft tables) on this host meanwhile.
    With `before`, links gone since then may take the kernel's netns clean-up time to go (tests/netkit.py)."""
    links = own_links(names, table)
    if before is not None:
        links = settled_links(lambda: own_links(names, table), before["links"])
    ruleset = subprocess.run(["nft", "list", "table", "ip", table], capture_output=True, text=True).stdout
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.splitlines()
    netns = {line.split()[0] for line in listed if line.startswith(f"md{table[9:]}")}
    with open("/proc/self/mountinfo") as f:
        mounts = {line.split()[4] for line in f if line.split()[4].startswith(scope)}
    return {"links": links, "nft": ruleset, "netns": netns, "mounts": mounts}


@pytest.fixture
def service(tmp_path, monkeypatch):
    """A NetworkService on a private root. Afterwards: every link it made (bridges, veths), its nft
    table, named netns and mounts under the test's dir are gone."""
    from mydocker.network import links
    root = tmp_path / "mydocker-net-root"
    root.mkdir()
    svc = NetworkService(Records(str(root / "mydocker.db")), str(root), str(tmp_path / "mydocker-net-run"))
    made: set[str] = set()
    plug, ensure_bridge = links.plug, links.ensure_bridge

    def recording_plug(netns_path, host_name, *args, **kwargs):
        made.add(host_name)
        return plug(netns_path, host_name, *args, **kwargs)

    def recording_bridge(name, *args, **kwargs):
        made.add(name)
        return ensure_bridge(name, *args, **kwargs)

    monkeypatch.setattr(links, "plug", recording_plug)
    monkeypatch.setattr(links, "ensure_bridge", recording_bridge)
    before = host_state(str(tmp_path), made, svc.table)
    yield svc
    for sb in svc.store.sandboxes():
        svc.detach(sb.container)
    for net in svc.networks():
        if net.name != "bridge":
            svc.remove(net.name)
    svc._rebuild_firewall(force=True)
    assert host_state(str(tmp_path), made, svc.table, before) == before
    assert before["links"] == set() and before["nft"] == ""


def free_subnet(prefix: int = 24) -> str:
    """A random network in 10.64.0.0/12 that no host route covers: these tests may run twice at once
    on this host (several engineers), and other tests' bridges are routes too."""
    import random
    routes = [ipaddress.IPv4Network(line.split()[0]) for line in
              subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout.splitlines()
              if line.split()[0] != "default"]
    for _ in range(1000):
        base = ipaddress.IPv4Address("10.64.0.0") + random.randrange(4096) * 256
        candidate = ipaddress.IPv4Network((base, prefix))
        if not any(candidate.overlaps(r) for r in routes):
            return str(candidate)
    pytest.skip("no free subnet in 10.64.0.0/12 on this host")


def cid(n: int) -> str:
    return f"{n:02x}" * 32


@pytest.fixture
def outside(tmp_path):
    """A network namespace acting as "the internet" (or a remote client): a veth pair from the host,
    a free /30 (.1 on the host side, .2 inside). Nothing routes back to container subnets."""
    from mydocker.network import netns
    made = []

    def make() -> tuple[str, str, str]:
        k = len(made) + 1
        net = ipaddress.IPv4Network(free_subnet(30))
        host_ip, peer_ip = str(net.network_address + 1), str(net.network_address + 2)
        path = str(tmp_path / f"mydocker-outside{k}")
        host_if, peer_if = f"mdt{os.urandom(3).hex()}h", f"mdt{os.urandom(3).hex()}p"
        made.append((path, host_if))
        netns.create(path)
        subprocess.run(["ip", "link", "add", host_if, "type", "veth", "peer", "name", peer_if], check=True)
        subprocess.run(["ip", "link", "set", peer_if, "netns", path], check=True)
        subprocess.run(["ip", "addr", "add", f"{host_ip}/30", "dev", host_if], check=True)
        subprocess.run(["ip", "link", "set", host_if, "up"], check=True)
        for cmd in (["ip", "addr", "add", f"{peer_ip}/30", "dev", peer_if], ["ip", "link", "set", peer_if, "up"],
                    ["ip", "link", "set", "lo", "up"], ["ip", "route", "add", "default", "via", host_ip]):
            subprocess.run(["nsenter", f"--net={path}", *cmd], check=True)
        return path, host_ip, peer_ip

    yield make
    for path, host_if in made:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        netns.remove(path)


def test_two_containers_on_a_user_network_ping_and_know_each_other(service):
    subnet = free_subnet()
    first, fixed, gateway = (subnet.rsplit(".", 1)[0] + f".{n}" for n in (2, 50, 1))
    service.create("appnet", subnet=subnet)
    a = service.attach(cid(1), "web", "appnet", aliases=["www"])
    b = service.attach(cid(2), "client", "appnet", ip=fixed)
    assert a.addresses == [first] and b.addresses == [fixed]
    assert ping(b.netns, first) and ping(a.netns, fixed)
    hosts_b = open(os.path.join(service.files_dir, cid(2), "hosts")).read()
    assert f"{first}\tweb www" in hosts_b
    hosts_a = open(os.path.join(service.files_dir, cid(1), "hosts")).read()
    assert f"{fixed}\tclient" in hosts_a  # rewritten in place when b joined
    # inside: eth0 with the address, lo up, the default route via the gateway
    addr = json.loads(in_netns(a.netns, "ip", "-j", "addr").stdout)
    by_name = {link["ifname"]: link for link in addr}
    assert {"lo", "eth0"} <= set(by_name) and "UP" in by_name["lo"]["flags"]
    assert [i["local"] for i in by_name["eth0"]["addr_info"] if i["family"] == "inet"] == [first]
    assert f"default via {gateway} dev eth0" in in_netns(a.netns, "ip", "route").stdout
    service.detach(cid(2))
    assert "client" not in open(os.path.join(service.files_dir, cid(1), "hosts")).read()


def test_an_address_taken_again_keeps_its_mac_so_the_host_reaches_it_at_once(service):
    """A restarted container gets its address back on a new veth: the host's neighbour entry, still
    REACHABLE for up to 45 s, must not point at a MAC that is gone."""
    from mydocker.network.links import ip_mac
    subnet = free_subnet()
    address = subnet.rsplit(".", 1)[0] + ".60"
    service.create("macnet", subnet=subnet)
    first = service.attach(cid(1), "first", "macnet", ip=address)
    assert ping(None, address)  # the host now caches the address's MAC
    service.detach(cid(1))
    second = service.attach(cid(2), "second", "macnet", ip=address)
    link = json.loads(in_netns(second.netns, "ip", "-j", "link", "show", "eth0").stdout)[0]
    assert link["address"] == ip_mac(address) and first.netns != second.netns
    assert ping(None, address)
    service.detach(cid(2))


def _port_state(name: str) -> int | None:
    """The bridge port's STP state (0: disabled, 3: forwarding); None once the link is gone."""
    try:
        with open(f"/sys/class/net/{name}/brport/state") as f:
            return int(f.read())
    except FileNotFoundError:
        return None


def _learnt_on(bridge: str, port: str) -> list[str]:
    fdb = json.loads(subprocess.run(["bridge", "-j", "fdb", "show", "br", bridge], capture_output=True,
                                    text=True, check=True).stdout)
    return [e["mac"] for e in fdb if e.get("ifname") == port and "permanent" not in e.get("state", "")]


def test_a_detached_containers_veth_goes_with_its_namespace_and_shadows_nothing(service, servers):
    """Issue 20: detach does not wait out the kernel's veth delete (15-20 ms): it disables the host
    end's bridge port and unpins the netns, and the kernel deletes the pair with it, later.
    Meanwhile a container that takes the same address (and so the same MAC) gets its traffic: the
    old port forwards nothing and forgot the MAC it had learnt."""
    subnet = free_subnet()
    address = subnet.rsplit(".", 1)[0] + ".70"
    service.create("gonenet", subnet=subnet)
    first = service.attach(cid(1), "first", "gonenet", ip=address)
    assert ping(None, address)  # the bridge learns the MAC on the first veth's port
    veth, bridge = service.endpoints(container=cid(1))[0].veth, service.get("gonenet").bridge
    assert _learnt_on(bridge, veth) and _port_state(veth) == 3
    service.detach(cid(1))
    assert not os.path.exists(first.netns)
    assert _port_state(veth) in (0, None) and _learnt_on(bridge, veth) == []  # at once (or deleted already)
    second = service.attach(cid(2), "second", "gonenet", ip=address)
    servers.start(second.netns, "tcp", "0.0.0.0", 83)  # only the second one listens: a reply proves who got it
    assert request(None, "tcp", address, 83).endswith(" hi")
    assert settled_links(lambda: {veth} & set(os.listdir("/sys/class/net")), set()) == set()
    service.detach(cid(2))


def test_detach_after_the_bridge_was_deleted_behind_our_back(service):
    """The veth is no bridge port any more: there is nothing to disable, and detach still succeeds."""
    service.create("lostnet", subnet=free_subnet())
    a = service.attach(cid(1), "a", "lostnet")
    veth = service.endpoints(container=cid(1))[0].veth
    subprocess.run(["ip", "link", "del", service.get("lostnet").bridge], check=True)
    service.detach(cid(1))
    assert not os.path.exists(a.netns) and service.endpoints(network="lostnet") == []
    assert settled_links(lambda: {veth} & set(os.listdir("/sys/class/net")), set()) == set()


def test_a_namespace_another_container_shares_loses_its_veth_at_once(service):
    """A --network container: sandbox keeps the namespace alive after its owner is detached: there
    the veth is deleted, not left for a namespace clean-up that would not come."""
    from mydocker.engine.network_schema import Sandbox
    owner = service.attach(cid(1), "owner", None)
    veth = service.endpoints(container=cid(1))[0].veth
    holder = subprocess.Popen(["nsenter", f"--net={owner.netns}", BUSYBOX, "sleep", "60"])  # the guest's process
    try:
        service.store.add_sandbox(Sandbox(cid(2), "guest", f"container:{cid(1)}", owner.netns, False, "guest",
                                          os.path.join(service.files_dir, cid(1))))
        service.detach(cid(1))
        assert not os.path.exists(f"/sys/class/net/{veth}")
        service.detach(cid(2))
    finally:
        holder.kill()
        holder.wait()


def test_egress_is_masqueraded_to_an_outside_namespace(service, outside, servers):
    path, host_side, server_ip = outside()
    servers.start(path, "tcp", server_ip, 8000)  # its own namespace: no clash with anything
    a = service.attach(cid(1), "c1", None)  # the default bridge
    assert request(a.netns, "tcp", server_ip, 8000) == f"{host_side} hi"  # the server saw the host, not 172.x
    assert not ping(path, a.addresses[0])   # and "the internet" has no way back in


@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_published_port_from_loopback_host_address_and_a_remote_namespace(service, outside, servers, proto):
    path, host_side, _remote_ip = outside()
    service.create("pubnet", subnet=free_subnet())
    a = service.attach(cid(1), "srv", "pubnet", ports=[portspec.parse(f"81/{proto}")])  # a free host port
    port = service.published(cid(1))[0][2]
    assert service.published(cid(1)) == [(f"81/{proto}", "0.0.0.0", port)]
    servers.start(a.netns, proto, "0.0.0.0", 81)
    assert request(None, proto, "127.0.0.1", port).endswith(" hi")          # from the host's loopback
    assert request(None, proto, host_side, port).endswith(" hi")            # from a host address
    assert request(path, proto, host_side, port) == f"{_remote_ip} hi"      # a remote client keeps its address


def test_loopback_only_publish_is_not_reachable_from_outside(service, outside, servers):
    path, host_side, _ = outside()
    a = service.attach(cid(1), "srv", None, ports=[portspec.parse("127.0.0.1::82")])
    port = service.published(cid(1))[0][2]
    servers.start(a.netns, "tcp", "0.0.0.0", 82)
    assert request(None, "tcp", "127.0.0.1", port).endswith(" hi")
    assert request(path, "tcp", host_side, port).startswith("FAILED")


def test_networks_are_isolated_from_each_other(service):
    service.create("neta", subnet=free_subnet())
    service.create("netb", subnet=free_subnet())
    a = service.attach(cid(1), "a", "neta")
    b = service.attach(cid(2), "b", "netb")
    assert ping(a.netns, service.get("neta").gateway)  # its own gateway: yes
    assert not ping(a.netns, b.addresses[0])           # the other network: no
    assert not ping(b.netns, a.addresses[0])


def test_fifty_concurrent_attaches_get_fifty_distinct_addresses(service):
    service.create("many", subnet=free_subnet())
    code = ("import sys; sys.path.insert(0, %r)\n"
            "from mydocker.engine.database import Records\nfrom mydocker.engine.networks import NetworkService\n"
            "s = NetworkService(Records(%r), %r, %r)\n"
            "print(s.attach(sys.argv[1], 'c' + sys.argv[1][:6], 'many').addresses[0])")
    code = code % (REPO, os.path.join(service.root, "mydocker.db"), service.root, service.runroot)
    procs = [subprocess.Popen([sys.executable, "-c", code, cid(n)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for n in range(50)]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _out, err in results if err][:3]
    addresses = [out.strip() for out, _err in results]
    assert len(set(addresses)) == 50
    assert {e.ip for e in service.endpoints(network="many")} == set(addresses)


def test_attaches_and_detaches_racing_on_the_default_network_all_succeed(service):
    """A private root's default network goes with its last endpoint and the next attach makes it
    again: one process's retire (delete the bridge by name) raced another's re-creation, which found
    the bridge still there and lost it before bringing it up ("cannot bring bridge md<tag>-0 up: No
    such device", tests/e2e/test_lifecycle.py under load)."""
    code = ("import sys; sys.path.insert(0, %r)\n"
            "from mydocker.engine.database import Records\nfrom mydocker.engine.networks import NetworkService\n"
            "s = NetworkService(Records(%r), %r, %r)\n"
            "for i in range(12):\n"
            "    c = sys.argv[1][:62] + '%%02x' %% i\n"
            "    s.attach(c, 'c' + c[:6] + str(i))\n"
            "    s.detach(c)\n")
    code = code % (REPO, os.path.join(service.root, "mydocker.db"), service.root, service.runroot)
    procs = [subprocess.Popen([sys.executable, "-c", code, cid(n)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for n in range(4)]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), "\n".join(err for _out, err in results if err)


def test_full_subnet_fixed_ip_and_port_conflicts_are_clear(service):
    tiny = free_subnet(30)
    service.create("tiny", subnet=tiny)
    service.attach(cid(1), "one", "tiny")
    with pytest.raises(Conflict, match=f"no free IP address left in subnet {tiny}"):
        service.attach(cid(2), "two", "tiny")
    assert service.sandbox(cid(2)) is None      # the failed attach left nothing
    other = free_subnet()
    seventh = other.rsplit(".", 1)[0] + ".7"
    service.create("other", subnet=other)
    service.attach(cid(3), "three", "other", ip=seventh, ports=[portspec.parse("80")])
    port = service.published(cid(3))[0][2]
    with pytest.raises(Conflict, match="already in use"):
        service.attach(cid(4), "four", "other", ip=seventh)
    with pytest.raises(Conflict, match="already published"):
        service.attach(cid(5), "five", "other", ports=[portspec.parse(f"{port}:80")])
    with pytest.raises(Conflict, match="overlaps network"):
        service.create("overlap", subnet=str(ipaddress.IPv4Network(other).supernet(new_prefix=16)))
    with pytest.raises(Conflict, match="active endpoints"):
        service.remove("other")
    with pytest.raises(NotFound, match="network nosuch not found"):
        service.attach(cid(6), "six", "nosuch")
    with pytest.raises(InvalidArgument, match="--ip needs a user-defined network"):
        service.attach(cid(7), "seven", None, ip="172.17.0.9")


def test_detach_after_a_crash_midway_removes_what_exists(service):
    crash = free_subnet()
    service.create("crash", subnet=crash)
    a = service.attach(cid(1), "a", "crash")
    veth = service.endpoints(container=cid(1))[0].veth
    subprocess.run(["ip", "link", "del", veth], check=True)  # half gone already
    service.detach(cid(1))
    service.detach(cid(1))  # and again: nothing to do
    assert not os.path.exists(a.netns)
    assert service.endpoints(network="crash") == []
    # the address went back to the pool
    assert service.attach(cid(2), "b", "crash").addresses == [crash.rsplit(".", 1)[0] + ".2"]


def test_detach_after_a_crash_before_the_endpoint_retires_the_default_network(service):
    from mydocker.engine.networks import Sandbox
    # killed right after the default network (and its bridge) was made for this container
    service._record_sandbox(Sandbox(cid(1), "a", "bridge", os.path.join(service.netns_dir, cid(1)), True, "a",
                                    os.path.join(service.files_dir, cid(1))))
    bridge = service._network_for_use("bridge").bridge
    assert os.path.exists(f"/sys/class/net/{bridge}")
    service.detach(cid(1))
    assert not os.path.exists(f"/sys/class/net/{bridge}")
    assert service.networks() == [] and service.sandbox(cid(1)) is None


def test_reconcile_restores_the_rules_after_a_flush(service, outside, servers):
    path, host_side, _ = outside()
    a = service.attach(cid(1), "srv", None, ports=[portspec.parse("84")])
    port = service.published(cid(1))[0][2]
    servers.start(a.netns, "tcp", "0.0.0.0", 84)
    subprocess.run(["nft", "delete", "table", "ip", service.table], check=True)  # an admin's flush
    assert request(path, "tcp", host_side, port).startswith("FAILED")
    result = service.reconcile(live=lambda _cid: True)
    assert result["detached"] == []
    assert request(path, "tcp", host_side, port).endswith(" hi")
    # a container whose process is gone is detached by reconcile
    assert service.reconcile(live=lambda _cid: False)["detached"] == [cid(1)]
    assert service.sandbox(cid(1)) is None


def test_none_and_host_modes_make_no_host_objects(service):
    none = service.attach(cid(1), "n", "none")
    host = service.attach(cid(2), "h", "host")
    assert none.netns is None and not none.host_netns
    assert host.host_netns and host.hostname == socket.gethostname()
    config = {"linux": {"namespaces": [{"type": "network"}, {"type": "uts"}]}, "process": {"env": ["HOSTNAME=x"]},
              "mounts": [{"destination": "/proc"}], "hostname": "x"}
    service.apply_to_spec(config, host)
    assert config["linux"]["namespaces"] == [{"type": "uts"}]
    assert [m["destination"] for m in config["mounts"]] == ["/proc", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf"]


def nft_table(table: str) -> dict:
    """What the kernel holds for mydocker's table, read back with `nft -j`: each map's elements as
    {key tuple: value tuple}, and each rule as (chain, handle, its expressions)."""
    listing = json.loads(subprocess.run(["nft", "-j", "list", "table", "ip", table], capture_output=True, text=True,
                                        check=True).stdout)["nftables"]

    def plain(value):  # "tcp" . 8080 -> ("tcp", 8080); an element with a comment wraps its key
        value = value.get("elem", {}).get("val", value) if isinstance(value, dict) else value
        return tuple(value["concat"]) if isinstance(value, dict) else value

    maps = {m["map"]["name"]: {plain(k): plain(v) for k, v in m["map"].get("elem", [])}
            for m in listing if "map" in m}
    rules = [(r["rule"]["chain"], r["rule"]["handle"], json.dumps(r["rule"]["expr"])) for r in listing if "rule" in r]
    return {"maps": maps, "rules": rules}


def test_published_ports_are_the_map_elements_nft_reports_and_no_rule_changes(service):
    subnet = free_subnet()
    service.create("mapnet", subnet=subnet)
    bridge = service.get("mapnet").bridge
    made = nft_table(service.table)
    assert made["maps"] == {"MYDOCKER-PORTS": {}, "MYDOCKER-HOSTPORTS": {}}
    prefix = {"prefix": {"addr": subnet.split("/")[0], "len": 24}}
    # the network's rules, made with it: egress masquerade, and nothing but its own into it
    assert any(chain == "MYDOCKER-POSTROUTING" and json.dumps(prefix) in expr and '"masquerade"' in expr
               for chain, _handle, expr in made["rules"])
    into_drop = [{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": bridge}}, {"drop": None}]
    assert ("MYDOCKER-FORWARD", json.dumps(into_drop)) in {(chain, expr) for chain, _handle, expr in made["rules"]}
    a = service.attach(cid(1), "a", "mapnet", ports=[portspec.parse("81"), portspec.parse("127.0.0.1::82/udp")])
    b = service.attach(cid(2), "b", "mapnet")
    c = service.attach(cid(3), "c", "mapnet", ports=[portspec.parse("83/udp")])
    ports = {p[0]: p[2] for p in service.published(cid(1)) + service.published(cid(3))}
    now = nft_table(service.table)
    assert now["maps"] == {
        "MYDOCKER-PORTS": {("tcp", ports["81/tcp"]): (a.addresses[0], 81),
                           ("udp", ports["83/udp"]): (c.addresses[0], 83)},
        "MYDOCKER-HOSTPORTS": {("127.0.0.1", "udp", ports["82/udp"]): (a.addresses[0], 82)}}
    assert b.addresses[0] not in repr(now)
    assert now["rules"] == made["rules"]  # the same rules, handles too: no rebuild for a container
    service.detach(cid(1))
    assert nft_table(service.table)["maps"] == {"MYDOCKER-PORTS": {("udp", ports["83/udp"]): (c.addresses[0], 83)},
                                                "MYDOCKER-HOSTPORTS": {}}
    service.detach(cid(3))
    service.detach(cid(2))
    assert nft_table(service.table) == made


def test_a_start_after_an_admins_flush_rebuilds_the_table_from_the_records(service, servers):
    service.create("flushnet", subnet=free_subnet())
    a = service.attach(cid(1), "a", "flushnet", ports=[portspec.parse("84")])
    port = service.published(cid(1))[0][2]
    servers.start(a.netns, "tcp", "0.0.0.0", 84)
    subprocess.run(["nft", "delete", "table", "ip", service.table], check=True)
    assert request(None, "tcp", "127.0.0.1", port).startswith("FAILED")
    service.attach(cid(2), "b", "flushnet", ports=[portspec.parse("85")])  # nft refuses the element: rebuild
    assert request(None, "tcp", "127.0.0.1", port).endswith(" hi")
    assert len(nft_table(service.table)["maps"]["MYDOCKER-PORTS"]) == 2


def test_apply_returns_once_nft_committed_and_says_what_nft_refused(service):
    """apply does not wait for nft's exit (its ~11 ms RCU wait after a deletion); the kernel has
    committed by then: the next listing already shows the change."""
    from mydocker.errors import RuntimeFailure
    from mydocker.network import firewall
    service.create("applynet", subnet=free_subnet())
    port = firewall.Port(cid(9), "tcp", 18123, "10.64.0.9", 80)
    for _ in range(3):
        firewall.apply(service.table, firewall.port_batch(service.table, add=[port]))
        assert nft_table(service.table)["maps"]["MYDOCKER-PORTS"] == {("tcp", 18123): ("10.64.0.9", 80)}
        firewall.apply(service.table, firewall.port_batch(service.table, remove=[port]))
        assert nft_table(service.table)["maps"]["MYDOCKER-PORTS"] == {}
    with pytest.raises(RuntimeFailure, match=r"nft refused .* \(exit status 1\): .*No such file or directory"):
        firewall.apply(service.table, f"add element ip {service.table} MYDOCKER-NOPE {{ tcp . 1 : 10.64.0.9 . 2 }}\n")


def test_etc_files_sit_in_the_container_dir_and_legacy_sandbox_dirs_still_go(service):
    """A container's /etc files are written into its own directory (no directory of their own to
    make and remove per run); a sandbox recorded before, with its files in network/sandboxes/<id>,
    still has its files and that directory removed on detach."""
    from mydocker.engine.networks import Sandbox
    from mydocker.network.etcfiles import NAMES
    container_dir = os.path.join(service.root, "containers", cid(1))
    os.makedirs(container_dir)
    open(os.path.join(container_dir, "config.json"), "w").close()  # the container's own, left alone
    att = service.attach(cid(1), "n", "none")
    assert {m["source"] for m in att.mounts} == {os.path.join(container_dir, n) for n in NAMES}
    service.detach(cid(1))
    assert os.listdir(container_dir) == ["config.json"]

    legacy = os.path.join(service.root, "network", "sandboxes", cid(2))
    os.makedirs(legacy)
    for name in NAMES:
        open(os.path.join(legacy, name), "w").close()
    service._record_sandbox(Sandbox(cid(2), "old", "none", None, False, "old", legacy))
    service.detach(cid(2))
    assert not os.path.exists(legacy)

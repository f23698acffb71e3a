"""The engine's network records without the kernel: names of host objects, subnet choice,
persisted IPAM, config.json changes. No root needed."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings, strategies as st

from mydocker.engine.network_schema import Network
from mydocker.engine.networks import Attachment, NetworkService, root_tag
from mydocker.engine.database import Records
from mydocker.errors import Conflict
from mydocker.network import links
from mydocker.network.ipam import Bitmap


@pytest.fixture(autouse=True)
def no_firewall(monkeypatch):
    """Unit tests never touch the host: the nft batch is recorded, not applied."""
    from mydocker.network import firewall
    applied = []
    monkeypatch.setattr(firewall, "apply", lambda *args: applied.append(args[-1]))
    return applied


@pytest.fixture
def svc(tmp_path, monkeypatch):
    monkeypatch.setattr(links, "host_routes", lambda: [(int(ipaddress.IPv4Address("172.17.0.0")), 0xFFFF0000),
                                                       (int(ipaddress.IPv4Address("192.0.2.0")), 0xFFFFFF00)])
    return NetworkService(Records(str(tmp_path / "db")), str(tmp_path / "root"), str(tmp_path / "run"))


def add(svc: NetworkService, name: str, subnet: str) -> None:
    assert svc.store.add_network(Network(name, name * 3, "bridge", subnet, str(ipaddress.IPv4Network(subnet)[1]),
                                         svc.bridge_name(name)), Bitmap(subnet).to_bytes())


def test_host_object_names_carry_the_project_and_the_root():
    assert root_tag("/var/lib/mydocker") == ""
    tag = root_tag("/tmp/x/root")
    assert len(tag) == 5 and tag == root_tag("/tmp/x/root/")


def test_bridge_names_fit_ifnamsiz_and_stay_unique(tmp_path):
    default = NetworkService(Records(str(tmp_path / "db")), "/var/lib/mydocker", str(tmp_path / "run"))
    assert default.bridge_name("bridge") == "mydocker0"
    assert default.bridge_name("appnet") == "md-appnet"
    assert default.table == "mydocker"
    long1, long2 = default.bridge_name("a-very-long-network-name"), default.bridge_name("a-very-long-network-other")
    assert len(long1) <= 15 and len(long2) <= 15 and long1 != long2 and long1.startswith("md-")


def test_default_network_avoids_host_routes_and_user_networks_get_a_24(svc):
    assert svc._pick_subnet("bridge") == "172.18.0.0/16"   # 172.17.0.0/16 is a host route here
    add(svc, "bridge", "172.18.0.0/16")
    assert svc._pick_subnet("appnet") == "172.19.0.0/24"
    add(svc, "appnet", "172.19.0.0/24")
    assert svc._pick_subnet("other") == "172.19.1.0/24"


def test_user_subnet_overlapping_a_network_or_a_route_is_refused(svc):
    add(svc, "appnet", "10.77.0.0/24")
    with pytest.raises(Conflict, match="overlaps network 'appnet'"):
        svc._check_free("10.77.0.0/16")
    with pytest.raises(Conflict, match="overlaps the host route to 192.0.2.0/24"):
        svc._check_free("192.0.2.0/25")
    svc._check_free("10.78.0.0/24")


@settings(max_examples=25, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=60))
def test_persisted_allocations_never_repeat_an_address(tmp_path_factory, flips):
    from unittest import mock
    with mock.patch("mydocker.network.firewall.apply"):  # never the host's nft, even with root
        persisted_allocations(tmp_path_factory.mktemp("ipam"), flips)


def persisted_allocations(root, flips: list[bool]) -> None:
    svc = NetworkService(Records(str(root / "db")), str(root / "r"), str(root / "run"))
    add(svc, "net", "10.9.0.0/26")
    net = svc.get("net")
    live: dict[str, str] = {}
    for n, allocate in enumerate(flips):
        if allocate or not live:
            try:
                ep = svc._add_endpoint(f"{n:064x}", net, None, [], [], "eth0")
            except Conflict:
                assert len(live) == 64 - 3
                continue
            assert ep.ip not in live.values()
            live[ep.container] = ep.ip
        else:
            container, ip = live.popitem()
            svc._drop_endpoint(svc.endpoints(container=container)[0])
    stored = Bitmap("10.9.0.0/26", bits=svc.store.db.execute("SELECT bitmap FROM networks").fetchone()[0])
    assert stored.free_count() == 64 - 3 - len(live)
    assert all(stored.taken(ip) for ip in live.values())


def test_apply_to_spec_joins_the_netns_by_path_and_binds_the_etc_files():
    config = {"hostname": "abc", "process": {"env": ["PATH=/bin", "HOSTNAME=abc"]},
              "mounts": [{"destination": "/proc"}, {"destination": "/etc/hosts", "source": "old"}],
              "linux": {"namespaces": [{"type": "pid"}, {"type": "network"}]}}
    att = Attachment(mode="bridge", netns="/run/mydocker/netns/x", host_netns=False, hostname="web",
                     mounts=[{"destination": "/etc/hosts", "source": "new"}])
    NetworkService.apply_to_spec(config, att)
    assert config["linux"]["namespaces"][1] == {"type": "network", "path": "/run/mydocker/netns/x"}
    assert config["hostname"] == "web" and "HOSTNAME=web" in config["process"]["env"]
    assert config["mounts"] == [{"destination": "/proc"}, {"destination": "/etc/hosts", "source": "new"}]


def test_apply_to_spec_keeps_a_user_set_hostname_variable():
    config = {"hostname": "abc", "process": {"env": ["HOSTNAME=mine"]}, "mounts": [],
              "linux": {"namespaces": [{"type": "network"}]}}
    NetworkService.apply_to_spec(config, Attachment(mode="none", netns=None, host_netns=False, hostname="abc"))
    assert config["process"]["env"] == ["HOSTNAME=mine"]
    assert config["linux"]["namespaces"] == [{"type": "network"}]


class HostlessBridge:
    """The bridge driver's records without the kernel: no bridge, veth or netns is made."""
    name, scope = "bridge", "local"

    def allocate(self, net, container, ip):
        return None

    def join(self, net, ep, info) -> str:
        return "02:42:ac:12:00:02"

    def leave(self, net, ep, last, netns_ends=False) -> None:
        pass


def test_the_default_roots_bridge_keeps_its_rules_and_only_ports_touch_the_firewall(tmp_path, no_firewall,
                                                                                    monkeypatch):
    """The default root keeps its default network, so its rules stay: runs without -p apply nothing;
    with -p, one batch of map elements at start and one at removal."""
    from mydocker.engine import network_endpoints
    from mydocker.network import ports
    monkeypatch.setattr(network_endpoints, "_check_host_port_free", lambda *args: None)
    root = str(tmp_path / "root")
    svc = NetworkService(Records(str(tmp_path / "db")), root, str(tmp_path / "run"), default_root=root)
    assert svc.tag == ""
    svc._drivers["bridge"] = HostlessBridge()
    add(svc, "bridge", "172.18.0.0/16")
    for n in range(3):
        svc.attach(f"{n:064x}", f"c{n}", None)
        svc.detach(f"{n:064x}")
    assert len(no_firewall) == 1 and "172.18.0.0/16" in no_firewall[0]  # the network's rules, once
    svc.attach("f" * 64, "web", None, ports=[ports.parse("8080:80")])
    svc.detach("f" * 64)
    assert no_firewall[1:] == [
        'add element ip mydocker MYDOCKER-PORTS { tcp . 8080 comment "ffffffffffff" : 172.18.0.2 . 80 }\n',
        "add element ip mydocker MYDOCKER-PORTS { tcp . 8080 : 172.18.0.2 . 80 }\n"
        "delete element ip mydocker MYDOCKER-PORTS { tcp . 8080 }\n"]


def test_a_default_network_with_no_subnet_left_says_so(svc, monkeypatch):
    """No private /16 free for the default network on its first use: the subnet's Conflict reaches the
    user (it was caught as a concurrent run's making of it, and came out as "network bridge not found")."""
    monkeypatch.setattr(links, "host_routes", lambda: [(0, 0x80000000), (0x80000000, 0x80000000)])  # all of IPv4
    with pytest.raises(Conflict, match="no free private subnet left"):
        svc._network_for_use("bridge")
    assert svc.networks() == []

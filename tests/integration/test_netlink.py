"""mydocker/network/netlink.py against the real kernel, with iproute2 (`ip -j`, `bridge -j`) as the oracle.

Everything happens in two network namespaces the test makes (the "host" and the "container"), so
nothing touches the machine's own links; removing the namespaces removes every link made in them.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess

import pytest

from mydocker.network import netlink as nl
from mydocker.network import netns

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")


@pytest.fixture
def spaces(tmp_path):
    """(host namespace path, container namespace path): fresh, removed afterwards."""
    host, box = str(tmp_path / "ns-host"), str(tmp_path / "ns-box")
    netns.create(host)
    try:
        netns.create(box)
        yield host, box
    finally:
        netns.remove(host)
        netns.remove(box)


def ip(ns: str, *argv: str):
    out = subprocess.run(["nsenter", f"--net={ns}", *argv], capture_output=True, text=True, check=True).stdout
    return json.loads(out or "[]")


def link_of(ns: str, name: str) -> dict:
    return ip(ns, "ip", "-j", "-d", "link", "show", "dev", name)[0]


def test_bridge_veth_into_a_namespace_addresses_route(spaces):
    host, box = spaces
    fd = os.open(box, os.O_RDONLY | os.O_CLOEXEC)
    with nl.Netlink(host) as h, nl.Netlink(box) as c:
        h.run(nl.new_bridge("mdt-br"))
        br = h.index("mdt-br")
        h.run(nl.add_address(br, "10.77.0.1", 24, "mdt-br"), nl.set_link(br, up=True))
        h.run(nl.new_veth("mdt-veth", "eth0", fd, master=br, up=True))  # on the bridge and up from the start
        os.close(fd)
        assert link_of(host, "mdt-veth")["master"] == "mdt-br"
        h.run(nl.set_link("mdt-veth", master=0), nl.set_link("mdt-veth", master=br, mtu=1400))
        eth0 = c.index("eth0")
        c.run(nl.set_link(eth0, mac="02:42:0a:4d:00:02", mtu=1400, up=True), nl.set_link("lo", up=True),
              nl.add_address(eth0, "10.77.0.2", 24, "eth0"), nl.add_route(gateway="10.77.0.1"))

        bridge, veth = link_of(host, "mdt-br"), link_of(host, "mdt-veth")
        assert bridge["linkinfo"]["info_kind"] == "bridge" and "UP" in bridge["flags"]
        assert veth["linkinfo"]["info_kind"] == "veth" and veth["master"] == "mdt-br" and veth["mtu"] == 1400
        assert "UP" in veth["flags"]
        inside = link_of(box, "eth0")
        assert inside["address"] == "02:42:0a:4d:00:02" and inside["mtu"] == 1400 and "UP" in inside["flags"]
        assert "UP" in link_of(box, "lo")["flags"]
        assert not [x for x in ip(host, "ip", "-j", "link") if x["ifname"] == "eth0"]  # the peer is only inside
        addrs = ip(box, "ip", "-j", "-4", "addr", "show", "dev", "eth0")[0]["addr_info"]
        assert [(a["local"], a["prefixlen"], a.get("broadcast")) for a in addrs] == [("10.77.0.2", 24, "10.77.0.255")]
        routes = ip(box, "ip", "-j", "route", "show", "default")
        assert [(r["gateway"], r["dev"]) for r in routes] == [("10.77.0.1", "eth0")]

        # the reads agree with iproute2
        mine = {link.name: link for link in c.links()}
        assert mine["eth0"].mac == "02:42:0a:4d:00:02" and mine["eth0"].up and mine["eth0"].kind == "veth"
        assert c.link("eth0").index == inside["ifindex"] and c.link(inside["ifindex"]).name == "eth0"
        assert c.link("nothing") is None
        assert [(a.address, a.prefixlen) for a in c.addresses(nl.AF_INET, eth0)] == [("10.77.0.2", 24)]
        assert h.link("mdt-veth").master == br

        # and back: route, address, link
        c.run(nl.del_route(gateway="10.77.0.1"), nl.del_address(eth0, "10.77.0.2", 24, "eth0"))
        assert ip(box, "ip", "-j", "route", "show", "default") == []
        assert not [a for x in ip(box, "ip", "-j", "-4", "addr", "show", "dev", "eth0") for a in x["addr_info"]]
        h.run(nl.set_link("mdt-veth", master=0))
        assert "master" not in link_of(host, "mdt-veth")
        h.run(nl.del_link("mdt-veth"))
        assert c.link("eth0") is None  # deleting one end takes the peer


def test_rename_and_move_into_a_namespace(spaces):
    host, box = spaces
    with nl.Netlink(host) as h:
        h.run(nl.new_veth("mdt-a", "mdt-b"))
        b = h.index("mdt-b")
        fd = os.open(box, os.O_RDONLY | os.O_CLOEXEC)
        try:
            h.run(nl.set_link(b, name="eth5", netns_fd=fd))
        finally:
            os.close(fd)
        assert h.link("mdt-b") is None and h.link("eth5") is None
        assert link_of(box, "eth5")["linkinfo"]["info_kind"] == "veth"


def test_vxlan_fdb_and_neighbours(spaces):
    host, _ = spaces
    with nl.Netlink(host) as h:
        h.run(nl.new_veth("mdt-under", "mdt-under2"))
        under = h.index("mdt-under")
        h.run(nl.add_address(under, "192.0.2.1", 24, "mdt-under"), nl.set_link(under, up=True))
        h.run(nl.new_vxlan("mdt-vx", 4242, "192.0.2.1", under, port=4789, learning=False, proxy=True, mtu=1450))
        vx = h.index("mdt-vx")
        data = link_of(host, "mdt-vx")["linkinfo"]["info_data"]
        assert (data["id"], data["local"], data["link"], data["port"]) == (4242, "192.0.2.1", "mdt-under", 4789)
        assert data["proxy"] is True and data["learning"] is False
        assert link_of(host, "mdt-vx")["mtu"] == 1450

        zero, mac = "00:00:00:00:00:00", "02:42:0a:00:00:09"
        h.run(nl.append_fdb(vx, zero, "192.0.2.7"), nl.append_fdb(vx, zero, "192.0.2.8"),
              nl.append_fdb(vx, mac, "192.0.2.8"), nl.set_neighbour(vx, "10.0.0.9", mac))
        h.run(nl.set_neighbour(vx, "10.0.0.9", mac))  # replace: no error the second time

        def fdb():
            return sorted((f["mac"], f["dst"]) for f in ip(host, "bridge", "-j", "fdb", "show", "dev", "mdt-vx")
                          if f.get("dst"))
        assert fdb() == [(zero, "192.0.2.7"), (zero, "192.0.2.8"), (mac, "192.0.2.8")]
        assert sorted((n.lladdr, n.dst) for n in h.neighbours(nl.AF_BRIDGE, vx) if n.dst) == fdb()
        neigh = ip(host, "ip", "-j", "-4", "neigh", "show", "dev", "mdt-vx")
        assert [(n["dst"], n["lladdr"], n["state"]) for n in neigh] == [("10.0.0.9", mac, ["PERMANENT"])]
        neighbours = h.neighbours(nl.AF_INET, vx)
        assert [(n.dst, n.lladdr, n.state) for n in neighbours] == [("10.0.0.9", mac, nl.NUD_PERMANENT)]

        h.run(nl.append_fdb(vx, zero, "192.0.2.7", "mdt-vx"))  # `bridge fdb append` of an entry there: no change
        assert len(fdb()) == 3
        h.run(nl.del_fdb(vx, zero, "192.0.2.7"), nl.del_fdb(vx, mac, "192.0.2.8"), nl.del_neighbour(vx, "10.0.0.9"))
        assert fdb() == [(zero, "192.0.2.8")]
        assert ip(host, "ip", "-j", "-4", "neigh", "show", "dev", "mdt-vx") == []
        h.run(nl.del_link("mdt-vx"))
        assert h.link("mdt-vx") is None


def test_refusals_name_the_object(spaces):
    host, box = spaces
    with nl.Netlink(host) as h:
        h.run(nl.new_bridge("mdt-dup"))
        with pytest.raises(OSError) as exc:
            h.run(nl.new_bridge("mdt-dup"))
        assert exc.value.errno == errno.EEXIST
        assert isinstance(exc.value, nl.NetlinkError)
        assert str(exc.value) == f"[Errno 17] cannot create bridge mdt-dup in {host}: File exists"
        with pytest.raises(OSError) as exc:
            h.run(nl.set_link("mdt-missing", up=True))
        assert exc.value.errno == errno.ENODEV and "mdt-missing" in str(exc.value)
        with pytest.raises(OSError) as exc:
            h.index("mdt-missing")
        assert exc.value.errno == errno.ENODEV and "mdt-missing" in str(exc.value)
        index = h.index("mdt-dup")
        h.run(nl.add_address(index, "10.1.2.3", 24, "mdt-dup"))
        with pytest.raises(OSError) as exc:
            h.run(nl.add_address(index, "10.1.2.3", 24, "mdt-dup"))
        assert exc.value.errno == errno.EEXIST and "10.1.2.3/24 to mdt-dup" in str(exc.value)
        # a tolerated errno is no error; in a batch the first refusal is raised, the rest still applied
        dup = nl.new_bridge("mdt-dup")
        dup.tolerate = (errno.EEXIST,)
        h.run(dup)
        with pytest.raises(OSError) as exc:
            h.run(nl.new_bridge("mdt-dup"), nl.new_bridge("mdt-other"))
        assert "mdt-dup" in str(exc.value)
        assert h.link("mdt-other") is not None


def test_a_route_without_a_gateway_and_ipv6(spaces):
    _, box = spaces
    with nl.Netlink(box) as c:
        c.run(nl.new_bridge("mdt-6"))
        index = c.index("mdt-6")
        c.run(nl.set_link(index, up=True), nl.add_address(index, "fd00:77::1", 64, "mdt-6"),
              nl.add_address(index, "10.5.0.1", 24, "mdt-6"), nl.add_route("10.6.0.0/16", oif=index))
        got = {(a["local"], a["prefixlen"])
               for a in ip(box, "ip", "-j", "addr", "show", "dev", "mdt-6")[0]["addr_info"]}
        assert {("fd00:77::1", 64), ("10.5.0.1", 24)} <= got
        assert [r["dev"] for r in ip(box, "ip", "-j", "route", "show", "10.6.0.0/16")] == ["mdt-6"]
        assert ("fd00:77::1", 64) in {(a.address, a.prefixlen) for a in c.addresses(nl.AF_INET6, index)}

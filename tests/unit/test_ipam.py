"""IPAM bitmap, port specs, generated /etc files and the nft batch: pure logic, no root."""

from __future__ import annotations

import ipaddress
import json
import os

import pytest
from hypothesis import given, settings, strategies as st

from mydocker.errors import Conflict, InvalidArgument
from mydocker.network import etcfiles, firewall, ports
from mydocker.network.ipam import Bitmap, ip_int, ip_text, parse_subnet


def test_reserved_addresses_are_never_handed_out():
    b = Bitmap("10.77.0.0/29")
    got = [b.allocate() for _ in range(5)]
    assert got == ["10.77.0.2", "10.77.0.3", "10.77.0.4", "10.77.0.5", "10.77.0.6"]
    with pytest.raises(Conflict, match="no free IP address left in subnet 10.77.0.0/29"):
        b.allocate()


def test_custom_gateway_is_reserved():
    b = Bitmap("10.77.0.0/29", gateway="10.77.0.6")
    assert b.taken("10.77.0.6") and not b.taken("10.77.0.1")
    assert "10.77.0.6" not in [b.allocate() for _ in range(5)]


def test_fixed_ip_and_its_errors():
    b = Bitmap("10.77.0.0/24")
    assert b.allocate("10.77.0.50") == "10.77.0.50"
    with pytest.raises(Conflict, match="already in use"):
        b.allocate("10.77.0.50")
    with pytest.raises(Conflict):
        b.allocate("10.77.0.1")  # the gateway
    with pytest.raises(InvalidArgument, match="not in the network's subnet"):
        b.allocate("10.78.0.5")
    with pytest.raises(InvalidArgument, match="invalid IP address"):
        b.allocate("10.77.0.500")


def test_release_makes_the_address_available_again_and_survives_a_round_trip():
    b = Bitmap("10.77.0.0/24")
    first = b.allocate()
    second = b.allocate()
    b.release(first)
    again = Bitmap("10.77.0.0/24", bits=b.to_bytes())   # as stored in the records
    assert again.allocate() == first
    assert again.taken(second)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.ip_addresses(v=4).map(str), st.text(alphabet="0123456789.", max_size=16),
                 st.text(max_size=16)))
def test_the_hand_written_address_parser_reads_what_ipaddress_reads(text):
    """Bitmap reads and writes addresses without ipaddress (2 ms of imports on run's path)."""
    try:
        expected = int(ipaddress.IPv4Address(text))
    except ValueError:
        expected = None
    assert ip_int(text) == expected
    if expected is not None:
        assert ip_text(expected) == text


def test_a_recorded_bitmap_is_read_without_ipaddress():
    import subprocess
    import sys
    code = ("import sys; from mydocker.network.ipam import Bitmap; b = Bitmap('10.77.0.0/24', bits=bytes(256)); "
            "b.allocate('10.77.0.9'); print(b.allocate(), b.default_gateway(), 'ipaddress' in sys.modules)")
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repo).stdout
    assert out.split() == ["10.77.0.1", "10.77.0.1", "False"]


@pytest.mark.parametrize("text, message", [
    ("10.77.0.0", "network address and prefix"), ("10.77.0.5/24", "network address and prefix"),
    ("10.77.0.0/31", "unusable size"), ("10.0.0.0/7", "unusable size"), ("banana", "invalid subnet"),
    ("fd00::/64", "invalid subnet"),
])
def test_bad_subnets(text, message):
    with pytest.raises(InvalidArgument, match=message):
        parse_subnet(text)


@settings(max_examples=60, deadline=None)
@given(prefix=st.integers(24, 30), ops=st.lists(st.tuples(st.booleans(), st.integers(0, 255)), max_size=200))
def test_allocations_are_unique_inside_the_subnet_and_never_reserved(prefix, ops):
    b = Bitmap(f"10.99.0.0/{prefix}")
    net = ipaddress.IPv4Network(f"10.99.0.0/{prefix}")
    held: list[str] = []
    for allocate, pick in ops:
        if allocate:
            try:
                ip = b.allocate()
            except Conflict:
                assert len(held) == net.num_addresses - 3
                continue
            assert ip not in held
            assert ipaddress.IPv4Address(ip) in net
            assert ip not in (str(net.network_address), str(net.broadcast_address), str(net.network_address + 1))
            held.append(ip)
        elif held:
            b.release(held.pop(pick % len(held)))
        assert b.free_count() == net.num_addresses - 3 - len(held)


@pytest.mark.parametrize("spec, want", [
    ("80", ports.PortMapping(80, "tcp", 0, "")),
    ("8080:80", ports.PortMapping(80, "tcp", 8080, "")),
    ("127.0.0.1:8443:443/tcp", ports.PortMapping(443, "tcp", 8443, "127.0.0.1")),
    ("5353:53/udp", ports.PortMapping(53, "udp", 5353, "")),
    ("0.0.0.0:81:80", ports.PortMapping(80, "tcp", 81, "")),
    ("127.0.0.1::80", ports.PortMapping(80, "tcp", 0, "127.0.0.1")),
])
def test_port_specs(spec, want):
    assert ports.parse(spec) == want


@pytest.mark.parametrize("spec", ["", "80/sctp", "0:80", "8080:70000", "a:b", "1.2.3.4.5:80:80", "1:2:3:4",
                                  "8000-8010:80", "[::1]:80:80", "8080:"])
def test_bad_port_specs(spec):
    with pytest.raises(InvalidArgument, match="-p"):
        ports.parse(spec)


@given(st.integers(1, 65535), st.integers(1, 65535), st.sampled_from(["tcp", "udp"]))
def test_port_spec_round_trip(host, ctr, proto):
    assert ports.parse(f"{host}:{ctr}/{proto}") == ports.PortMapping(ctr, proto, host, "")


def test_resolv_conf_drops_loopback_resolvers_only():
    host = ("# generated\nsearch example.org\nnameserver 127.0.0.53\nnameserver 192.0.2.53\nnameserver ::1\n"
            "options edns0\n")
    out = etcfiles.resolv_conf(host)
    assert "127.0.0.53" not in out and "::1" not in out
    assert "nameserver 192.0.2.53" in out and "search example.org" in out and "options edns0" in out
    assert "8.8.8.8" not in out


def test_resolv_conf_falls_back_when_only_loopback_remains():
    out = etcfiles.resolv_conf("nameserver 127.0.0.1\n")
    assert out.splitlines() == ["nameserver 8.8.8.8", "nameserver 8.8.4.4"]
    assert "127.0.0.1" in etcfiles.resolv_conf("nameserver 127.0.0.1\n", host_netns=True)


def test_hosts_lists_self_and_peers():
    text = etcfiles.hosts([("10.77.0.2", ["abc", "web", "web"])], [("10.77.0.3", ["db", "database"])])
    assert "127.0.0.1\tlocalhost" in text
    assert "10.77.0.2\tabc web\n" in text and "10.77.0.3\tdb database\n" in text


def test_write_in_place_keeps_the_inode(tmp_path):
    path = tmp_path / "hosts"
    etcfiles.write_in_place(str(path), "a much longer first version\n")
    inode = path.stat().st_ino
    etcfiles.write_in_place(str(path), "short\n")
    assert path.read_text() == "short\n" and path.stat().st_ino == inode


def test_firewall_batch_names_its_own_table_and_chains():
    rs = firewall.Ruleset("mydocker", [firewall.Net("md-a", "10.77.0.0/24"), firewall.Net("md-b", "10.78.0.0/24")],
                          [firewall.Port("c" * 64, "udp", 5353, "10.77.0.2", 53, "127.0.0.1"),
                           firewall.Port("d" * 64, "tcp", 8080, "10.78.0.3", 80)])
    lines = firewall.batch(rs).splitlines()
    assert lines[0] == "add table ip mydocker"
    assert "flush table ip mydocker" in lines and "flush map ip mydocker MYDOCKER-PORTS" in lines
    made = [line.split()[1:5] for line in lines if line.split()[1] in ("chain", "map", "rule", "element")]
    assert all(words[1:3] == ["ip", "mydocker"] and words[3].startswith("MYDOCKER-") for words in made)
    # published ports are map elements, not rules: a container changes no rule
    assert ('add element ip mydocker MYDOCKER-HOSTPORTS '
            '{ 127.0.0.1 . udp . 5353 comment "cccccccccccc" : 10.77.0.2 . 53 }') in lines
    assert 'add element ip mydocker MYDOCKER-PORTS { tcp . 8080 comment "dddddddddddd" : 10.78.0.3 . 80 }' in lines
    assert not [line for line in lines if line.startswith("add rule") and ("10.77.0.2" in line or "10.78.0.3" in line)]
    drops = [line.split()[6] for line in lines if line.startswith("add rule") and line.endswith(" drop")]
    # nothing else gets into either network: isolation from each other and from routed outsiders
    assert drops == ['"md-a"', '"md-b"']


def test_firewall_batch_without_networks_only_removes_the_table():
    assert firewall.batch(firewall.Ruleset("mydocker")) == "add table ip mydocker\ndelete table ip mydocker\n"


def test_firewall_port_batch_removes_whether_or_not_the_element_is_there():
    port = firewall.Port("e" * 64, "tcp", 8080, "10.78.0.3", 80, "0.0.0.0")
    assert firewall.port_batch("t", remove=[port]).splitlines() == [
        "add element ip t MYDOCKER-PORTS { tcp . 8080 : 10.78.0.3 . 80 }",
        "delete element ip t MYDOCKER-PORTS { tcp . 8080 }"]
    assert firewall.port_batch("t") == ""

"""The netlink message parser (mydocker/network/netlink.py) on made-up and mangled input: what it
packs it reads back, and a truncated or garbled read is a ValueError, never anything else."""

from __future__ import annotations

import struct

from hypothesis import given, strategies as st

from mydocker.network import netlink as nl

kinds = st.integers(min_value=0, max_value=0x3FFF)
values = st.binary(max_size=64)
attr_lists = st.lists(st.tuples(kinds, values), max_size=8)


def pack(attrs) -> bytes:
    return b"".join(nl.attr(k, v) for k, v in attrs)


@given(attr_lists)
def test_attributes_read_back(attrs):
    assert nl.parse_attrs(pack(attrs)) == {k: v for k, v in attrs}


@given(attr_lists, kinds)
def test_nested_attributes_read_back(attrs, outer):
    parsed = nl.parse_attrs(nl.nested(outer, pack(attrs)))
    assert list(parsed) == [outer]  # the nested flag is masked off the type
    assert nl.parse_attrs(parsed[outer]) == {k: v for k, v in attrs}


@given(st.binary(max_size=200))
def test_garbage_is_a_value_error_or_attributes(data):
    try:
        parsed = nl.parse_attrs(data)
    except ValueError:
        return
    assert all(isinstance(v, bytes) for v in parsed.values())


@given(attr_lists.filter(lambda a: a), st.data())
def test_truncated_attributes_are_refused(attrs, data):
    raw = pack(attrs)
    last_size = 4 + len(attrs[-1][1])
    start = len(raw) - nl._align(last_size)
    cut = data.draw(st.integers(min_value=start + 1, max_value=start + last_size - 1))  # inside the last one
    try:
        nl.parse_attrs(raw[:cut])
    except ValueError:
        return
    raise AssertionError(f"a read cut at {cut} of {len(raw)} was accepted")


def message(kind: int, seq: int, payload: bytes) -> bytes:
    size = 16 + len(payload)
    return struct.pack("=IHHII", size, kind, 0, seq, 0) + payload + b"\0" * (nl._align(size) - size)


@given(st.lists(st.tuples(st.integers(0, 0xFFFF), st.integers(0, 2**32 - 1), values), max_size=6))
def test_messages_read_back(msgs):
    raw = b"".join(message(k, s, p) for k, s, p in msgs)
    assert [(k, s, p) for k, _f, s, p in nl.parse_messages(raw)] == [(k, s, p) for k, s, p in msgs]


@given(st.lists(st.tuples(st.integers(0, 0xFFFF), values), min_size=1, max_size=4), st.data())
def test_truncated_reads_are_refused(msgs, data):
    raw = b"".join(message(k, 1, p) for k, p in msgs)
    last_size = 16 + len(msgs[-1][1])
    start = len(raw) - nl._align(last_size)
    cut = data.draw(st.integers(min_value=start + 1, max_value=start + last_size - 1))
    try:
        nl.parse_messages(raw[:cut])
    except ValueError:
        return
    raise AssertionError(f"a read cut at {cut} of {len(raw)} was accepted")


@given(st.binary(max_size=300))
def test_garbled_messages_and_objects_raise_only_value_errors(data):
    """Whatever the bytes, the parsers answer or raise ValueError (the engine turns that into one line)."""
    for parse in (nl.parse_messages, nl.parse_link, nl.parse_address, nl.parse_neighbour):
        try:
            parse(data)
        except ValueError:
            pass


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=15),
       st.integers(1, 2**31 - 1), st.integers(68, 65535), st.binary(min_size=6, max_size=6))
def test_a_link_reads_back(name, index, mtu, mac):
    payload = (nl.IFINFOMSG.pack(0, 1, index, nl.IFF_UP, 0) + nl.string(nl.IFLA_IFNAME, name) + nl.u32(nl.IFLA_MTU, mtu)
               + nl.attr(nl.IFLA_ADDRESS, mac) + nl.nested(nl.IFLA_LINKINFO, nl.string(nl.IFLA_INFO_KIND, "veth")))
    link = nl.parse_link(payload)
    assert ((link.index, link.name, link.mtu, link.mac, link.kind, link.up)
            == (index, name, mtu, nl.mac_text(mac), "veth", True))


def test_requests_carry_what_the_kernel_needs():
    req = nl.add_address(3, "10.0.0.2", 24, "eth0")
    family, prefixlen, _flags, _scope, index = nl.IFADDRMSG.unpack_from(req.body)
    attrs = nl.parse_attrs(req.body[nl.IFADDRMSG.size:])
    assert (family, prefixlen, index) == (nl.AF_INET, 24, 3)
    assert attrs[nl.IFA_LOCAL] == attrs[nl.IFA_ADDRESS] == bytes([10, 0, 0, 2])
    assert attrs[nl.IFA_BROADCAST] == bytes([10, 0, 0, 255])
    assert req.what == "add address 10.0.0.2/24 to eth0"
    veth = nl.parse_attrs(nl.new_veth("mdx", "eth0", 7).body[nl.IFINFOMSG.size:])
    info = nl.parse_attrs(veth[nl.IFLA_LINKINFO])
    peer = nl.parse_attrs(nl.parse_attrs(info[nl.IFLA_INFO_DATA])[nl.VETH_INFO_PEER][nl.IFINFOMSG.size:])
    assert peer[nl.IFLA_IFNAME] == b"eth0\0" and peer[nl.IFLA_NET_NS_FD] == struct.pack("=I", 7)


def test_disabling_a_bridge_port_sets_its_state_and_flushes_it_in_one_message():
    req = nl.disable_bridge_port(9, "mdx")
    family, _type, index, _flags, _change = nl.IFINFOMSG.unpack_from(req.body)
    info = nl.parse_attrs(nl.parse_attrs(req.body[nl.IFINFOMSG.size:])[nl.IFLA_PROTINFO])
    assert (req.kind, family, index) == (nl.RTM_SETLINK, nl.AF_BRIDGE, 9)
    assert info == {nl.IFLA_BRPORT_STATE: bytes([nl.BR_STATE_DISABLED]), nl.IFLA_BRPORT_FLUSH: b""}

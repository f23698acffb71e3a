"""A small rtnetlink client: links, addresses, routes, neighbours and FDB entries over a
NETLINK_ROUTE socket, packed with `struct` (what pyroute2 did for us, without its ~150 ms import).

Every request asks for an ACK; an NLMSG_ERROR answer becomes OSError(errno, "<what>: <strerror>")
where <what> names the operation and the object (the kernel's extended-ack text is appended when
it gives one). Requests built by the module-level builders can be sent together (`Netlink.run`):
one write, then one ACK per request.

Another network namespace: the socket is opened inside it (`Netlink(netns=path)` setns-es this
thread there for the socket(2) call only, then back: a netlink socket stays bound to the namespace
it was made in). That is one setns pair instead of a forked helper; it relies on the engine being
single-threaded, as netns.entered does.

Why here and not in mydocker/linux/: it is a protocol client (message formats, attributes, the
objects of rtnetlink), which DESIGN.md gives to the network layer; linux/ holds thin syscall wrappers.
"""

from __future__ import annotations

import _socket  # not `socket`: its enum classes cost import time on `run`'s path
import os
import struct
from mydocker.recordclass import record
from mydocker.lazy import lazy_module

namespaces = lazy_module("mydocker.network.netns")

NETLINK_ROUTE = 0
_SOL_NETLINK = 270
_NETLINK_CAP_ACK = 10   # the kernel's error answer does not echo our whole request back
_NETLINK_EXT_ACK = 11   # ... but carries a text saying what it disliked

# message types
NLMSG_NOOP, NLMSG_ERROR, NLMSG_DONE = 1, 2, 3
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_SETLINK = 16, 17, 18, 19
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
RTM_NEWNEIGH, RTM_DELNEIGH, RTM_GETNEIGH = 28, 29, 30

# nlmsghdr flags
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK = 0x1, 0x2, 0x4
NLM_F_DUMP = 0x300
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE, NLM_F_APPEND = 0x100, 0x200, 0x400, 0x800
_NLM_F_ACK_TLVS = 0x200  # on an NLMSG_ERROR: extended-ack attributes follow
_NLMSGERR_ATTR_MSG = 1

AF_UNSPEC, AF_INET, AF_BRIDGE, AF_INET6 = 0, 2, 7, 10
IFF_UP = 0x1

# link attributes
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK, IFLA_MASTER = 1, 3, 4, 5, 10
IFLA_PROTINFO, IFLA_LINKINFO, IFLA_NET_NS_FD = 12, 18, 28
IFLA_BRPORT_STATE, IFLA_BRPORT_FLUSH = 1, 24   # in IFLA_PROTINFO of an AF_BRIDGE RTM_SETLINK
BR_STATE_DISABLED = 0
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFLA_VXLAN_ID, IFLA_VXLAN_LINK, IFLA_VXLAN_LOCAL = 1, 3, 4
IFLA_VXLAN_LEARNING, IFLA_VXLAN_PROXY, IFLA_VXLAN_PORT = 7, 11, 15
# address attributes
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_BROADCAST = 1, 2, 3, 4
# route attributes and values
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_TABLE = 1, 4, 5, 15
RT_TABLE_MAIN, RTPROT_BOOT, RTN_UNICAST = 254, 3, 1
RT_SCOPE_UNIVERSE, RT_SCOPE_LINK = 0, 253
# neighbour attributes, states and flags
NDA_DST, NDA_LLADDR = 1, 2
NUD_PERMANENT = 0x80
NTF_SELF, NTF_MASTER = 0x2, 0x4

NLA_F_NESTED = 0x8000
_NLA_TYPE_MASK = 0x3FFF

_HDR = struct.Struct("=IHHII")         # nlmsghdr: len, type, flags, seq, pid
_ATTR = struct.Struct("=HH")           # rtattr: len, type
IFINFOMSG = struct.Struct("=BxHiII")   # family, type, index, flags, change
IFADDRMSG = struct.Struct("=BBBBI")    # family, prefixlen, flags, scope, index
RTMSG = struct.Struct("=BBBBBBBBI")    # family, dst_len, src_len, tos, table, protocol, scope, type, flags
NDMSG = struct.Struct("=BxxxiHBB")     # family, ifindex, state, flags, type
_U32 = struct.Struct("=I")


# attributes: type-length-value, each padded to 4 bytes

def _align(n: int) -> int:
    return (n + 3) & ~3


def attr(kind: int, value: bytes) -> bytes:
    """One attribute, padded."""
    size = _ATTR.size + len(value)
    return _ATTR.pack(size, kind) + value + b"\0" * (_align(size) - size)


def nested(kind: int, *attrs: bytes) -> bytes:
    return attr(kind | NLA_F_NESTED, b"".join(attrs))


def u8(kind: int, value: int) -> bytes:
    return attr(kind, bytes((value,)))


def u32(kind: int, value: int) -> bytes:
    return attr(kind, _U32.pack(value))


def string(kind: int, value: str) -> bytes:
    return attr(kind, value.encode() + b"\0")


def parse_attrs(data: bytes | memoryview) -> dict[int, bytes]:
    """Attributes by type (the nested flag masked off; a repeated type keeps the last). Raises
    ValueError on a truncated or malformed attribute."""
    out: dict[int, bytes] = {}
    view = memoryview(data)
    offset = 0
    while offset < len(view):
        if len(view) - offset < _ATTR.size:
            raise ValueError(f"netlink attribute header truncated at byte {offset}")
        size, kind = _ATTR.unpack_from(view, offset)
        if size < _ATTR.size or offset + size > len(view):
            raise ValueError(f"netlink attribute of length {size} at byte {offset} overruns its message")
        out[kind & _NLA_TYPE_MASK] = bytes(view[offset + _ATTR.size:offset + size])
        offset += _align(size)
    return out


def parse_messages(data: bytes | memoryview) -> list[tuple[int, int, int, bytes]]:
    """(type, flags, seq, payload) of each message in one read. Raises ValueError when truncated."""
    out = []
    view = memoryview(data)
    offset = 0
    while offset < len(view):
        if len(view) - offset < _HDR.size:
            raise ValueError(f"netlink message header truncated at byte {offset}")
        size, kind, flags, seq, _pid = _HDR.unpack_from(view, offset)
        if size < _HDR.size or offset + size > len(view):
            raise ValueError(f"netlink message of length {size} at byte {offset} overruns the read")
        out.append((kind, flags, seq, bytes(view[offset + _HDR.size:offset + size])))
        offset += _align(size)
    return out


def _text(value: bytes) -> str:
    return value.split(b"\0", 1)[0].decode(errors="replace")


def _u32_of(value: bytes | None) -> int | None:
    return _U32.unpack_from(value)[0] if value and len(value) >= 4 else None


def ip_bytes(address: str) -> tuple[int, bytes]:
    family = AF_INET6 if ":" in address else AF_INET
    return family, _socket.inet_pton(family, address)


def ip_text(value: bytes) -> str:
    return _socket.inet_ntop(AF_INET6 if len(value) == 16 else AF_INET, value)


def mac_bytes(mac: str) -> bytes:
    raw = bytes.fromhex(mac.replace(":", ""))
    if len(raw) != 6:
        raise ValueError(f"{mac!r} is not a MAC address (six hex bytes, aa:bb:cc:dd:ee:ff)")
    return raw


def mac_text(value: bytes) -> str:
    return ":".join(f"{b:02x}" for b in value)


# what the kernel reports

@record
class Link:
    index: int
    name: str
    flags: int
    mtu: int | None = None
    mac: str | None = None
    master: int | None = None
    kind: str | None = None

    @property
    def up(self) -> bool:
        return bool(self.flags & IFF_UP)


@record
class Address:
    index: int
    family: int
    prefixlen: int
    address: str


@record
class Neighbour:
    """A neighbour entry (family AF_INET/AF_INET6) or an FDB entry (family AF_BRIDGE: `dst` is the
    remote VTEP of a VXLAN entry, or None)."""
    index: int
    family: int
    state: int
    flags: int
    lladdr: str | None = None
    dst: str | None = None


def parse_link(payload: bytes) -> Link:
    if len(payload) < IFINFOMSG.size:
        raise ValueError("netlink link message shorter than its ifinfomsg")
    _family, _type, index, flags, _change = IFINFOMSG.unpack_from(payload)
    attrs = parse_attrs(payload[IFINFOMSG.size:])
    kind = None
    if IFLA_LINKINFO in attrs:
        info = parse_attrs(attrs[IFLA_LINKINFO])
        kind = _text(info[IFLA_INFO_KIND]) if IFLA_INFO_KIND in info else None
    return Link(index=index, name=_text(attrs.get(IFLA_IFNAME, b"")), flags=flags, mtu=_u32_of(attrs.get(IFLA_MTU)),
                mac=mac_text(attrs[IFLA_ADDRESS]) if IFLA_ADDRESS in attrs else None,
                master=_u32_of(attrs.get(IFLA_MASTER)), kind=kind)


def parse_address(payload: bytes) -> Address:
    if len(payload) < IFADDRMSG.size:
        raise ValueError("netlink address message shorter than its ifaddrmsg")
    family, prefixlen, _flags, _scope, index = IFADDRMSG.unpack_from(payload)
    attrs = parse_attrs(payload[IFADDRMSG.size:])
    value = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS) or b""
    return Address(index=index, family=family, prefixlen=prefixlen, address=ip_text(value) if value else "")


def parse_neighbour(payload: bytes) -> Neighbour:
    if len(payload) < NDMSG.size:
        raise ValueError("netlink neighbour message shorter than its ndmsg")
    family, index, state, flags, _type = NDMSG.unpack_from(payload)
    attrs = parse_attrs(payload[NDMSG.size:])
    return Neighbour(index=index, family=family, state=state, flags=flags,
                     lladdr=mac_text(attrs[NDA_LLADDR]) if NDA_LLADDR in attrs else None,
                     dst=ip_text(attrs[NDA_DST]) if NDA_DST in attrs else None)


# requests: built here, sent (alone or together) by Netlink.run

@record
class Request:
    kind: int                  # RTM_*
    flags: int                 # NLM_F_* besides REQUEST and ACK
    body: bytes                # the family header and the attributes
    what: str                  # "create bridge md-x": names the object in an error
    tolerate: tuple[int, ...] = ()  # errnos that mean "already so" for this caller

    def tolerating(self, *codes: int) -> Request:
        """This request, with these errnos taken as success (EEXIST on an idempotent create)."""
        self.tolerate = codes
        return self


def _ref(link: int | str) -> tuple[int, bytes]:
    """A link by index, or by name (the kernel looks the name up: no round trip of ours)."""
    return (link, b"") if isinstance(link, int) else (0, string(IFLA_IFNAME, link))


def new_link(name: str, kind: str, data: bytes = b"", mtu: int | None = None, what: str | None = None,
             master: int | None = None, up: bool = False) -> Request:
    """A new link of `kind`; with `master` already on that bridge, with `up` already up (one message)."""
    info = string(IFLA_INFO_KIND, kind) + (nested(IFLA_INFO_DATA, data) if data else b"")
    body = (IFINFOMSG.pack(AF_UNSPEC, 0, 0, IFF_UP if up else 0, IFF_UP if up else 0) + string(IFLA_IFNAME, name)
            + nested(IFLA_LINKINFO, info) + (u32(IFLA_MTU, mtu) if mtu else b"")
            + (u32(IFLA_MASTER, master) if master else b""))
    return Request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body, what or f"create {kind} {name}")


def new_bridge(name: str, mtu: int | None = None) -> Request:
    return new_link(name, "bridge", mtu=mtu)


def new_veth(name: str, peer: str, peer_netns_fd: int | None = None, mtu: int | None = None,
             master: int | None = None, up: bool = False) -> Request:
    """A veth pair; with `peer_netns_fd` (an open fd of a netns) the peer is made in that namespace;
    `master` and `up` are this end's (the peer stays down)."""
    peer_attrs = string(IFLA_IFNAME, peer) + (u32(IFLA_NET_NS_FD, peer_netns_fd) if peer_netns_fd is not None else b"")
    peer_attrs += u32(IFLA_MTU, mtu) if mtu else b""
    data = attr(VETH_INFO_PEER, IFINFOMSG.pack(AF_UNSPEC, 0, 0, 0, 0) + peer_attrs)
    return new_link(name, "veth", data, mtu, f"create veth {name} (peer {peer})", master, up)


def new_vxlan(name: str, vni: int, local: str | None = None, underlay: int | None = None, port: int = 4789,
              learning: bool = True, proxy: bool = False, mtu: int | None = None) -> Request:
    data = u32(IFLA_VXLAN_ID, vni) + attr(IFLA_VXLAN_PORT, struct.pack("!H", port))
    data += attr(IFLA_VXLAN_LOCAL, ip_bytes(local)[1]) if local else b""
    data += u32(IFLA_VXLAN_LINK, underlay) if underlay else b""
    data += u8(IFLA_VXLAN_LEARNING, int(learning)) + u8(IFLA_VXLAN_PROXY, int(proxy))
    return new_link(name, "vxlan", data, mtu, f"create vxlan {name} (VNI {vni})")


def set_link(link: int | str, *, up: bool | None = None, mtu: int | None = None, mac: str | None = None,
             master: int | None = None, name: str | None = None, netns_fd: int | None = None,
             what: str | None = None) -> Request:
    """Change a link: state, MTU, MAC, bridge (`master`, 0 = none), name (by index only), namespace."""
    index, attrs = _ref(link)
    if name is not None:
        if not index:
            raise ValueError("renaming a link needs its index")
        attrs += string(IFLA_IFNAME, name)
    attrs += u32(IFLA_MTU, mtu) if mtu else b""
    attrs += attr(IFLA_ADDRESS, mac_bytes(mac)) if mac else b""
    attrs += u32(IFLA_MASTER, master) if master is not None else b""
    attrs += u32(IFLA_NET_NS_FD, netns_fd) if netns_fd is not None else b""
    flags, change = (0, 0) if up is None else (IFF_UP if up else 0, IFF_UP)
    return Request(RTM_NEWLINK, 0, IFINFOMSG.pack(AF_UNSPEC, 0, index, flags, change) + attrs,
                   what or f"configure link {link}")


def disable_bridge_port(index: int, name: str) -> Request:
    """`bridge link set dev NAME state 0` and `bridge fdb flush dev NAME`, in one message: the port
    neither forwards nor learns, and the MACs it had learnt are forgotten. Unlike taking the link
    down (which waits for an RCU grace period in the kernel: 0.5-2.5 ms here), nothing waits."""
    info = nested(IFLA_PROTINFO, u8(IFLA_BRPORT_STATE, BR_STATE_DISABLED), attr(IFLA_BRPORT_FLUSH, b""))
    return Request(RTM_SETLINK, 0, IFINFOMSG.pack(AF_BRIDGE, 0, index, 0, 0) + info, f"disable bridge port {name}")


def del_link(link: int | str) -> Request:
    index, attrs = _ref(link)
    return Request(RTM_DELLINK, 0, IFINFOMSG.pack(AF_UNSPEC, 0, index, 0, 0) + attrs, f"delete link {link}")


def _address(kind: int, flags: int, index: int, address: str, prefixlen: int, what: str) -> Request:
    family, raw = ip_bytes(address)
    attrs = attr(IFA_LOCAL, raw) + attr(IFA_ADDRESS, raw)
    if family == AF_INET and prefixlen < 31:  # `ip addr add ... brd +`, as Docker's bridge has it
        host = (1 << (32 - prefixlen)) - 1
        attrs += attr(IFA_BROADCAST, (int.from_bytes(raw, "big") | host).to_bytes(4, "big"))
    return Request(kind, flags, IFADDRMSG.pack(family, prefixlen, 0, RT_SCOPE_UNIVERSE, index) + attrs, what)


def add_address(index: int, address: str, prefixlen: int, name: str | None = None) -> Request:
    return _address(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, index, address, prefixlen,
                    f"add address {address}/{prefixlen} to {name or f'link {index}'}")


def del_address(index: int, address: str, prefixlen: int, name: str | None = None) -> Request:
    return _address(RTM_DELADDR, 0, index, address, prefixlen,
                    f"delete address {address}/{prefixlen} from {name or f'link {index}'}")


def _route(kind: int, flags: int, dst: str, gateway: str | None, oif: int | None, what: str) -> Request:
    if dst == "default":
        family, raw, length = (ip_bytes(gateway)[0] if gateway else AF_INET), b"", 0
    else:
        net, _, bits = dst.partition("/")
        family, raw = ip_bytes(net)
        length = int(bits) if bits else len(raw) * 8
    scope = RT_SCOPE_UNIVERSE if gateway else RT_SCOPE_LINK
    attrs = (attr(RTA_DST, raw) if raw else b"") + (attr(RTA_GATEWAY, ip_bytes(gateway)[1]) if gateway else b"")
    attrs += u32(RTA_OIF, oif) if oif else b""
    header = RTMSG.pack(family, length, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, scope, RTN_UNICAST, 0)
    return Request(kind, flags, header + attrs, what)


def add_route(dst: str = "default", gateway: str | None = None, oif: int | None = None) -> Request:
    """`ip route add <dst> [via <gateway>] [dev <oif>]` in the main table."""
    return _route(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, dst, gateway, oif,
                  f"add route {dst}" + (f" via {gateway}" if gateway else ""))


def del_route(dst: str = "default", gateway: str | None = None, oif: int | None = None) -> Request:
    return _route(RTM_DELROUTE, 0, dst, gateway, oif, f"delete route {dst}" + (f" via {gateway}" if gateway else ""))


def set_neighbour(index: int, ip: str, mac: str, name: str | None = None) -> Request:
    """`ip neigh replace <ip> lladdr <mac> dev <index> nud permanent`."""
    family, raw = ip_bytes(ip)
    body = NDMSG.pack(family, index, NUD_PERMANENT, 0, 0) + attr(NDA_DST, raw) + attr(NDA_LLADDR, mac_bytes(mac))
    return Request(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, body, f"set neighbour {ip} on {name or index}")


def del_neighbour(index: int, ip: str, name: str | None = None) -> Request:
    family, raw = ip_bytes(ip)
    return Request(RTM_DELNEIGH, 0, NDMSG.pack(family, index, 0, 0, 0) + attr(NDA_DST, raw),
                   f"delete neighbour {ip} from {name or index}")


def append_fdb(index: int, mac: str, dst: str, name: str | None = None) -> Request:
    """`bridge fdb append <mac> dev <index> dst <dst> self permanent` (a VXLAN device's own table)."""
    body = (NDMSG.pack(AF_BRIDGE, index, NUD_PERMANENT, NTF_SELF, 0) + attr(NDA_LLADDR, mac_bytes(mac))
            + attr(NDA_DST, ip_bytes(dst)[1]))
    return Request(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_APPEND, body, f"add fdb entry {mac} dst {dst} to {name or index}")


def del_fdb(index: int, mac: str, dst: str | None = None, master: bool = False, name: str | None = None) -> Request:
    """`bridge fdb del <mac> dev <index> [dst <dst>] self|master`: the device's own entry, or (master)
    the one its bridge learnt."""
    body = (NDMSG.pack(AF_BRIDGE, index, 0, NTF_MASTER if master else NTF_SELF, 0) + attr(NDA_LLADDR, mac_bytes(mac))
            + (attr(NDA_DST, ip_bytes(dst)[1]) if dst else b""))
    return Request(RTM_DELNEIGH, 0, body, f"delete fdb entry {mac}" + (f" dst {dst}" if dst else "")
                   + f" from {name or index}")


# the socket

class NetlinkError(OSError):
    """The kernel refused a request: OSError(errno, "cannot <what, naming the object>: <reason>")."""


class Netlink:
    """One NETLINK_ROUTE socket, in this namespace or (netns=path) in the namespace pinned there."""

    def __init__(self, netns: str | None = None) -> None:
        if netns is None:
            self.sock = self._open()
        else:
            with namespaces.entered(netns):
                self.sock = self._open()
        self.where = f" in {netns}" if netns else ""
        self._seq = 0

    @staticmethod
    def _open() -> _socket.socket:
        sock = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC, NETLINK_ROUTE)
        try:
            sock.setsockopt(_SOL_NETLINK, _NETLINK_CAP_ACK, 1)
            sock.setsockopt(_SOL_NETLINK, _NETLINK_EXT_ACK, 1)
        except OSError:
            pass  # an old kernel: plain errors, which are enough
        sock.bind((0, 0))
        return sock

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _frame(self, kind: int, flags: int, body: bytes) -> tuple[int, bytes]:
        self._seq += 1
        return self._seq, _HDR.pack(_HDR.size + len(body), kind, flags | NLM_F_REQUEST, self._seq, 0) + body

    def _error(self, payload: bytes, flags: int) -> tuple[int, str]:
        """(errno, the kernel's extended-ack text or "") of an NLMSG_ERROR payload; errno 0 is an ACK."""
        if len(payload) < 4 + _HDR.size:
            raise ValueError("netlink error message truncated")
        code = -struct.unpack_from("=i", payload)[0]
        detail = ""
        if flags & _NLM_F_ACK_TLVS:
            echoed = _HDR.unpack_from(payload, 4)[0] if not flags & 0x100 else _HDR.size  # 0x100: capped echo
            try:
                tlvs = parse_attrs(payload[4 + _align(echoed):])
                detail = _text(tlvs.get(_NLMSGERR_ATTR_MSG, b""))
            except ValueError:
                pass
        return code, detail

    def run(self, *requests: Request) -> None:
        """Send the requests in one write; wait for every ACK. The first refusal (in order) is raised
        as OSError(errno, "<what>: <reason>") unless its errno is one the request tolerates. The kernel
        applies each message on its own: the ones after a refused one are still applied."""
        if not requests:
            return
        pending: dict[int, Request] = {}
        frames = []
        for req in requests:
            seq, frame = self._frame(req.kind, req.flags | NLM_F_ACK, req.body)
            pending[seq] = req
            frames.append(frame)
        self.sock.send(b"".join(frames))
        failures: dict[int, OSError] = {}
        while pending:
            for kind, flags, seq, payload in parse_messages(self.sock.recv(1 << 16)):
                if seq not in pending or kind != NLMSG_ERROR:
                    continue
                req = pending.pop(seq)
                code, detail = self._error(payload, flags)
                if code and code not in req.tolerate:
                    reason = os.strerror(code) + (f" ({detail})" if detail else "")
                    failures[seq] = NetlinkError(code, f"cannot {req.what}{self.where}: {reason}")
        if failures:
            raise failures[min(failures)]

    def dump(self, kind: int, header: bytes, attrs: bytes = b"", what: str = "dump") -> list[bytes]:
        """The payloads of a dump request's answer."""
        seq, frame = self._frame(kind, NLM_F_DUMP, header + attrs)
        self.sock.send(frame)
        out: list[bytes] = []
        while True:
            for mtype, flags, mseq, payload in parse_messages(self.sock.recv(1 << 16)):
                if mseq != seq:
                    continue
                if mtype == NLMSG_DONE:
                    return out
                if mtype == NLMSG_ERROR:
                    code, detail = self._error(payload, flags)
                    raise NetlinkError(code, f"cannot {what}{self.where}: {os.strerror(code)}"
                                  + (f" ({detail})" if detail else ""))
                out.append(payload)

    # the reads

    def link(self, link: int | str) -> Link | None:
        """One link by name or index; None if there is no such link."""
        payload = self._get_link(link)
        return None if payload is None else parse_link(payload)

    def link_index(self, link: int | str) -> int | None:
        """A link's index, None if there is no such link: its header only, where `link` parses the
        ~40 attributes (1.9 KB) of the answer too."""
        payload = self._get_link(link)
        if payload is None:
            return None
        if len(payload) < IFINFOMSG.size:
            raise ValueError("netlink link message shorter than its ifinfomsg")
        return IFINFOMSG.unpack_from(payload)[2]

    def _get_link(self, link: int | str) -> bytes | None:
        """The RTM_NEWLINK payload answering a lookup of `link`; None if there is no such link."""
        index, attrs = _ref(link)
        seq, frame = self._frame(RTM_GETLINK, 0, IFINFOMSG.pack(AF_UNSPEC, 0, index, 0, 0) + attrs)
        self.sock.send(frame)
        while True:
            for kind, flags, mseq, payload in parse_messages(self.sock.recv(1 << 16)):
                if mseq != seq:
                    continue
                if kind == RTM_NEWLINK:
                    return payload
                if kind == NLMSG_ERROR:
                    code, detail = self._error(payload, flags)
                    if code in (_ENODEV, _ENOENT):
                        return None
                    raise NetlinkError(code, f"cannot look up link {link}{self.where}: {os.strerror(code)}")

    def index(self, name: str) -> int:
        """The index of link `name`; OSError(ENODEV) naming it if there is none."""
        found = self.link_index(name)
        if found is None:
            raise NetlinkError(_ENODEV, f"cannot find link {name}{self.where}: {os.strerror(_ENODEV)}")
        return found

    def links(self) -> list[Link]:
        return [parse_link(p) for p in self.dump(RTM_GETLINK, IFINFOMSG.pack(AF_UNSPEC, 0, 0, 0, 0), what="list links")]

    def addresses(self, family: int = AF_UNSPEC, index: int | None = None) -> list[Address]:
        found = [parse_address(p) for p in self.dump(RTM_GETADDR, IFADDRMSG.pack(family, 0, 0, 0, 0),
                                                      what="list addresses")]
        return [a for a in found if index is None or a.index == index]

    def neighbours(self, family: int = AF_INET, index: int | None = None) -> list[Neighbour]:
        """Neighbour entries (AF_INET, AF_INET6) or FDB entries (AF_BRIDGE), of one link if `index`."""
        found = [parse_neighbour(p) for p in self.dump(RTM_GETNEIGH, NDMSG.pack(family, 0, 0, 0, 0),
                                                        what="list neighbours")]
        return [n for n in found if n.family == family and (index is None or n.index == index)]


_ENODEV, _ENOENT = 19, 2

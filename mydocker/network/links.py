"""Bridges and veth pairs: the host side of a bridge endpoint, over netlink (mydocker/network/netlink.py).

A few ACKed messages per endpoint, several to one write where they do not depend on each other's
answer; the container's side through a netlink socket opened inside its namespace.
"""

from __future__ import annotations

import errno
import os

from mydocker.errors import RuntimeFailure
from mydocker.network import netlink as nl


def exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def _fail(what: str, exc: OSError) -> RuntimeFailure:
    """One line: what failed and why (a netlink refusal already says both, naming the object)."""
    if isinstance(exc, nl.NetlinkError):
        text = exc.strerror
    else:
        text = f"{what}: {exc.strerror or (os.strerror(exc.errno) if exc.errno else exc)}"
    return RuntimeFailure(f"{text}; check `ip link` and run `mydocker network reconcile`")


def ensure_bridge(name: str, gateway: str, prefixlen: int) -> None:
    """The bridge `name` with the gateway address, up; created if missing (idempotent)."""
    try:
        with nl.Netlink() as sock:
            _bridge_up(sock, name, gateway, prefixlen)
    except OSError as e:
        raise _fail(f"cannot set up bridge {name}", e) from None
    _route_localnet(name)


def _bridge_up(sock: nl.Netlink, name: str, gateway: str, prefixlen: int, then=None) -> None:
    """ensure_bridge's messages on `sock`; `then(index)`: more requests sent in the same write."""
    index = sock.link_index(name)
    if index is None:  # EEXIST: a concurrent run made it first
        sock.run(nl.new_bridge(name).tolerating(errno.EEXIST))
        index = sock.link_index(name)
        if index is None:
            raise OSError(errno.ENODEV, f"bridge {name} vanished as it was made")
    # a MAC of its own (ip_mac of the gateway): without one the bridge takes the lowest of its
    # ports' and changes it when that port leaves, and its containers' neighbour caches then
    # send to a MAC nobody has (the gateway unreachable for seconds after a peer goes)
    sock.run(nl.add_address(index, gateway, prefixlen, name).tolerating(errno.EEXIST),
             nl.set_link(index, up=True, mac=ip_mac(gateway), what=f"bring bridge {name} up"),
             *(then(index) if then else ()))


def _route_localnet(bridge: str) -> None:
    # DNAT of 127.0.0.1:port to a container routes a loopback source out of the bridge
    _sysctl(f"net/ipv4/conf/{bridge}/route_localnet", "1")


def delete(name: str) -> None:
    """Delete a link (a bridge, or a veth and with it its peer); missing is fine."""
    if not exists(name):
        return
    try:
        with nl.Netlink() as sock:
            sock.run(nl.del_link(name).tolerating(errno.ENODEV, errno.ENOENT))
    except OSError as e:
        raise _fail(f"cannot delete link {name}", e) from None


def retire(name: str) -> None:
    """Make a veth's host end an inert bridge port, where the caller is about to unpin the namespace
    that holds its peer: the kernel deletes the pair when that namespace dies, tens of ms later and
    off the caller's clock, where a delete here would block 15-20 ms in the kernel (docs/startup.md).
    The port, disabled, stops forwarding and forgets the MACs learnt on it at once, so a container
    that takes the same address (and so the same MAC, ip_mac) meanwhile is not shadowed by it."""
    try:
        with open(f"/sys/class/net/{name}/ifindex") as f:
            index = int(f.read())
    except FileNotFoundError:
        return  # gone already (a crash after a delete, or the kernel's own clean-up)
    try:
        with nl.Netlink() as sock:
            # EOPNOTSUPP: no longer a bridge port (its bridge was deleted behind our back): nothing to disable
            sock.run(nl.disable_bridge_port(index, name).tolerating(errno.ENODEV, errno.EOPNOTSUPP))
    except OSError as e:
        raise _fail(f"cannot disable bridge port {name}", e) from None


def ip_mac(ip: str) -> str:
    """The MAC of the container holding `ip`: 02:42 and the address (Docker's bridge and overlay do
    the same). An address freed and taken again keeps its MAC, so a neighbour cache that still maps
    the address (REACHABLE for up to 45 s: the host's after a restart, a peer's across hosts) stays right."""
    return "02:42:" + ":".join(f"{int(octet):02x}" for octet in ip.split("."))


def plug(netns_path: str, host_name: str, bridge: str, address: str, prefixlen: int,
         gateway: str | None, ifname: str = "eth0", mtu: int | None = None,
         bridge_address: tuple[str, int] | None = None) -> str:
    """A veth pair: `host_name` on `bridge`, its peer `ifname` in the namespace with the address
    and the MAC derived from it (ip_mac), up, and (with `gateway`) the default route; both ends
    with `mtu` if given. With `bridge_address` (gateway, prefix length), ensure_bridge first, on
    the same socket and in the same write as the veth (one lookup and round trip fewer a run).
    Returns that MAC."""
    mac = ip_mac(address)
    try:
        with nl.Netlink() as host:
            ns = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                def veth(master: int) -> tuple[nl.Request]:
                    return (nl.new_veth(host_name, ifname, ns, mtu, master=master, up=True),)
                if bridge_address:
                    _bridge_up(host, bridge, *bridge_address, then=veth)
                else:
                    master = host.link_index(bridge)
                    if master is None:
                        raise OSError(errno.ENODEV, f"bridge {bridge} is missing")  # reconcile makes it again
                    host.run(*veth(master))
            finally:
                os.close(ns)
        if bridge_address:
            _route_localnet(bridge)
        # hairpin: with br_netfilter, a container's packet DNATed back to itself (its own
        # published port through a host address) leaves by the port it came in on
        _sysctl_path(f"/sys/class/net/{host_name}/brport/hairpin_mode", "1")
    except OSError as e:
        raise _fail(f"cannot create veth {host_name} on {bridge}", e) from None
    try:
        with nl.Netlink(netns_path) as inside:
            index = inside.index(ifname)
            steps = [nl.set_link(index, mac=mac, up=True, what=f"bring {ifname} up with MAC {mac}"),
                     nl.add_address(index, address, prefixlen, ifname),
                     nl.set_link("lo", up=True, what="bring lo up")]
            if gateway:  # EEXIST: a second network; the first one's default route stays
                steps.append(nl.add_route(gateway=gateway).tolerating(errno.EEXIST))
            inside.run(*steps)
    except OSError as e:
        raise _fail(f"cannot configure {ifname} ({address}) in {netns_path}", e) from None
    return mac


def next_ifname(netns_path: str) -> str:
    """eth0, eth1, ...: the first name not used in the namespace."""
    with nl.Netlink(netns_path) as inside:
        used = {link.name for link in inside.links()}
    return next(f"eth{i}" for i in range(len(used) + 1) if f"eth{i}" not in used)


def _sysctl(key: str, value: str) -> None:
    _sysctl_path(f"/proc/sys/{key}", value)


def _sysctl_path(path: str, value: str) -> None:
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError as e:
        raise _fail(f"cannot write {value} to {path}", e) from None


def enable_ip_forward() -> bool:
    """Turn on IPv4 forwarding (containers' traffic crosses the host); True if it was off."""
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        if f.read().strip() == "1":
            return False
    _sysctl("net/ipv4/ip_forward", "1")
    return True


def host_routes() -> list[tuple[int, int]]:
    """IPv4 routes of the main table as (network, mask) integers, from /proc (no netlink needed)."""
    routes = []
    with open("/proc/net/route") as f:
        next(f)
        for line in f:
            fields = line.split()
            dest, mask = (int.from_bytes(bytes.fromhex(x), "little") for x in (fields[1], fields[7]))
            if mask:  # the default route overlaps everything: it does not count
                routes.append((dest, mask))
    return routes

"""Bridges and veth pairs through netlink (pyroute2), the way the book's `netlink` calls do it.

pyroute2 costs ~90 ms to import (its package __init__ loads every subsystem), so it is only
imported here, when a container actually gets a bridge endpoint.
"""

from __future__ import annotations

import errno
import os

from mydocker.errors import RuntimeFailure
from mydocker.network import netns


def _iproute():
    """pyroute2's IPRoute, importing only the rtnetlink modules it needs (skips its 30 ms __init__)."""
    import sys
    if "pyroute2" not in sys.modules:
        import importlib.util
        import types
        spec = importlib.util.find_spec("pyroute2")
        if spec is None:
            raise RuntimeFailure("bridge networking needs the pyroute2 package: "
                                 "pip install 'pyroute2>=0.9.7,<0.10', or use --network none|host")
        package = types.ModuleType("pyroute2")
        package.__path__ = list(spec.submodule_search_locations or [])
        package.__spec__ = spec
        sys.modules["pyroute2"] = package
    from pyroute2.iproute.linux import IPRoute
    return IPRoute


def _errors() -> tuple:
    """What netlink calls raise: OSError, and pyroute2's NetlinkError (not an OSError)."""
    from pyroute2.netlink.exceptions import NetlinkError
    return (OSError, NetlinkError)


def _code(exc: BaseException) -> int | None:
    return getattr(exc, "code", None) or getattr(exc, "errno", None)


def exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def _fail(what: str, exc: BaseException) -> RuntimeFailure:
    code = _code(exc)
    reason = os.strerror(code) if code else str(exc)
    return RuntimeFailure(f"{what}: {reason}; check `ip link` and run `mydocker network reconcile`")


def ensure_bridge(name: str, gateway: str, prefixlen: int) -> None:
    """The bridge `name` with the gateway address, up; created if missing (idempotent)."""
    IPRoute = _iproute()
    errors = _errors()
    with IPRoute() as ipr:
        try:
            found = ipr.link_lookup(ifname=name)
            if not found:
                try:
                    ipr.link("add", ifname=name, kind="bridge")
                except errors as e:
                    if _code(e) != errno.EEXIST:  # a concurrent run made it first
                        raise
                found = ipr.link_lookup(ifname=name)
            index = found[0]
            have = {a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(index=index, family=2)}
            if gateway not in have:
                try:
                    ipr.addr("add", index=index, address=gateway, prefixlen=prefixlen)
                except errors as e:
                    if _code(e) != errno.EEXIST:
                        raise
            ipr.link("set", index=index, state="up")
        except errors as e:
            raise _fail(f"cannot set up bridge {name}", e) from None
    # DNAT of 127.0.0.1:port to a container routes a loopback source out of the bridge
    _sysctl(f"net/ipv4/conf/{name}/route_localnet", "1")


def delete(name: str) -> None:
    """Delete a link (a bridge, or a veth and with it its peer); missing is fine."""
    if not exists(name):
        return
    IPRoute = _iproute()
    with IPRoute() as ipr:
        try:
            ipr.link("del", ifname=name)
        except _errors() as e:
            if _code(e) not in (errno.ENODEV, errno.ENOENT):
                raise _fail(f"cannot delete link {name}", e) from None


def ip_mac(ip: str) -> str:
    """The MAC of the container holding `ip`: 02:42 and the address (Docker's bridge and overlay do
    the same). An address freed and taken again keeps its MAC, so a neighbour cache that still maps
    the address (REACHABLE for up to 45 s: the host's after a restart, a peer's across hosts) stays right."""
    return "02:42:" + ":".join(f"{int(octet):02x}" for octet in ip.split("."))


def plug(netns_path: str, host_name: str, bridge: str, address: str, prefixlen: int,
         gateway: str | None, ifname: str = "eth0") -> str:
    """A veth pair: `host_name` on `bridge`, its peer `ifname` in the namespace with the address
    and the MAC derived from it (ip_mac), up, and (with `gateway`) the default route. Returns that MAC."""
    IPRoute = _iproute()
    errors = _errors()
    with netns.entered(netns_path):
        inside = IPRoute()  # the socket stays bound to the container's namespace
    try:
        with IPRoute() as ipr:
            try:
                bridge_index = ipr.link_lookup(ifname=bridge)[0]
                ipr.link("add", ifname=host_name, kind="veth", peer={"ifname": ifname, "net_ns_fd": netns_path})
                ipr.link("set", ifname=host_name, master=bridge_index, state="up")
                # hairpin: with br_netfilter, a container's packet DNATed back to itself (its own
                # published port through a host address) leaves by the port it came in on
                _sysctl_path(f"/sys/class/net/{host_name}/brport/hairpin_mode", "1")
            except (*errors, IndexError) as e:
                raise _fail(f"cannot create veth {host_name} on {bridge}", e if not isinstance(e, IndexError)
                            else OSError(errno.ENODEV, f"bridge {bridge} is missing")) from None
        try:
            index = inside.link_lookup(ifname=ifname)[0]
            inside.link("set", index=index, address=ip_mac(address))
            inside.addr("add", index=index, address=address, prefixlen=prefixlen)
            inside.link("set", index=index, state="up")
            inside.link("set", ifname="lo", state="up")
            if gateway:
                try:
                    inside.route("add", dst="0.0.0.0/0", gateway=gateway)
                except errors as e:
                    if _code(e) != errno.EEXIST:  # a second network: the first one's default route stays
                        raise
            return ip_mac(address)
        except errors as e:
            raise _fail(f"cannot configure {ifname} ({address}) in {netns_path}", e) from None
    finally:
        inside.close()


def next_ifname(netns_path: str) -> str:
    """eth0, eth1, ...: the first name not used in the namespace."""
    IPRoute = _iproute()
    with netns.entered(netns_path):
        inside = IPRoute()
    with inside:
        used = {link.get_attr("IFLA_IFNAME") for link in inside.get_links()}
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

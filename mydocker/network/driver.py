"""The network driver protocol: what a driver is given and what it does.

The engine's network service keeps every record (networks, endpoints, sandboxes, addresses) in the
engine's store and decides when things happen; a driver does the host work of one kind of network
and is handed the records it needs as arguments. It never sees the engine's store (the idea of
moby's libnetwork driverapi, where drivers get NetworkInfo/JoinInfo and not the controller's store).

Drivers: `bridge` (mydocker/network/bridge.py) and `overlay` (mydocker/network/overlay.py); a
rootless user-mode driver (slirp4netns/pasta) fits the same calls. `none` and `host` are sandbox
modes without endpoints, so without a driver: the service only writes their /etc files.

A driver of scope "global" (overlay) defines its networks in a store the hosts share and is asked
for them (define, lookup, known); the service keeps this host's copy in its own store and, after each
join and on every change a watcher sees, has it bring the forwarding state up to date (synced).

The calls, in the order the service makes them:
    create_network(net)             a network was recorded: make what it needs on this host
    allocate(net, container, ip)    the address, when the driver keeps a cluster-wide IPAM (else None:
                                    the engine's own bitmap of the network decides)
    join(net, ep, info) -> MAC      the endpoint was recorded: plug it into the sandbox's netns
    leave(net, ep, last, netns_ends)  undo join (idempotent: after a crash part of it may be gone);
                                    `last`: no other endpoint of the network is left on this host;
                                    `netns_ends`: the caller unpins the sandbox's namespace next and
                                    nothing else holds it, so what lives in it (a veth's far end, and
                                    with it the pair) may be left for the kernel to delete
    delete_network(net)             the network's record is gone: remove what create/join made
    peers(net)                      (address, names) of containers elsewhere, for /etc/hosts

`join` and `leave` are the whole of an endpoint's host work, so the netlink code behind them can be
replaced without the service noticing (mydocker/network/netlink.py since issue 20).
"""

from __future__ import annotations

import zlib
from _collections_abc import Callable  # not collections.abc: it imports all of collections

from mydocker.recordclass import factory, record

IFNAMSIZ = 15


@record
class Network:
    name: str
    id: str
    driver: str
    subnet: str
    gateway: str
    bridge: str
    internal: bool = False
    created: str = ""
    labels: dict = factory(dict)


@record
class Endpoint:
    container: str
    network: str
    ip: str
    veth: str
    ifname: str
    mac: str = ""
    aliases: list = factory(list)
    ports: list = factory(list)      # [[proto, host_ip, host_port, container_port], ...]


@record
class JoinInfo:
    """The sandbox an endpoint joins, as its driver needs it."""
    netns: str                       # path of the network namespace (pinned by a bind mount)
    create_netns: bool               # the sandbox's first endpoint: make (and pin) the namespace first
    name: str = ""                   # the container's name, for other hosts' /etc/hosts
    owner: str | None = None         # a pinned user namespace a new netns belongs to (--userns remap)


class Driver:
    """The protocol (each method documented in the module docstring); drivers subclass it for the
    defaults of what they do not need."""

    name = ""
    scope = "local"                  # "global": networks are defined in a store the hosts share

    def create_network(self, net: Network) -> None:
        pass

    def delete_network(self, net: Network) -> None:
        pass

    def allocate(self, net: Network, container: str, ip: str | None) -> str | None:
        return None

    def join(self, net: Network, ep: Endpoint, info: JoinInfo) -> str:
        raise NotImplementedError

    def leave(self, net: Network, ep: Endpoint, last: bool, netns_ends: bool = False) -> None:
        pass

    def peers(self, net: Network) -> list[tuple[str, list]]:
        return []

    # scope "global" only: the network is defined once for every host, in the driver's own store

    def configured(self) -> bool:
        """Whether the driver's store is set up on this host (else it has no networks)."""
        return False

    def define(self, name: str, subnet: str | None, gateway: str | None, labels: dict, created: str,
               check_free: Callable[[str], None]) -> Network:
        """Define the network for every host (or find the same definition) and return it as this host
        records it; `check_free(subnet)` raises if the subnet clashes with this host's networks."""
        raise NotImplementedError

    def lookup(self, name: str) -> Network | None:
        """A network another host defined, or None."""
        return None

    def known(self) -> list[Network]:
        """Every network defined in the driver's store."""
        return []

    def synced(self, net: Network, records: list[dict] | None = None):  # -> a context manager
        """Bring this host's forwarding state of the network up to date from one read of the store (or
        from `records`, what a watcher delivered); `peers` answers from that same read until exit."""
        raise NotImplementedError


def bridge_name(tag: str, network: str, default: bool = False) -> str:
    """The host bridge of a network: mydocker0 / md-<net> for the default engine root, else with the
    root's tag (md<tag>-0, md<tag>-<net>); cut to IFNAMSIZ with a hash that keeps it unique."""
    if default:
        return f"md{tag}-0" if tag else "mydocker0"
    name = f"md{tag}-{network}"
    if len(name) > IFNAMSIZ:  # keep a readable start, make it unique with a hash
        name = f"{name[:10]}{zlib.crc32(network.encode()) & 0xfffff:05x}"
    return name

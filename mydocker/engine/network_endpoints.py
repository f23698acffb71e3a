"""An endpoint's life: its address and published ports allocated and recorded, joined through its
network's driver, and left and released again.

The record comes first, the host objects after: a crash between the two leaves a record that
`drop` can always undo. The caller holds the root's network lock around `join` and `drop`.
"""

from __future__ import annotations

import os
from _collections_abc import Callable  # not collections.abc: it imports all of collections

from mydocker.engine.network_store import NetworkStore
from mydocker.errors import Conflict
from mydocker.network.driver import Driver, Endpoint, JoinInfo, Network
from mydocker.lazy import lazy_module

socket = lazy_module("socket")
network_ports = lazy_module("mydocker.network.ports")
links = lazy_module("mydocker.network.links")


class Endpoints:
    def __init__(self, store: NetworkStore, driver: Callable[[str], Driver], tag: str) -> None:
        self.store = store
        self.driver = driver          # a driver by its name
        self.tag = tag

    def add(self, container_id: str, net: Network, ip: str | None, aliases: list, ports: list,
            ifname: str) -> Endpoint:
        """Allocate the address (the driver's cluster-wide one, mirrored in the bitmap, or the bitmap's
        own) and the host ports, and record the endpoint; raises NetworkGone if the network went."""
        veth = f"md{self.tag}{os.urandom(6).hex()}"[:15]  # a private root's tag: its leaks are findable
        rows = []
        for p in ports:
            host_port = p.host_port or network_ports.free_port(p.proto, p.host_ip)
            rows.append([p.proto, p.host_ip, host_port, p.container_port])
        ip = self.driver(net.driver).allocate(net, container_id, ip) or ip
        return self.store.add_endpoint(Endpoint(container_id, net.name, ip or "", veth, ifname, "", aliases, rows),
                                       net, lambda: self._check_ports(rows))

    def join(self, net: Network, ep: Endpoint, info: JoinInfo) -> Endpoint:
        """The endpoint's host objects, by its driver; its MAC recorded."""
        ep.mac = self.driver(net.driver).join(net, ep, info)
        self.store.set_mac(ep, ep.mac)
        return ep

    def drop(self, ep: Endpoint, netns_ends: bool = False) -> None:
        """Undo join and add, whatever of them exists (`netns_ends`: see Driver.leave)."""
        net = self.store.find(ep.network)
        if net is not None:
            last = not any(e.container != ep.container for e in self.store.endpoints(network=ep.network))
            self.driver(net.driver).leave(net, ep, last, netns_ends)
        else:  # no record says which driver made it: the veth at least goes
            links.delete(ep.veth)
        self.store.remove_endpoint(ep)

    def _check_ports(self, wanted: list) -> None:
        taken: dict[tuple, list] = {}
        for proto, host_ip, host_port, _cport in self.store.published_ports():
            taken.setdefault((proto, host_port), []).append(host_ip)
        for proto, host_ip, host_port, _cport in wanted:
            ips = taken.get((proto, host_port), [])
            if any(not host_ip or not other or host_ip == other for other in ips):
                raise Conflict(f"host port {host_port}/{proto} is already published by another container: "
                               "choose another host port")
            _check_host_port_free(proto, host_ip, host_port)
            taken.setdefault((proto, host_port), []).append(host_ip)


def published(endpoints: list[Endpoint]) -> list[tuple[str, str, int]]:
    """("80/tcp", host_ip, host_port) for each port the endpoints publish."""
    return [(f"{cport}/{proto}", host_ip or "0.0.0.0", host_port)
            for ep in endpoints for proto, host_ip, host_port, cport in ep.ports]


def _check_host_port_free(proto: str, host_ip: str, port: int) -> None:
    """A host process already listening there would be shadowed by the DNAT rule: refuse instead."""
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host_ip or "0.0.0.0", port))
        except OSError as e:
            raise Conflict(f"cannot publish {host_ip or '0.0.0.0'}:{port}/{proto}: {e.strerror}; "
                           "choose another host port") from None

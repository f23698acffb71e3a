"""The bridge driver: a Linux bridge per network holding the gateway address, a veth per endpoint.

NAT, published ports and the isolation of internal networks are rules over every network of an
engine root at once (mydocker/network/firewall.py, rebuilt by the engine from its records).
"""

from __future__ import annotations

from mydocker.network import links, netns
from mydocker.network.driver import Driver, Endpoint, JoinInfo, Network


class BridgeDriver(Driver):
    name = "bridge"

    def create_network(self, net: Network) -> None:
        links.ensure_bridge(net.bridge, net.gateway, _prefixlen(net))

    def delete_network(self, net: Network) -> None:
        links.delete(net.bridge)

    def join(self, net: Network, ep: Endpoint, info: JoinInfo) -> str:
        links.enable_ip_forward()
        if info.create_netns:
            netns.create(info.netns, info.owner)
        gateway = None if net.internal else net.gateway
        # the bridge ensured (gone after a reboot or an admin's delete) with the veth, in one write
        return links.plug(info.netns, ep.veth, net.bridge, ep.ip, _prefixlen(net), gateway, ep.ifname,
                          bridge_address=(net.gateway, _prefixlen(net)))

    def leave(self, net: Network, ep: Endpoint, last: bool, netns_ends: bool = False) -> None:
        if netns_ends:
            links.retire(ep.veth)  # the kernel deletes the pair with the namespace, off our clock
        else:
            links.delete(ep.veth)


def _prefixlen(net: Network) -> int:
    return int(net.subnet.split("/")[1])

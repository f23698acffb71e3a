"""The user's rootless network namespace (podman's "rootless netns"): where a rootless engine's user
networks live, so that one user's containers reach each other by address and by name.

An ordinary user cannot make a bridge in the host's network namespace, but root of the user's own user
namespace may make one in a network namespace that namespace owns. So there is one such netns per
user, pinned at <runroot>/rootless-netns/net (a bind mount in the pause process's mount namespace,
where every command of the user's runs), holding the user networks' bridges, their veths, the nft
table (NAT, published ports) and the embedded DNS resolver: the bridge driver, the firewall and the
resolver of root's engine, run unchanged inside it (network/netns.run_inside: a forked child enters
it, since the engine cannot return to the host's netns once in it). One slirp4netns (the default
network's stack, network/usermode.py) connects it to the host: tap0 10.0.2.100/24, default route via
10.0.2.2 (the host's loopback), DNS 10.0.2.3; the containers' traffic is masqueraded out of tap0.

Published ports: slirp4netns forwards host_ip:host_port from the host to 10.0.2.100:host_port in the
rootless netns (its API socket's add_hostfwd), where the nft table's port map DNATs it to the
container, as root's engine DNATs the host's ports. Host ports are unique per user, so the netns's
own address and the host port name a forward. (Not rootlessport's socket relay: add_hostfwd costs an
API call and no process, and the rules that pick the container are the root engine's.)

Lifetime: made by the first container that joins a user network, torn down (the pin removed: the
stack's keeper sees it and slirp4netns exits; the bridges go with the netns) when the last one
leaves; networks stay recorded and their bridges are made again inside the next one.
"""

from __future__ import annotations

import os

from mydocker.network.driver import Driver, Endpoint, JoinInfo, Network
from mydocker.lazy import lazy_module

fs = lazy_module("mydocker.linux.fs")
netns = lazy_module("mydocker.network.netns")
usermode = lazy_module("mydocker.network.usermode")

DIRECTORY = "rootless-netns"       # in the runroot: the pin, slirp4netns's pid, log and API socket
PIN = "net"
PID_FILE = "pid"
FORWARDED = "forwarded"            # there once the stack forwarded a host port: stopping it is waited for
TAP = "tap0"
SLIRP_SUBNET = "10.0.2.0/24"       # slirp4netns's own network: no user network may take it


class RootlessNetns:
    def __init__(self, runroot: str) -> None:
        self.directory = os.path.join(runroot, DIRECTORY)
        self.path = os.path.join(self.directory, PIN)

    def is_up(self) -> bool:
        return netns.is_pinned(self.path)

    def _stack_pid(self) -> int:
        try:
            with open(os.path.join(self.directory, PID_FILE)) as f:
                return int(f.read().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def up(self) -> bool:
        """Make the netns and its stack unless both live (call with the network lock held); True if
        anything was made (the caller then puts its rules and forwards in again)."""
        pinned = self.is_up()
        if pinned and usermode.is_stack(self._stack_pid()):
            return False
        if pinned:  # its stack was killed: a new one, the netns (with the running containers' veths) kept
            fs.remove_file(os.path.join(self.directory, usermode.API))
        else:
            self.down()  # the files of a crash
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
        try:
            if not pinned:
                netns.create(self.path, in_child=True)
            pid = usermode.start(self.path, None, [], self.directory, ifname=TAP, keep_api=True)
            with open(os.path.join(self.directory, PID_FILE), "w") as f:
                f.write(f"{pid}\n")
        except BaseException:
            if not pinned:
                self.down()
            raise
        return True

    def down(self) -> None:
        """Stop the stack (waited for if it ever forwarded a port: those host ports must be free again
        when this returns; else its 30-40 ms exit goes on without us), unpin the netns (its bridges and
        veths go with it), remove the files (idempotent)."""
        pid = self._stack_pid()
        if pid > 0:
            usermode.stop(pid, wait=os.path.exists(os.path.join(self.directory, FORWARDED)))
        netns.remove(self.path)
        fs.remove_tree(self.directory)

    def run(self, fn, *args):
        """fn(*args) inside the netns (a forked child); its result or its exception."""
        return netns.run_inside(self.path, fn, *args)

    def publish(self, ports: list) -> None:
        """[[proto, host_ip, host_port, container_port], ...] forwarded from the host to the netns's own
        address at host_port, where the firewall's port map takes them on."""
        if ports:
            with open(os.path.join(self.directory, FORWARDED), "w"):
                pass
        for proto, host_ip, host_port, _cport in ports:
            usermode.publish(self.directory, proto, host_ip, host_port, host_port, usermode.ADDRESS)

    def unpublish(self, ports: list) -> None:
        for proto, host_ip, host_port, _cport in ports:
            usermode.unpublish(self.directory, proto, host_ip, host_port)


class InNetnsDriver(Driver):
    """A local driver (bridge) whose host work happens inside the rootless netns. A container's own
    netns is made (and pinned) here, in the user's mount namespace, before the driver plugs it;
    while the rootless netns is down nothing of a network exists, so there is nothing to do."""

    def __init__(self, inner: Driver, place: RootlessNetns) -> None:
        self.inner = inner
        self.place = place
        self.name = inner.name
        self.scope = inner.scope

    def create_network(self, net: Network) -> None:
        if self.place.is_up():
            self.place.run(self.inner.create_network, net)

    def delete_network(self, net: Network) -> None:
        if self.place.is_up():
            self.place.run(self.inner.delete_network, net)

    def join(self, net: Network, ep: Endpoint, info: JoinInfo) -> str:
        if info.create_netns:
            netns.create(info.netns, in_child=True)
        return self.place.run(self.inner.join, net, ep, JoinInfo(info.netns, False, info.name, None))

    def leave(self, net: Network, ep: Endpoint, last: bool, netns_ends: bool = False) -> None:
        if self.place.is_up():
            self.place.run(self.inner.leave, net, ep, last, netns_ends)

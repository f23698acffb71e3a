"""The overlay driver: one L2 network across hosts, a VXLAN device per network on every host.

Per network and host: a bridge (the project's name md<tag>-<net>, no address: the overlay is
internal, as Docker's overlay without its gwbridge) and a VXLAN device md<tag>v<vni hex> on it
(VNI from the cluster store, local VTEP = this host's underlay address, learning off, ARP proxy on,
MTU = underlay MTU - 50 for the outer Ethernet/IP/UDP/VXLAN headers). Containers get veths on the
bridge with the reduced MTU. Nothing is learnt by flooding: from the endpoint records in etcd each
host programs, on its VXLAN device,
    fdb 00:00:00:00:00:00 dst <peer VTEP> (append)   broadcast/unknown to every peer host
    fdb <container MAC> dst <its VTEP>                unicast straight to the right host
    neigh <container IP> lladdr <container MAC>       ARP answered locally (proxy)
and writes the remote containers' names into its containers' /etc/hosts.

Keeping that current: the engine syncs (`synced`) on every attach/detach on this host, and its
overlay agent (mydocker/engine/overlay_agent.py, a process per engine root) watches the store and
re-syncs on every change. This module is the driver and the host side; it never sees the engine's
records: the engine hands it networks and endpoints.

A container's MAC is derived from its address (links.ip_mac, for every driver): an address
released and taken again, on any host, keeps its MAC, so the peers' ARP caches stay right.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from mydocker.errors import Conflict, InvalidArgument, RuntimeFailure, StoreUnavailable
from mydocker.network import links, netlink as nl
from mydocker.network.driver import IFNAMSIZ, Driver, Endpoint, JoinInfo, Network, bridge_name
from mydocker.lazy import lazy_module

socket = lazy_module("socket")
cluster = lazy_module("mydocker.network.cluster")
fs = lazy_module("mydocker.linux.fs")
ipam = lazy_module("mydocker.network.ipam")
netns = lazy_module("mydocker.network.netns")

VXLAN_PORT = 4789
OVERHEAD = 50                    # outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8
ZERO_MAC = "00:00:00:00:00:00"


def vxlan_name(tag: str, vni: int) -> str:
    return f"md{tag}v{vni:x}"[:IFNAMSIZ]


# the host side: underlay, devices, forwarding entries

def advertise_address(root: str, store_hosts: list[tuple[str, int]]) -> str:
    """This host's VTEP: "cluster-advertise" of daemon.json or MYDOCKER_CLUSTER_ADVERTISE, else the
    source address the kernel uses to reach the store (the underlay the hosts share)."""
    addr = os.environ.get("MYDOCKER_CLUSTER_ADVERTISE")
    if not addr:
        try:
            with open(os.path.join(root, "daemon.json")) as f:
                addr = json.load(f).get("cluster-advertise")
        except (OSError, ValueError):
            addr = None
    if addr:
        return addr
    host, port = store_hosts[0]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((socket.gethostbyname(host), port))  # no packet: only picks the route
        return s.getsockname()[0]


def _underlay(sock: nl.Netlink, vtep: str) -> tuple[int, int]:
    """(ifindex, MTU) of the device holding the VTEP address."""
    for a in sock.addresses(nl.AF_INET):
        if a.address == vtep:
            link = sock.link(a.index)
            if link is not None and link.mtu:
                return a.index, link.mtu
    raise RuntimeFailure(f"no interface has the VTEP address {vtep}: set \"cluster-advertise\" in daemon.json "
                         "to an address of this host")


def ensure_devices(bridge: str, vxlan: str, vni: int, vtep: str) -> int:
    """The bridge and its VXLAN port, up (idempotent: EEXIST is a concurrent join's); returns the overlay MTU."""
    with nl.Netlink() as sock:
        index, mtu = _underlay(sock, vtep)
        mtu -= OVERHEAD
        try:
            sock.run(nl.new_bridge(bridge, mtu).tolerating(errno.EEXIST),
                     nl.new_vxlan(vxlan, vni, vtep, index, VXLAN_PORT, learning=False, proxy=True,
                                  mtu=mtu).tolerating(errno.EEXIST))
            br = sock.index(bridge)
            sock.run(nl.set_link(vxlan, master=br, mtu=mtu, up=True, what=f"put {vxlan} on {bridge}"),
                     nl.set_link(br, mtu=mtu, up=True, what=f"bring bridge {bridge} up"))
        except OSError as e:
            raise links._fail(f"cannot set up overlay devices {bridge}/{vxlan}", e) from None
    return mtu


def forget_learnt(vxlan: str, mac: str) -> None:
    """`bridge fdb del <mac> dev <vxlan> master`: what the bridge learnt of the MAC behind the VXLAN port
    (the address, so the MAC, may have lived on another host); none is fine."""
    with nl.Netlink() as sock:
        link = sock.link(vxlan)
        if link is not None:
            try:
                sock.run(nl.del_fdb(link.index, mac, master=True, name=vxlan))
            except OSError:
                pass  # nothing learnt: the usual case


def program(vxlan: str, remote: list[dict]) -> None:
    """Make the FDB and neighbour entries of the VXLAN device exactly those of the remote endpoints:
    one dump of each, then every change in one write."""
    with nl.Netlink() as sock:
        link = sock.link(vxlan)
        if link is None:
            return
        vx = link.index
        try:
            want_fdb = {(ZERO_MAC, e["vtep"]) for e in remote}
            want_fdb |= {(e["mac"].lower(), e["vtep"]) for e in remote if e.get("mac")}
            have_fdb = {(f.lladdr, f.dst) for f in sock.neighbours(nl.AF_BRIDGE, vx) if f.dst and f.lladdr}
            want_neigh = {(e["ip"], e["mac"].lower()) for e in remote if e.get("mac")}
            have_neigh = {(n.dst, n.lladdr or "") for n in sock.neighbours(nl.AF_INET, vx) if n.dst}
            # ENOENT / EEXIST: a concurrent sync got there first
            steps = [nl.del_fdb(vx, mac, dst, name=vxlan).tolerating(errno.ENOENT)
                     for mac, dst in sorted(have_fdb - want_fdb)]
            steps += [nl.append_fdb(vx, mac, dst, vxlan).tolerating(errno.EEXIST)
                      for mac, dst in sorted(want_fdb - have_fdb)]
            steps += [nl.del_neighbour(vx, ip, vxlan).tolerating(errno.ENOENT)
                      for ip, _ in sorted(have_neigh - want_neigh)]
            steps += [nl.set_neighbour(vx, ip, mac, vxlan) for ip, mac in sorted(want_neigh - have_neigh)]
            sock.run(*steps)
        except OSError as e:
            raise RuntimeFailure(f"{e.strerror}; check `bridge fdb show dev {vxlan}` "
                                 f"and `ip neigh show dev {vxlan}`") from None


def fdb_entries(vxlan: str) -> list[tuple[str, str]]:
    """(MAC, destination VTEP) of the device's remote entries: for tests and `network inspect`."""
    with nl.Netlink() as sock:
        link = sock.link(vxlan)
        return sorted((f.lladdr, f.dst) for f in sock.neighbours(nl.AF_BRIDGE, link.index) if f.dst) if link else []


# the driver: what the engine's network service calls for networks of driver "overlay"

class OverlayDriver(Driver):
    """Given the engine root (its daemon.json names the cluster store; <root>/network holds this
    host's cluster identity, lease and the last endpoints seen) and the root's tag (host names)."""

    name = "overlay"
    scope = "global"

    def __init__(self, root: str, tag: str) -> None:
        self.root = root
        self.tag = tag
        self.state_dir = os.path.join(root, "network")
        self._store = None
        self._pinned: dict[str, list[dict]] = {}

    @property
    def store(self):
        if self._store is None:
            self._store = cluster.open_store(self.root)
        return self._store

    def configured(self) -> bool:
        return bool(cluster.store_url(self.root))

    def vtep(self) -> str:
        return advertise_address(self.root, self.store.etcd.endpoints)

    # networks

    def define(self, name: str, subnet: str | None, gateway: str | None, labels: dict, created: str,
               check_free) -> Network:
        if not subnet:
            raise InvalidArgument("an overlay network needs --subnet (the same on every host), e.g. 10.88.0.0/16")
        ipam.parse_subnet(subnet)
        gateway = gateway or ipam.Bitmap(subnet).default_gateway()
        check_free(subnet)
        return self._network(self.store.create_network(name, subnet, gateway, os.urandom(32).hex(), created), labels)

    def lookup(self, name: str) -> Network | None:
        record = self.store.network(name)
        return None if record is None else self._network(record, {})

    def known(self) -> list[Network]:
        return [self._network(record, {}) for record in self.store.networks()]

    def _network(self, record: dict, labels: dict) -> Network:
        """This host's record of a cluster network: internal (no gateway address, no NAT)."""
        return Network(name=record["name"], id=record["id"], driver="overlay", subnet=record["subnet"],
                       gateway=record["gateway"], bridge=bridge_name(self.tag, record["name"]), internal=True,
                       created=record["created"], labels=dict(labels, **{"vni": str(record["vni"])}))

    def delete_network(self, net: Network) -> None:
        links.delete(self.vxlan(net))
        links.delete(net.bridge)
        try:
            self.store.remove_network(net.name)
        except Conflict:
            pass  # other hosts still use it: it stays defined in the cluster, gone here

    def vxlan(self, net: Network) -> str:
        return vxlan_name(self.tag, int(net.labels["vni"]))

    # endpoints

    def allocate(self, net: Network, container: str, ip: str | None) -> str:
        """The address comes from the cluster store; the engine's bitmap only mirrors it."""
        return self.store.allocate(net.name, container, ip)

    def join(self, net: Network, ep: Endpoint, info: JoinInfo) -> str:
        vtep = self.vtep()
        mtu = ensure_devices(net.bridge, self.vxlan(net), int(net.labels["vni"]), vtep)
        if info.create_netns:
            netns.create(info.netns, info.owner)
        mac = links.plug(info.netns, ep.veth, net.bridge, ep.ip, int(net.subnet.split("/")[1]), None, ep.ifname, mtu)
        forget_learnt(self.vxlan(net), mac)
        self.store.register_host(vtep)
        self.store.publish(net.name, {"container": ep.container, "name": info.name or ep.container[:12],
                                      "ip": ep.ip, "mac": mac, "vtep": vtep, "aliases": ep.aliases})
        return mac

    def leave(self, net: Network, ep: Endpoint, last: bool, netns_ends: bool = False) -> None:
        """Forget the endpoint in the store (its address too); the store being away does not stop a
        local teardown: the lease reclaims what is left."""
        links.delete(ep.veth)
        try:
            self.store.unpublish(ep.network, ep.container)
            self.store.release(ep.network, ep.container, ep.ip)
        except StoreUnavailable as e:
            print(f"mydocker: warning: {e}", file=sys.stderr)
        if last:  # the host's last one: its devices (and forwarding entries) go
            links.delete(self.vxlan(net))
            links.delete(net.bridge)

    def renew(self, previous: int, local: Callable[[], list[tuple[Endpoint, str]]]) -> int:
        """Keep this host's lease alive and return it; on a new one (the old expired while the store
        was away) put this host's endpoint and address records back on it. `local()`: this host's
        overlay endpoints, each with its container's name."""
        store = self.store
        lease = store.lease()
        if not previous or lease == previous:
            return lease
        for ep, name in local():
            if not store.etcd.get(f"{cluster.PREFIX}endpoints/{ep.network}/{ep.container}"):
                store.register_host(self.vtep())
                store.publish(ep.network, {"container": ep.container, "ip": ep.ip, "mac": ep.mac, "name": name,
                                           "vtep": self.vtep(), "aliases": ep.aliases})
                store.etcd.create(f"{cluster.PREFIX}ipam/{ep.network}/{ep.ip}", f"{store.host}/{ep.container}", lease)
        return lease

    # other hosts' endpoints

    def remote(self, network: str) -> list[dict]:
        """Other hosts' endpoints of the network; while the store is away, the last ones seen (kept in
        <root>/network/overlay/<net>.json) so that rewriting a hosts file keeps the remote names."""
        if network in self._pinned:  # a sync in progress: every hosts file from the same read
            return self._pinned[network]
        cache = os.path.join(self.state_dir, "overlay", f"{network}.json")
        try:
            found = [e for e in self.store.endpoints(network) if e.get("host") != self.store.host]
        except StoreUnavailable:
            try:
                with open(cache) as f:
                    return json.load(f)
            except (OSError, ValueError):
                return []
        self._remember(network, found)
        return found

    def _remember(self, network: str, found: list[dict]) -> None:
        cache = os.path.join(self.state_dir, "overlay", f"{network}.json")
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        fs.write_atomic(cache, json.dumps(found))

    def peers(self, net: Network) -> list[tuple[str, list]]:
        """/etc/hosts lines (ip, names) of the other hosts' containers on the network."""
        return [(e["ip"], [e["name"], *e.get("aliases", []), e["container"][:12]]) for e in self.remote(net.name)]

    @contextmanager
    def synced(self, net: Network, records: list[dict] | None = None) -> Iterator[None]:
        """Forwarding entries from one read of the store (or from `records`, the network's endpoint
        records the agent has); until exit, `peers` answers from that same read."""
        if records is None:
            remote = self.remote(net.name)
        else:
            remote = [e for e in records if e.get("host") != self.store.host]
            self._remember(net.name, remote)
        self._pinned[net.name] = remote
        try:
            program(self.vxlan(net), remote)
            yield
        finally:
            del self._pinned[net.name]


# the agent's view of the store: endpoint records by key (mydocker/engine/overlay_agent.py)

def _network_of(key: str) -> str:
    return key.rsplit("/", 2)[-2]  # .../endpoints/<net>/<container>


def endpoints_by_network(state: dict[str, str]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for key, value in state.items():
        try:
            out.setdefault(_network_of(key), []).append(json.loads(value))
        except ValueError:
            continue  # not ours to read
    return out


def apply_events(state: dict[str, str], events: list[tuple[str, str, str]]) -> set:
    """Fold watch events into state (key -> value); the networks whose records changed."""
    changed = set()
    for kind, key, value in events:
        if kind == "DELETE":
            if state.pop(key, None) is None:
                continue
        elif state.get(key) == value:
            continue
        else:
            state[key] = value
        changed.add(_network_of(key))
    return changed

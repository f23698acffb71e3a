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

Keeping that current: `sync` runs on every attach/detach on this host, and an agent process per
engine root (`python3 -m mydocker.network.overlay <root> <runroot>`, started on the first overlay
endpoint, gone when the root has none) watches the store and re-syncs on every change. The agent is
its own process, not a part of the monitor: the monitor forks containers (no threads, no blocking
calls allowed) and exits when idle, while the overlay needs a watcher as long as an endpoint exists;
the agent is single-threaded anyway (select on the watch socket). It also renews the host's lease.
When etcd is away the agent keeps the kernel state as it is (traffic keeps flowing) and reconnects
with backoff; every (re)connection is a full read of the endpoint records, applied, then a watch
from just after that read (see `agent`).

A container's MAC is derived from its address (links.ip_mac, for every driver): an address
released and taken again, on any host, keeps its MAC, so the peers' ARP caches stay right.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from mydocker.errors import RuntimeFailure
from mydocker.network import links

VXLAN_PORT = 4789
OVERHEAD = 50                    # outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8
ZERO_MAC = "00:00:00:00:00:00"
CHECK = 5.0                      # seconds between the agent's checks that its watch missed nothing
BACKOFF_MAX = 5.0                # seconds at most between the agent's reconnection attempts


def vxlan_name(tag: str, vni: int) -> str:
    return f"md{tag}v{vni:x}"[:links.IFNAMSIZ]


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
    import socket
    host, port = store_hosts[0]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((socket.gethostbyname(host), port))  # no packet: only picks the route
        return s.getsockname()[0]


def _underlay(vtep: str) -> tuple[int, int]:
    """(ifindex, MTU) of the device holding the VTEP address."""
    IPRoute = links._iproute()
    with IPRoute() as ipr:
        for a in ipr.get_addr(family=2):
            if a.get_attr("IFA_ADDRESS") == vtep:
                link = ipr.get_links(a["index"])[0]
                return a["index"], link.get_attr("IFLA_MTU")
    raise RuntimeFailure(f"no interface has the VTEP address {vtep}: set \"cluster-advertise\" in daemon.json "
                         "to an address of this host")


def ensure_devices(bridge: str, vxlan: str, vni: int, vtep: str) -> int:
    """The bridge and its VXLAN port, up (idempotent); returns the overlay MTU."""
    import errno
    index, mtu = _underlay(vtep)
    mtu -= OVERHEAD
    IPRoute = links._iproute()
    errors = links._errors()
    with IPRoute() as ipr:
        try:
            for name, spec in ((bridge, {"kind": "bridge"}),
                               (vxlan, {"kind": "vxlan", "vxlan_id": vni, "vxlan_local": vtep, "vxlan_link": index,
                                        "vxlan_port": VXLAN_PORT, "vxlan_learning": 0, "vxlan_proxy": 1})):
                if not ipr.link_lookup(ifname=name):
                    try:
                        ipr.link("add", ifname=name, mtu=mtu, **spec)
                    except errors as e:
                        if links._code(e) != errno.EEXIST:
                            raise
            br = ipr.link_lookup(ifname=bridge)[0]
            ipr.link("set", ifname=vxlan, master=br, mtu=mtu, state="up")
            ipr.link("set", index=br, mtu=mtu, state="up")
        except errors as e:
            raise links._fail(f"cannot set up overlay devices {bridge}/{vxlan}", e) from None
    return mtu


def set_mtu(netns_path: str, ifname: str, host_veth: str, mtu: int) -> None:
    """The overlay MTU on both ends of the container's veth."""
    from mydocker.network import netns
    IPRoute = links._iproute()
    with IPRoute() as ipr:
        ipr.link("set", ifname=host_veth, mtu=mtu)
    with netns.entered(netns_path):
        inside = IPRoute()
    try:
        inside.link("set", ifname=ifname, mtu=mtu)
    finally:
        inside.close()


def _tool(*argv: str, check: bool = True) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeFailure(f"{' '.join(argv)} failed: {proc.stderr.strip()}; check `bridge fdb` and `ip neigh`")
    return proc.stdout


def program(vxlan: str, remote: list[dict]) -> None:
    """Make the FDB and neighbour entries of the VXLAN device exactly those of the remote endpoints."""
    if not links.exists(vxlan):
        return
    want_fdb = {(ZERO_MAC, e["vtep"]) for e in remote}
    want_fdb |= {(e["mac"].lower(), e["vtep"]) for e in remote if e.get("mac")}
    have_fdb = {(f["mac"].lower(), f["dst"]) for f in json.loads(_tool("bridge", "-j", "fdb", "show", "dev", vxlan) or "[]")
                if f.get("dst")}
    for mac, dst in have_fdb - want_fdb:
        _tool("bridge", "fdb", "del", mac, "dev", vxlan, "dst", dst, check=False)
    for mac, dst in want_fdb - have_fdb:
        proc = subprocess.run(("bridge", "fdb", "append", mac, "dev", vxlan, "dst", dst, "self", "permanent"),
                              capture_output=True, text=True)
        if proc.returncode != 0 and "exists" not in proc.stderr:  # a concurrent sync added it first
            raise RuntimeFailure(f"bridge fdb append {mac} dev {vxlan} dst {dst} failed: {proc.stderr.strip()}; "
                                 "check `bridge fdb`")
    want_neigh = {(e["ip"], e["mac"].lower()) for e in remote if e.get("mac")}
    have_neigh = {(n["dst"], n.get("lladdr", "").lower())
                  for n in json.loads(_tool("ip", "-j", "-4", "neigh", "show", "dev", vxlan) or "[]")}
    for ip, mac in have_neigh - want_neigh:
        _tool("ip", "neigh", "del", ip, "dev", vxlan, check=False)
    for ip, mac in want_neigh - have_neigh:
        _tool("ip", "neigh", "replace", ip, "lladdr", mac, "dev", vxlan, "nud", "permanent")


def fdb_entries(vxlan: str) -> list[tuple[str, str]]:
    """(MAC, destination VTEP) of the device's remote entries: for tests and `network inspect`."""
    return sorted((f["mac"], f["dst"]) for f in json.loads(_tool("bridge", "-j", "fdb", "show", "dev", vxlan) or "[]")
                  if f.get("dst"))


# the engine side: what NetworkService delegates for driver "overlay"

class OverlayDriver:
    def __init__(self, service) -> None:
        self.svc = service
        self._store = None
        self._pinned: dict[str, list[dict]] = {}

    @property
    def store(self):
        if self._store is None:
            from mydocker.network.cluster import open_store
            self._store = open_store(self.svc.root)
        return self._store

    def configured(self) -> bool:
        from mydocker.network.cluster import store_url
        return bool(store_url(self.svc.root))

    def vtep(self) -> str:
        return advertise_address(self.svc.root, self.store.etcd.endpoints)

    def create(self, name: str, subnet: str | None, gateway: str | None, labels: dict):
        from mydocker.engine.images import now
        from mydocker.errors import InvalidArgument
        from mydocker.network.ipam import Bitmap, parse_subnet
        if not subnet:
            raise InvalidArgument("an overlay network needs --subnet (the same on every host), e.g. 10.88.0.0/16")
        parse_subnet(subnet)
        gateway = gateway or Bitmap(subnet).default_gateway()
        self.svc._check_free(subnet)
        record = self.store.create_network(name, subnet, gateway, os.urandom(32).hex(), now())
        return self._local(record, labels)

    def join(self, name: str):
        """The cluster's network `name` as a local record (a host that did not create it uses it)."""
        record = self.store.network(name)
        if record is None:
            return None
        return self._local(record, {})

    def join_all(self) -> None:
        for record in self.store.networks():
            try:
                self.svc.get(record["name"])
            except Exception:  # noqa: BLE001 - not here yet (or a local name clash: it stays local)
                try:
                    self._local(record, {})
                except Exception:  # noqa: BLE001
                    pass

    def _local(self, record: dict, labels: dict):
        from mydocker.engine.network_records import Network
        from mydocker.errors import Conflict
        from mydocker.network.ipam import Bitmap
        net = Network(name=record["name"], id=record["id"], driver="overlay", subnet=record["subnet"],
                      gateway=record["gateway"], bridge=self.svc.bridge_name(record["name"]), internal=True,
                      created=record["created"], labels=dict(labels, **{"vni": str(record["vni"])}))
        if not self.svc.store.add_network(net, Bitmap(net.subnet, net.gateway).to_bytes()):
            existing = self.svc.get(net.name)
            if existing.driver != "overlay":
                raise Conflict(f"network {net.name!r} already exists on this host: choose another name") from None
            return existing
        return net

    def vxlan(self, net) -> str:
        return vxlan_name(self.svc.tag, int(net.labels["vni"]))

    def allocate(self, net, container_id: str, ip: str | None) -> str:
        return self.store.allocate(net.name, container_id, ip)

    def wire(self, path: str, net, ep, create_netns: bool) -> None:
        from mydocker.network import netns
        vtep = self.vtep()
        mtu = ensure_devices(net.bridge, self.vxlan(net), int(net.labels["vni"]), vtep)
        if create_netns:
            netns.create(path)
        mac = links.plug(path, ep.veth, net.bridge, ep.ip, int(net.subnet.split("/")[1]), None, ep.ifname)
        set_mtu(path, ep.ifname, ep.veth, mtu)
        # the address (so the MAC) may have lived on another host: the bridge may still send it there
        _tool("bridge", "fdb", "del", mac, "dev", self.vxlan(net), "master", check=False)
        self.svc.store.set_mac(ep, mac)
        sb = self.svc.sandbox(ep.container)
        self.store.register_host(vtep)
        self.store.publish(net.name, {"container": ep.container, "name": sb.name if sb else ep.container[:12],
                                      "ip": ep.ip, "mac": mac, "vtep": vtep, "aliases": ep.aliases})
        self.sync(net)
        start_agent(self.svc.root, self.svc.runroot)

    def drop(self, ep) -> None:
        """Forget the endpoint in the store (its address too); the store being away does not stop a
        local teardown: the lease reclaims what is left."""
        from mydocker.network.cluster import StoreUnavailable
        try:
            self.store.unpublish(ep.network, ep.container)
            self.store.release(ep.network, ep.container, ep.ip)
        except StoreUnavailable as e:
            print(f"mydocker: warning: {e}", file=sys.stderr)
        if not any(e.container != ep.container for e in self.svc.endpoints(network=ep.network)):
            net = self.svc.get(ep.network)  # the host's last one: its devices (and forwarding entries) go
            links.delete(self.vxlan(net))
            links.delete(net.bridge)

    def remove(self, net) -> None:
        links.delete(self.vxlan(net))
        links.delete(net.bridge)
        if not any(n.driver == "overlay" for n in self.svc.networks() if n.name != net.name):
            stop_agent(self.svc.runroot)
        from mydocker.errors import Conflict
        try:
            self.store.remove_network(net.name)
        except Conflict:
            pass  # other hosts still use it: it stays defined in the cluster, gone here

    def remote(self, network: str) -> list[dict]:
        """Other hosts' endpoints of the network; while the store is away, the last ones seen (kept in
        <root>/network/overlay/<net>.json) so that rewriting a hosts file keeps the remote names."""
        from mydocker.network.cluster import StoreUnavailable
        if network in self._pinned:  # a sync in progress: every hosts file from the same read
            return self._pinned[network]
        cache = os.path.join(self.svc.root, "network", "overlay", f"{network}.json")
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
        cache = os.path.join(self.svc.root, "network", "overlay", f"{network}.json")
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        tmp = f"{cache}.{os.getpid()}.{os.urandom(4).hex()}"
        with open(tmp, "w") as f:
            json.dump(found, f)
        os.replace(tmp, cache)

    def peers(self, networks: set) -> list[tuple[str, list]]:
        """/etc/hosts lines (ip, names) of the other hosts' containers on these networks."""
        overlays = [n.name for n in self.svc.networks() if n.driver == "overlay" and n.name in networks]
        return [(e["ip"], [e["name"], *e.get("aliases", []), e["container"][:12]])
                for net in overlays for e in self.remote(net)]

    def sync(self, net, records: list[dict] | None = None) -> None:
        """Forwarding entries, then every local container's /etc/hosts on the network, from one read of
        the store (or from `records`, the network's endpoint records the agent has). Call with the
        root's network lock held: two syncs from reads of different ages would undo each other."""
        if records is None:
            remote = self.remote(net.name)
        else:
            remote = [e for e in records if e.get("host") != self.store.host]
            self._remember(net.name, remote)
        self._pinned[net.name] = remote
        try:
            program(self.vxlan(net), remote)
            self.svc.files.rewrite_hosts(net.name)
        finally:
            del self._pinned[net.name]

    def sync_all(self, records: dict[str, list[dict]], only: set | None = None) -> bool:
        """Re-sync the overlay networks with local endpoints (those in `only`, else all) from
        `records` (network -> its endpoint records); False when no local overlay endpoint is left."""
        busy = False
        for net in self.svc.networks():
            if net.driver == "overlay" and self.svc.endpoints(network=net.name):
                busy = True
                if only is not None and net.name not in only:
                    continue
                try:
                    with self.svc._lock():
                        self.sync(net, records.get(net.name, []))
                except RuntimeFailure as e:  # its last container left meanwhile, with the devices
                    print(f"overlay agent: {e}", file=sys.stderr, flush=True)
        return busy


# the agent: one per engine root, watches the store

def _agent_pidfile(runroot: str) -> str:
    return os.path.join(runroot, "overlay-agent.pid")


def start_agent(root: str, runroot: str) -> None:
    """Start the root's agent unless it runs (its pid file is flock-ed while it lives)."""
    import fcntl
    os.makedirs(runroot, exist_ok=True)
    fd = os.open(_agent_pidfile(runroot), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # alive
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
    subprocess.Popen([sys.executable, "-m", "mydocker.network.overlay", root, runroot],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=open(os.path.join(runroot, "overlay-agent.log"), "ab"),
                     start_new_session=True, close_fds=True,
                     env=dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.dirname(
                         os.path.abspath(__file__))))))


def stop_agent(runroot: str) -> None:
    import signal
    try:
        with open(_agent_pidfile(runroot)) as f:
            pid = int(f.read().strip() or 0)
    except (OSError, ValueError):
        return
    if pid:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def _network_of(key: str) -> str:
    return key.rsplit("/", 2)[-2]  # .../endpoints/<net>/<container>


def _by_network(state: dict[str, str]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for key, value in state.items():
        try:
            out.setdefault(_network_of(key), []).append(json.loads(value))
        except ValueError:
            continue  # not ours to read
    return out


def _apply(state: dict[str, str], events: list[tuple[str, str, str]]) -> set:
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


def _renew(driver, engine, lease: int) -> int:
    """Keep this host's lease alive; on a new one (the old expired while the store was away) put
    this host's endpoint and address records back on it."""
    from mydocker.network.cluster import PREFIX
    store = driver.store
    lease, previous = store.lease(), lease
    if not previous or lease == previous:
        return lease
    for net in engine.networks.networks():
        if net.driver != "overlay":
            continue
        for ep in engine.networks.endpoints(network=net.name):
            if not store.etcd.get(f"{PREFIX}endpoints/{net.name}/{ep.container}"):
                sb = engine.networks.sandbox(ep.container)
                store.register_host(driver.vtep())
                store.publish(net.name, {"container": ep.container, "ip": ep.ip, "mac": ep.mac,
                                         "name": sb.name if sb else ep.container[:12],
                                         "vtep": driver.vtep(), "aliases": ep.aliases})
                store.etcd.create(f"{PREFIX}ipam/{net.name}/{ep.ip}", f"{store.host}/{ep.container}", lease)
    return lease


def agent(root: str, runroot: str) -> int:
    """Watch the endpoint records and keep this host's forwarding entries and hosts files current.

    (Re)connecting is always: one full read of every endpoint record, applied, then a watch from the
    revision just after that read, so nothing between the two is missed. Any failure of the watch
    (etcd gone or restarted, the stream cut, a cancel for a compacted revision, garbage) drops it and
    reconnects that way, with backoff, while the kernel state stays as it is (traffic keeps flowing).
    Every CHECK seconds a fresh read is compared with what the watch delivered: a watch that went
    silent (a gateway that accepts it and never delivers, a peer gone without closing) is dropped too.
    """
    import fcntl
    import signal
    import time
    from mydocker.engine.engine import Engine
    from mydocker.network.cluster import LEASE_TTL, PREFIX
    fd = os.open(_agent_pidfile(runroot), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another agent won the race
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    engine = Engine(root, runroot)
    driver = engine.networks.overlay
    prefix = f"{PREFIX}endpoints/"

    def busy() -> bool:
        return any(n.driver == "overlay" and engine.networks.endpoints(network=n.name)
                   for n in engine.networks.networks())

    watch, state, lease = None, {}, 0
    renewed = checked = 0.0
    backoff, suspect = 0.0, False
    while True:
        try:
            if watch is None:
                kvs, revision = driver.store.etcd.get_prefix(prefix)
                state = {kv.key: kv.value for kv in kvs}
                if not driver.sync_all(_by_network(state)):
                    return 0
                watch = driver.store.etcd.watch_prefix(prefix, revision + 1)
                if backoff:
                    print(f"overlay agent: watching again from revision {revision + 1}", file=sys.stderr, flush=True)
                backoff, checked, suspect = 0.0, time.monotonic(), False
            if time.monotonic() - renewed > LEASE_TTL / 3:
                lease = _renew(driver, engine, lease)
                renewed = time.monotonic()
            changed = _apply(state, watch.events(1.0))
            if changed:
                if not driver.sync_all(_by_network(state), changed):
                    return 0
            elif not busy():
                return 0
            elif time.monotonic() - checked > CHECK:
                checked = time.monotonic()
                fresh = {kv.key: kv.value for kv in driver.store.etcd.get_prefix(prefix)[0]}
                changed = _apply(state, watch.events(0))  # what was in flight during the read
                if changed and not driver.sync_all(_by_network(state), changed):
                    return 0
                if fresh == state:
                    suspect = False
                elif suspect:
                    raise WatchLost("the watch missed changes of the store")
                else:  # maybe just in flight (a change between the read and the drain): look again in 1 s
                    suspect, checked = True, checked - CHECK + 1.0
        except Exception as e:  # noqa: BLE001 - the agent outlives any failure; it retries
            print(f"overlay agent: {e if str(e) else type(e).__name__}; resyncing", file=sys.stderr, flush=True)
            if watch is not None:
                watch.close()
            watch = None
            backoff = min(BACKOFF_MAX, max(0.25, backoff * 2))
            time.sleep(backoff)
            try:
                if not busy():
                    return 0
            except Exception:  # noqa: BLE001 - the records unreadable for a moment: try again
                pass


class WatchLost(Exception):
    """The watch stream is alive but did not deliver every change."""


if __name__ == "__main__":
    sys.exit(agent(sys.argv[1], sys.argv[2]))

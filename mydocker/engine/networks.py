"""The network service: which networks exist, and attaching containers to them and detaching them.

It is composed of one part per concern:
    engine/network_store.py      the records (tables networks, sandboxes, endpoints, requests,
                                 firewall) in the engine's SQLite database; the IPAM bitmap of each
                                 network is a column changed inside `BEGIN IMMEDIATE`, so concurrent
                                 `run`s never share an address
    engine/network_endpoints.py  an endpoint's address, ports, join and leave
    engine/network_files.py      each sandbox's /etc/hosts, hostname, resolv.conf
    engine/network_firewall.py   the root's nft table from the records: rules made with the
                                 networks, published ports added and removed as map elements
    network/driver.py            the driver protocol; bridge.py and overlay.py implement it and are
                                 handed records, never the store
Every attachment is recorded before anything is created, and `detach` undoes whatever exists from
the records alone: it is idempotent and safe after a crash at any point.

Host objects carry the project's names: bridges `mydocker0` / `md-<net>`, host veths `md<hex>`,
netns under `<runroot>/netns/<id>`, the nft table `ip mydocker`. An engine root other than the
default adds a short tag derived from the root to each, so private roots (tests) never collide.
"""

from __future__ import annotations

import os
import sys
import zlib

from mydocker.engine.network_files import SandboxFiles
from mydocker.engine.network_schema import DEFAULT_NETWORK, Attachment, Endpoint, Network, Sandbox
from mydocker.engine.network_store import NetworkGone, NetworkStore
from mydocker.engine.database import Records, now
from mydocker.errors import Conflict, Forbidden, InvalidArgument, MyDockerError, NotFound, NotSupported
from mydocker.linux.fs import Flock
from mydocker.network.driver import Driver, JoinInfo, bridge_name
from mydocker.recordclass import lazy
from mydocker.lazy import lazy_module

resolution = lazy_module("mydocker.engine.resolution")
network_endpoints = lazy_module("mydocker.engine.network_endpoints")
network_firewall = lazy_module("mydocker.engine.network_firewall")
ipam = lazy_module("mydocker.network.ipam")
ipaddress = lazy_module("ipaddress")
network_links = lazy_module("mydocker.network.links")
engine_labels = lazy_module("mydocker.engine.labels")
etcfiles = lazy_module("mydocker.network.etcfiles")
network_ports = lazy_module("mydocker.network.ports")
engine_inspect = lazy_module("mydocker.engine.inspect")
network_netns = lazy_module("mydocker.network.netns")
socket = lazy_module("socket")
userns = lazy_module("mydocker.engine.userns")
overlay_agent_control = lazy_module("mydocker.engine.overlay_agent_control")
bridge = lazy_module("mydocker.network.bridge")
events = lazy_module("mydocker.engine.events")
overlay = lazy_module("mydocker.network.overlay")
network_dns = lazy_module("mydocker.engine.network_dns")
network_usermode = lazy_module("mydocker.engine.network_usermode")
network_rootless = lazy_module("mydocker.engine.network_rootless")

PREDEFINED = (DEFAULT_NETWORK, "host", "none")  # Docker's networks that always exist and cannot be removed
_PREDEFINED_DRIVERS = {DEFAULT_NETWORK: "bridge", "host": "host", "none": "null"}
hashlib = lazy_module("hashlib")

SPECIAL_MODES = ("none", "host")
DRIVERS = ("bridge", "overlay")
HOST_LOCK = "/run/lock/mydocker-network.lock"   # host-wide: choosing subnets, creating bridges
_DEFAULT_NETWORK_TRIES = 5  # attach's tries to record an endpoint on a default network other runs retire

class NetworkService:
    def __init__(self, records: Records, root: str, runroot: str, default_root: str = "/var/lib/mydocker",
                 usermode: bool = False) -> None:
        """usermode: rootless. The default network is a per-container user-mode stack
        (engine/network_usermode.py); user networks live in the user's rootless netns
        (engine/network_rootless.py), where the bridge driver, the firewall and the resolver run."""
        self.records = records
        self.usermode = usermode
        self.store = NetworkStore(records)
        self.root = root
        self.runroot = runroot
        self.tag = root_tag(root, default_root)
        self.table = f"mydocker-{self.tag}" if self.tag else "mydocker"
        self.netns_dir = os.path.join(runroot, "netns")
        # a container's /etc files sit in its own directory, as Docker's do: no directory of their
        # own to make and remove per run (an rmdir costs 0.4-1.2 ms on this ext4); before, they were
        # in network/sandboxes/<id>, where containers made then still have them
        self.files_dir = os.path.join(root, "containers")
        self.files = SandboxFiles(self.store, self.files_dir, self._remote_peers,
                                  legacy_dir=os.path.join(root, "network", "sandboxes"))
        self.lock_path = os.path.join(root, "network", "lock")
        self._drivers: dict[str, Driver] = {}

    # the parts a container without endpoints (--network none, host) does not need: imported on first use

    @lazy
    def place(self):
        """The rootless netns (None for root: the host's netns)."""
        return network_rootless.RootlessNetns(self.runroot) if self.usermode else None

    @lazy
    def wiring(self):
        """An endpoint's address, ports, join and leave."""
        return network_endpoints.Endpoints(self.store, self.driver, self.tag)

    @lazy
    def firewall(self):
        return network_firewall.Firewall(self.store, self.table, self.place)

    @lazy
    def dns(self):
        """The embedded resolver of the user networks."""
        if self.usermode:  # in the rootless netns, forwarding to slirp4netns's DNS
            return network_dns.EmbeddedDns(self.store, self.runroot, self.lock_path, self.place,
                                           [network_usermode.nameserver()])
        return network_dns.EmbeddedDns(self.store, self.runroot, self.lock_path)

    def _sync_dns(self, networks: set) -> dict[str, str]:
        """The embedded resolver told of these networks' members (call with the lock held); network:
        "" served, or why not. The default bridge has none: nothing is loaded for it."""
        user = {n for n in networks if n != DEFAULT_NETWORK}
        return self.dns.sync(user) if user else {}

    def _repoint_resolver(self, sb: Sandbox | None) -> None:
        """After a connect or disconnect: resolv.conf names the resolver of the container's first
        network (by interface) that has one serving, else the host's resolvers. A container started on
        the default bridge and connected to a user network resolves its names by DNS from then on;
        one disconnected from the network whose gateway it asked goes on with another."""
        if sb is None or sb.mode != "bridge" or not os.path.isdir(sb.files):
            return
        resolver = None
        for ep in sorted(self.endpoints(container=sb.container), key=lambda e: (len(e.ifname), e.ifname)):
            net = self.store.find(ep.network)
            if network_dns.has_embedded_dns(net) and self.dns.served(net.name):
                resolver = net.gateway
                break
        self.files.write_resolv(sb, resolver=resolver, nameservers=self._forwards_to(resolver))

    def _forwards_to(self, resolver: str | None) -> list[str] | None:
        """The servers the embedded resolver at `resolver` forwards to, for resolv.conf's ExtServers
        comment: rootless, slirp4netns's forwarder, not the host's resolvers; None: the host's."""
        return self.dns.upstreams if resolver and self.usermode else None

    def _resolver_for(self, net: Network) -> str | None:
        """The address a new container on `net` names in its resolv.conf: the network's gateway when
        the embedded resolver serves it there; None (the host's resolvers) otherwise. Port 53 taken
        there: one line says so and the container goes on without it, as Docker's does."""
        if not network_dns.has_embedded_dns(net):
            return None
        problem = self._sync_dns({net.name}).get(net.name, "")
        if problem:
            print(f"WARNING: network {net.name} has no embedded DNS ({problem}): its containers resolve each "
                  "other through /etc/hosts only; free that port and restart them", file=sys.stderr)
            return None
        return net.gateway

    def bridge_name(self, network: str) -> str:
        return bridge_name(self.tag, network, default=network == DEFAULT_NETWORK)

    # drivers

    def driver(self, name: str) -> Driver:
        """The driver of that name, made on first use (its module is imported then)."""
        if name not in self._drivers:
            if name == "bridge" and self.usermode:
                self._drivers[name] = network_rootless.InNetnsDriver(bridge.BridgeDriver(), self.place)
            elif name == "bridge":
                self._drivers[name] = bridge.BridgeDriver()
            elif name == "overlay":
                self._drivers[name] = overlay.OverlayDriver(self.root, self.tag)
            else:
                raise InvalidArgument(f"network driver {name!r} is not supported: use --driver bridge or overlay")
        return self._drivers[name]

    def _remote_peers(self, networks: set) -> list[tuple[str, list]]:
        """/etc/hosts lines of containers on other hosts on these networks (their drivers know them)."""
        return [peer for net in self.networks() if net.name in networks for peer in self.driver(net.driver).peers(net)]

    # networks

    def create(self, name: str, driver: str = "bridge", subnet: str | None = None, gateway: str | None = None,
               internal: bool = False, labels: dict | None = None) -> Network:
        if name in (DEFAULT_NETWORK, "default", *SPECIAL_MODES):
            raise Conflict(f"network name {name!r} is reserved: choose another name")
        if not name or not name[0].isalnum() or not all(c.isalnum() or c in "_.-" for c in name) or len(name) < 2:
            raise InvalidArgument(f"invalid network name {name!r}: use [a-zA-Z0-9][a-zA-Z0-9_.-]+")
        if driver not in DRIVERS:
            raise InvalidArgument(f"network driver {driver!r} is not supported: use --driver bridge or overlay")
        if self.store.find(name):
            raise Conflict(f"network {name!r} already exists: choose another name or remove it with "
                           "`mydocker network rm`")
        if self.usermode and driver != "bridge":
            raise NotSupported(f"network driver {driver!r}: a rootless engine's user networks are bridges in the "
                               "user's own network namespace: use --driver bridge")
        if gateway and not subnet:
            raise InvalidArgument("--gateway needs --subnet: give both, or neither for an automatic subnet")
        drv = self.driver(driver)
        if drv.scope == "global":  # defined for every host in the driver's store; this host keeps a copy
            net = self._adopt(drv.define(name, subnet, gateway, labels or {}, now(), self._check_free))
            events.network(self.runroot, "create", net)
            return net
        net = self._add_network(drv, name, subnet, gateway, internal, labels or {})
        try:
            with self.lock():
                self._rebuild_firewall()
        except BaseException:
            self.remove(name)
            raise
        events.network(self.runroot, "create", net)
        return net

    def _add_network(self, driver: Driver, name: str, subnet: str | None, gateway: str | None, internal: bool,
                     labels: dict) -> Network:
        """A network of a local driver: its subnet chosen, recorded, then made on the host."""
        with self._host_lock():
            if subnet:
                self._check_free(subnet)
            else:
                subnet = self._pick_subnet(name)
            bitmap = ipam.Bitmap(subnet, gateway)
            net = Network(name=name, id=self._predefined_id(name) if name == DEFAULT_NETWORK else os.urandom(32).hex(),
                          driver=driver.name, subnet=subnet,
                          gateway=gateway or bitmap.default_gateway(), bridge=self.bridge_name(name),
                          internal=internal, created=now(), labels=labels)
            if not self.store.add_network(net, bitmap.to_bytes()):
                raise Conflict(f"network {name!r} already exists (or its bridge name {net.bridge} is taken): "
                               "choose another name or remove it with `mydocker network rm`")
            # the bridge (and so its route) exists before the host lock is released: the next
            # subnet choice, by any engine root, sees it
            try:
                driver.create_network(net)
            except BaseException:
                self.store.remove_network(name)
                driver.delete_network(net)
                raise
        return net

    def _check_free(self, subnet: str) -> None:
        ipam.check_free(subnet, [(n.name, n.subnet) for n in self.networks()], self._host_route_nets())

    def _host_route_nets(self):
        """The host's routes (as seen from the host's netns: a rootless engine runs there), and for a
        rootless engine slirp4netns's network, which its rootless netns routes to the host."""
        nets = [ipaddress.IPv4Network((dest, bin(mask).count("1"))) for dest, mask in network_links.host_routes()]
        return nets + ([ipaddress.IPv4Network(network_rootless.SLIRP_SUBNET)] if self.usermode else [])

    def _pick_subnet(self, name: str) -> str:
        used = [ipaddress.IPv4Network(n.subnet) for n in self.networks()] + self._host_route_nets()
        return ipam.pick_subnet(name == DEFAULT_NETWORK, used)

    def networks(self) -> list[Network]:
        return self.store.networks()

    def listed(self) -> list[Network]:
        """What `network ls` shows: Docker's pre-defined bridge, host and none first (always there), then
        the user networks."""
        nets = self.networks()
        return [self._predefined(name, nets) for name in PREDEFINED] + [n for n in nets if n.name not in PREDEFINED]

    def _predefined(self, name: str, nets: list[Network] | None = None) -> Network:
        """A pre-defined network: the default bridge's record once it is made (on first use), else a
        stand-in with the id it has for good (host and none have no record: nothing is made for them)."""
        for net in nets if nets is not None else self.networks():
            if net.name == name:
                return net
        return Network(name=name, id=self._predefined_id(name), driver=_PREDEFINED_DRIVERS[name], subnet="",
                       gateway="", bridge=self.bridge_name(name) if name == DEFAULT_NETWORK else "",
                       created="0001-01-01T00:00:00Z")

    def _predefined_id(self, name: str) -> str:
        """The same id for a root's pre-defined network every time (a private root's default bridge is
        made and removed again as containers come and go)."""
        return hashlib.sha256(f"{os.path.realpath(self.root)}\0{name}".encode()).hexdigest()

    def _find_predefined(self, ref: str) -> Network | None:
        """The pre-defined network `ref` names (by name, id or an id prefix of 3 or more), if any."""
        for name in PREDEFINED:
            net = self._predefined(name)
            if ref in (name, net.id) or (len(ref) >= 3 and net.id.startswith(ref)):
                return net
        return None

    def join_cluster_networks(self) -> None:
        """Record here the networks other hosts defined in the cluster store, if one is set up (so
        that `network ls` shows them); StoreUnavailable when it cannot be reached."""
        driver = self.driver("overlay")
        if not driver.configured():
            return
        for net in driver.known():
            try:
                self.get(net.name)
            except (NotFound, InvalidArgument):  # not here yet
                try:
                    self._adopt(net)
                except MyDockerError:
                    pass  # a local network of that name: it stays local

    def _lookup_global(self, name: str) -> Network | None:
        driver = self.driver("overlay")
        return driver.lookup(name) if driver.configured() else None

    def _adopt(self, net: Network) -> Network:
        """Record a network a global driver defined (its addresses mirrored in a local bitmap)."""
        if self.store.add_network(net, ipam.Bitmap(net.subnet, net.gateway).to_bytes()):
            return net
        existing = self.get(net.name)
        if existing.driver != net.driver:
            raise Conflict(f"network {net.name!r} already exists on this host: choose another name")
        return existing

    def get(self, ref: str) -> Network:
        return self.store.get(ref)

    def endpoints(self, network: str | None = None, container: str | None = None) -> list[Endpoint]:
        return self.store.endpoints(network, container)

    def sandbox(self, container_id: str) -> Sandbox | None:
        return self.store.sandbox(container_id)

    def inspect(self, ref: str) -> dict:
        try:
            net = self.get(ref)
        except NotFound:
            net = self._find_predefined(ref)
            if net is None:
                raise
        containers = {}
        for ep in self.endpoints(network=net.name):
            sb = self.sandbox(ep.container)
            containers[ep.container] = {"Name": sb.name if sb else "",
                                        "IPv4Address": f"{ep.ip}/{net.subnet.split('/')[1]}",
                                        "MacAddress": ep.mac, "EndpointID": ep.veth, "IPv6Address": ""}
        if net.name in SPECIAL_MODES:  # the containers running with --network host|none
            for sb in self.store.sandboxes():
                if sb.mode == net.name:
                    containers[sb.container] = {"Name": sb.name, "IPv4Address": "", "MacAddress": "",
                                                "EndpointID": "", "IPv6Address": ""}
        return {"Name": net.name, "Id": net.id, "Created": net.created,
                "Scope": "global" if net.driver == "overlay" else "local",
                "Driver": net.driver, "EnableIPv4": True, "EnableIPv6": False,
                "IPAM": {"Driver": "default", "Options": None if net.name in SPECIAL_MODES else {},
                         "Config": [{"Subnet": net.subnet, "Gateway": net.gateway}] if net.subnet else []},
                "Internal": net.internal, "Attachable": False, "Ingress": False, "ConfigFrom": {"Network": ""},
                "ConfigOnly": False, "Containers": containers,
                # what Docker shows: none for a user bridge network (compose compares them with its own)
                "Options": {"com.docker.network.bridge.name": net.bridge}
                if net.name == DEFAULT_NETWORK or net.driver not in ("bridge", "host", "null") else {},
                "Labels": net.labels}

    def remove(self, ref: str) -> None:
        if ref in PREDEFINED:  # host and none have no record; bridge may have none yet
            raise Forbidden(f"{ref} is a pre-defined network and cannot be removed")
        try:
            net = self.get(ref)
        except NotFound:
            net = self._find_predefined(ref)  # by id
            if net is None:
                raise
        if net.name in PREDEFINED:
            raise Forbidden(f"{net.name} is a pre-defined network and cannot be removed")
        if self.endpoints(network=net.name):
            names = ", ".join(sorted({(self.sandbox(e.container) or Sandbox(e.container, e.container[:12], "", None,
                                      False, "", "")).name for e in self.endpoints(network=net.name)}))
            raise Conflict(f"network {net.name} has active endpoints ({names}): stop or disconnect them first")
        with self.lock():
            driver = self.driver(net.driver)
            with self._host_lock():  # a `network create` of the same name makes its bridge after, not between
                if not self.store.remove_network_if_unused(net.name):  # no container joined since the check above
                    raise Conflict(f"network {net.name} has active endpoints: stop or disconnect them first")
                driver.delete_network(net)
            if driver.scope == "global" and not any(n.driver == net.driver for n in self.networks()):
                overlay_agent_control.stop_agent(self.runroot)  # nothing left for it to watch
            self._rebuild_firewall()
        events.network(self.runroot, "destroy", net)

    def prune(self, labels: list[str] | None = None) -> list[str]:
        """Remove user networks without containers (with `labels`, Docker's label=k / label=k=v
        filters, only those whose labels match); return their names."""
        removed = []
        for net in self.networks():
            if net.name != DEFAULT_NETWORK and engine_labels.labels_match(net.labels, labels or []) \
                    and not self.endpoints(network=net.name):
                try:
                    self.remove(net.name)
                    removed.append(net.name)
                except Conflict:
                    pass  # a container joined meanwhile
        return removed

    # containers

    def attach(self, container_id: str, name: str, network: str | None = None, ports: list | None = None,
               ip: str | None = None, hostname: str | None = None, aliases: list | None = None) -> Attachment:
        """Give a container its network (`bridge` by default, a user network, none, host or
        container:<ref>) and the /etc files; the result goes into its config.json."""
        mode = network or DEFAULT_NETWORK
        if not hostname and mode == "host":
            hostname = socket.gethostname()
        hostname = hostname or container_id[:12]
        ports, aliases = list(ports or []), list(aliases or [])
        if mode == "default":
            mode = DEFAULT_NETWORK
        if (ports or ip) and (mode in SPECIAL_MODES or mode.startswith("container:")):
            what = "-p/--publish" if ports else "--ip"
            raise InvalidArgument(f"{what} cannot be used with --network {mode}: "
                                  "use the default bridge or a user network")
        if aliases and (mode == DEFAULT_NETWORK or mode in SPECIAL_MODES or mode.startswith("container:")):
            raise InvalidArgument("network aliases only work on user-defined networks: "
                                  "use --network <your network>")
        files = self.files.directory(container_id)
        if mode in SPECIAL_MODES:
            self._record_sandbox(Sandbox(container_id, name, mode, None, False, hostname, files))
            return self._prepare_files(container_id, mode, hostname, host=mode == "host")
        if mode.startswith("container:"):
            return self._attach_to_container(container_id, name, mode.partition(":")[2], files)
        if ip and mode == DEFAULT_NETWORK:
            raise InvalidArgument("--ip needs a user-defined network: create one with "
                                  "`mydocker network create --subnet ...` and use --network")
        if self.usermode and mode == DEFAULT_NETWORK:
            return self._attach_usermode(container_id, name, ports, hostname, files)
        path = os.path.join(self.netns_dir, container_id)
        self._record_sandbox(Sandbox(container_id, name, "bridge", path, True, hostname, files))
        try:
            net, ep = self._first_endpoint(container_id, mode, ip, aliases, ports)
            owner = userns.path_for(self.runroot, container_id)
            with self.lock():
                self._rootless_up(container_id)
                self._join(net, ep, JoinInfo(path, create_netns=True, name=name,
                                             owner=owner if userns.is_pinned(owner) else None))
                resolver = self._resolver_for(net) if mode != DEFAULT_NETWORK else None
                return self._prepare_files(container_id, "bridge", hostname, addresses=[ep.ip], netns=path,
                                           resolver=resolver)
        except BaseException:
            self.detach(container_id)
            raise

    def _attach_usermode(self, container_id: str, name: str, ports: list, hostname: str, files: str) -> Attachment:
        """The rootless default: the container's own netns, wired by a user-mode stack that
        publishes its ports on the host (recorded first, as every sandbox: detach undoes it)."""
        path = os.path.join(self.netns_dir, container_id)
        self._record_sandbox(Sandbox(container_id, name, "usermode", path, True, hostname, files))
        try:
            network_netns.create(path, in_child=True)
            network_usermode.start(path,
                                   [[m.proto, m.host_ip, m.host_port or network_ports.free_port(m.proto, m.host_ip),
                                           m.container_port] for m in ports], self._usermode_dir(container_id))
            mounts = self.files.prepare(self.sandbox(container_id), nameservers=[network_usermode.nameserver()])
            return Attachment(mode="usermode", netns=path, host_netns=False, hostname=hostname, mounts=mounts)
        except BaseException:
            self.detach(container_id)
            raise

    def _rootless_up(self, joining: str) -> None:
        """A rootless engine's user networks: the user's rootless netns up (call with the lock held);
        when it was just made, its table comes whole with the next change, and the records' forwards
        (but those of `joining`, the container whose join publishes its own) are put in again (after a
        crash or a killed slirp4netns)."""
        if not self.usermode or not self.place.up():
            return
        self.firewall.forget()
        for ep in self.endpoints():
            if ep.ports and ep.container != joining:
                self.place.publish(ep.ports)

    def _rootless_down_if_unused(self) -> None:
        """The last endpoint went: the rootless netns goes, with its stack, bridges and resolver's sockets
        (call with the lock held). Networks stay recorded; their bridges come back with the next one."""
        if self.usermode and not self.endpoints():
            self.place.down()
            self.firewall.forget()

    def _usermode_dir(self, container_id: str) -> str:
        return os.path.join(self.runroot, "usermode", container_id)

    def _record_sandbox(self, sb: Sandbox) -> None:
        self.store.add_sandbox(sb)

    def _attach_to_container(self, container_id: str, name: str, ref: str, files: str) -> Attachment:
        target = self.records.find_container(ref)
        other = self.sandbox(target.id)
        if target.status != "running" or other is None:
            raise Conflict(f"cannot join the network of container {ref}: it is not running; start it first")
        if other.mode == "host":
            netns_path, host = None, True
        elif other.netns:
            netns_path, host = other.netns, False
        else:  # --network none: the runtime made it; reach it through the init's pid
            netns_path, host = f"/proc/{target.pid}/ns/net", False
        self._record_sandbox(Sandbox(container_id, name, f"container:{target.id}", netns_path, False,
                                     other.hostname, other.files))
        return Attachment(mode=f"container:{target.id}", netns=netns_path, host_netns=host, hostname=other.hostname,
                          mounts=etcfiles.mounts(other.files),
                          addresses=[e.ip for e in self.endpoints(container=target.id)])

    def _first_endpoint(self, container_id: str, mode: str, ip: str | None, aliases: list,
                        ports: list) -> tuple[Network, Endpoint]:
        """The container's eth0 on network `mode`, recorded (its host objects come with _join).

        A private root's default network is made on first use and retired with its last endpoint
        (_retire_default_bridge), by whichever process drops it: between our finding it and recording
        our endpoint on it, another run's container may retire it (NetworkGone). Then we make it again;
        a few tries outlast any real interleaving. A user network that goes is the user's doing: no retry.
        """
        for _ in range(_DEFAULT_NETWORK_TRIES):
            net = self._network_for_use(mode)
            try:
                return net, self._add_endpoint(container_id, net, ip, aliases, ports, "eth0")
            except NetworkGone:
                if mode != DEFAULT_NETWORK:
                    break
        raise NotFound(f"network {mode} was removed meanwhile: create it again")

    def _network_for_use(self, mode: str) -> Network:
        """The network `mode` names: recorded here, defined by another host (overlay), or the default
        network, made on first use."""
        try:
            return self.get(mode)
        except NotFound:
            if mode != DEFAULT_NETWORK:
                found = self._lookup_global(mode)
                if found:
                    return self._adopt(found)  # a network another host defined (overlay)
                raise NotFound(f"network {mode} not found: create it with `mydocker network create {mode}` "
                               "or use --network bridge|host|none") from None
        return self._default_network()

    def _default_network(self) -> Network:
        """The default network's record, made now if there is none. Looked for again under the host
        lock, which its making (_add_network) and its retiring (_retire_default_bridge) hold too: a
        concurrent run's making or retiring of it is then seen whole, or not yet begun."""
        with self._host_lock():
            return self.store.find(DEFAULT_NETWORK) or \
                self._add_network(self.driver("bridge"), DEFAULT_NETWORK, None, None, False, {})

    def _add_endpoint(self, container_id: str, net: Network, ip: str | None, aliases: list, ports: list,
                      ifname: str) -> Endpoint:
        """Allocate the address and ports and record the endpoint (NetworkGone: the network went)."""
        return self.wiring.add(container_id, net, ip, aliases, ports, ifname)

    def _join(self, net: Network, ep: Endpoint, info: JoinInfo) -> None:
        """Create the host objects of a recorded endpoint (called under the lock)."""
        self.wiring.join(net, ep, info)
        driver = self.driver(net.driver)
        if driver.scope == "global":  # other hosts' endpoints: forwarding entries, hosts files, a watcher
            self.sync_network(net)
            overlay_agent_control.start_agent(self.root, self.runroot)
        self.firewall.publish(ep)
        if self.usermode and ep.ports:  # from the host into the rootless netns, where the table DNATs them
            self.place.publish(ep.ports)
        events.network(self.runroot, "connect", net, container=ep.container)  # Docker's, at every start too

    def sync_network(self, net: Network, records: list[dict] | None = None) -> None:
        """A global network: this host's forwarding entries and its containers' hosts files, from one
        read of the cluster store (or `records`, what a watcher has). Call with the lock held: two
        syncs from reads of different ages would undo each other."""
        with self.driver(net.driver).synced(net, records):
            self.files.rewrite_hosts(net.name)

    def _prepare_files(self, container_id: str, mode: str, hostname: str, addresses: list | None = None,
                       netns: str | None = None, host: bool = False, resolver: str | None = None) -> Attachment:
        mounts = self.files.prepare(self.sandbox(container_id), host=host, resolver=resolver,
                                    nameservers=self._forwards_to(resolver))
        return Attachment(mode=mode, netns=netns, host_netns=host, hostname=hostname, mounts=mounts,
                          addresses=list(addresses or []))

    def connect(self, network: str, container_ref: str, ip: str | None = None,
                aliases: list | None = None) -> Endpoint | None:
        """Add a network to a container: another ethN in a running one's namespace; a stopped one joins it
        at its next start. Either way it stays connected across stops and restarts, as in Docker."""
        target = self.records.find_container(container_ref)
        sb = self.sandbox(target.id)
        net = self.get(network)
        if aliases and net.name == DEFAULT_NETWORK:
            raise InvalidArgument("network aliases only work on user-defined networks")
        if sb is None or target.status not in ("running", "created"):  # a created one is wired already
            if self._requested_network(target.id) == net.name:
                # its own network while stopped: joined at its next start, with these aliases (docker-compose
                # 1.29 disconnects and connects every container it starts)
                self._own_network_ports(target.id, net.name, list(aliases or []))
                return None
            mode = self._requested_network(target.id) or ""
            if mode in SPECIAL_MODES or mode.startswith("container:") or (self.usermode and mode == DEFAULT_NETWORK):
                raise Conflict(f"container {target.name} uses --network {_mode_name(mode, self.usermode)}: "
                               "only containers on bridge networks can be connected to more networks")
            self._remember_connected(target.id, net.name, ip, list(aliases or []))
            return None
        if sb.mode != "bridge":
            raise Conflict(f"container {target.name} uses --network {_mode_name(sb.mode)}: "
                           "only containers on bridge networks can be connected to more networks")
        ep = self._join_more(target.id, sb, net, ip, list(aliases or []))
        if self._requested_network(target.id) != net.name:  # its own network is joined at each start anyway
            self._remember_connected(target.id, net.name, ip, list(aliases or []))
        return ep

    def _join_more(self, container_id: str, sb: Sandbox, net: Network, ip: str | None, aliases: list) -> Endpoint:
        """One more network in the container's namespace (the next ethN), its /etc/hosts and its peers' updated."""
        ports = self._own_network_ports(container_id, net.name, aliases)
        if self.usermode:  # we cannot return from a netns to the host's: a child looks (network_rootless)
            ifname = network_netns.run_inside(sb.netns, network_links.next_ifname, sb.netns)
        else:
            ifname = network_links.next_ifname(sb.netns)
        ep = self._add_endpoint(container_id, net, ip, aliases, ports, ifname)
        try:
            with self.lock():
                self._rootless_up(container_id)  # down if this container was on no network a moment ago
                self._join(net, ep, JoinInfo(sb.netns, create_netns=False, name=sb.name))
                self.files.write_hosts(sb)
                self.files.refresh_peers(container_id, {net.name})
                if network_dns.has_embedded_dns(net):
                    self._sync_dns({net.name})
                    self._repoint_resolver(self.sandbox(container_id))
        except BaseException:
            self._drop_endpoint(ep)
            raise
        return ep

    def rename(self, container_id: str, name: str) -> None:
        """A renamed container is found by its new name: in its peers' /etc/hosts, its own, and the
        embedded resolver."""
        self.store.rename(container_id, name)
        sb = self.sandbox(container_id)
        networks = {e.network for e in self.endpoints(container=container_id)}
        if sb is None or not networks:
            return
        with self.lock():
            if sb.mode == "bridge" and os.path.isdir(sb.files):
                self.files.write_hosts(sb)
            self.files.refresh_peers(container_id, networks)
            self._sync_dns(networks)

    def _remember_connected(self, container_id: str, network: str, ip: str | None, aliases: list) -> None:
        """Keep a `network connect` with the container's settings: Docker keeps the endpoint's config in
        the container, so every later start joins that network again."""
        settings = self.store.settings(container_id)
        settings.connected = [c for c in settings.connected if c[0] != network] + [[network, ip, aliases]]
        self.store.save_settings(container_id, settings)

    def _forget_connected(self, container_id: str, network: str) -> bool:
        """Drop a `network connect` from the container's settings; whether it was there."""
        settings = self.store.settings(container_id)
        kept = [c for c in settings.connected if c[0] != network]
        if len(kept) == len(settings.connected):
            return False
        settings.connected = kept
        self.store.save_settings(container_id, settings)
        return True

    def _requested_network(self, container_id: str) -> str | None:
        """The network the container was created on (its NetworkMode)."""
        row = self.store.request(container_id)
        return row[1] if row else None

    def _own_network_ports(self, container_id: str, network: str, aliases: list) -> list:
        """Connecting a container back to the network it was created on (docker-compose 1.29 disconnects
        and connects each new container to set its aliases): its published ports go with that endpoint,
        and the aliases are kept for its next start, as Docker keeps the endpoint's config."""
        row = self.store.request(container_id)
        if row is None or row[1] != network:
            return []
        settings = self.store.settings(container_id)
        settings.aliases = aliases
        self.store.save_settings(container_id, settings)
        return [network_ports.PortMapping(*p) for p in row[2]]

    def disconnect(self, network: str, container_ref: str) -> None:
        target = self.records.find_container(container_ref)
        net = self.get(network)
        eps = self.endpoints(network=net.name, container=target.id)
        was_connected = self._forget_connected(target.id, net.name)
        if not eps and target.status not in ("running", "created") and (
                was_connected or self._requested_network(target.id) == net.name):
            return  # stopped: nothing is wired; it joins its own network again when started
        if not eps:
            raise NotFound(f"container {target.name} is not connected to network {net.name}")
        self._drop_endpoint(eps[0])
        sb = self.sandbox(target.id)
        with self.lock():
            if sb and os.path.isdir(sb.files):
                self.files.write_hosts(sb)
            self.files.refresh_peers(target.id, {net.name})
            if network_dns.has_embedded_dns(net):
                self._sync_dns({net.name})
                self._repoint_resolver(sb)

    def _drop_endpoint(self, ep: Endpoint, netns_ends: bool = False) -> None:
        net = self.store.find(ep.network)
        with self.lock():
            retiring = self._retires_default_network(ep)
            if retiring:
                self.firewall.forget()  # the rebuild below takes its ports with its network's rules
            else:
                self.firewall.unpublish(ep)  # before its record goes: the record says what to remove
            if self.usermode and ep.ports and self.place.is_up():
                self.place.unpublish(ep.ports)
            self.wiring.drop(ep, netns_ends)
            self._rootless_down_if_unused()  # its netns gone, no table to rebuild there
            # Only when a network went (or we forgot the table): else the rules are as the records say,
            # and the check (the whole ruleset's text against the applied one) costs 0.3 ms a call.
            # A table forgotten by someone else is rebuilt by the next publish, as before.
            if self._retire_default_bridge() or retiring:
                self._rebuild_firewall()
        if net is not None:
            events.network(self.runroot, "disconnect", net, container=ep.container)  # Docker's, at every stop too

    def _retires_default_network(self, ep: Endpoint) -> bool:
        """Whether dropping this endpoint (with published ports) retires a private root's default network."""
        return bool(ep.ports and self.tag and ep.network == DEFAULT_NETWORK
                    and all(e.container == ep.container for e in self.endpoints(network=ep.network)))

    def detach(self, container_id: str) -> None:
        """Undo everything of the container's network from the records: idempotent, crash-safe."""
        sb = self.sandbox(container_id)
        eps = self.endpoints(container=container_id)
        if sb is None and not eps:
            return
        # its namespace is unpinned below and dies with it (unless another container shares it):
        # the drivers leave the veths in it to the kernel (Driver.leave)
        netns_ends = bool(sb and sb.owns_netns and sb.netns and not self.store.shares_netns(sb.netns, container_id))
        for ep in eps:
            self._drop_endpoint(ep, netns_ends)
        if sb is not None:
            if sb.mode == "usermode":
                network_usermode.stop(self._usermode_dir(container_id))
            if sb.owns_netns and sb.netns:
                network_netns.remove(sb.netns)
            self.files.remove(sb)
            self.store.remove_sandbox(container_id)
        with self.lock():
            if eps:
                self.files.refresh_peers(container_id, {e.network for e in eps})
                self._sync_dns({e.network for e in eps})
            if sb is not None and sb.mode == "bridge" and not eps:
                # a crash between making the default network and recording the endpoint: no
                # endpoint was dropped above (each drop retires it if it was the last), but the
                # network may be this container's alone
                if self._retire_default_bridge():
                    self._rebuild_firewall()

    def _retire_default_bridge(self) -> bool:
        """The default root keeps mydocker0 (as Docker keeps docker0). Any other root's default
        network exists while containers use it, and is created again, with a subnet free at that
        time, on first use: a private root (a test) leaves no bridge or rule behind it. True if it went."""
        net = self.store.find(DEFAULT_NETWORK)
        if net is None or not self.tag:
            return False
        # under the host lock, as _add_network: else a `run` that finds no record makes the network
        # again and finds this bridge still there, which this delete (by name) then takes from it
        with self._host_lock():
            if self.store.remove_network_if_unused(DEFAULT_NETWORK):
                self.driver(net.driver).delete_network(net)
                return True
        return False

    def published(self, container_id: str) -> list[tuple[str, str, int]]:
        """`mydocker port`: ("80/tcp", host_ip, host_port) for each published port."""
        sb = self.sandbox(container_id) if self.usermode else None
        if sb is not None and sb.mode == "usermode":
            return network_usermode.published(self._usermode_dir(container_id))
        return network_endpoints.published(self.endpoints(container=container_id))

    def container_view(self, container_id: str) -> dict:
        """A container's network side as Docker's inspect shows it: HostConfig's NetworkMode and
        PortBindings (as asked at creation) and NetworkSettings (as attached now: empty when stopped)."""
        row = self.store.request(container_id)
        if row is None:
            return {}
        _name, mode, ports, _ip, _hostname = row
        endpoints = self.endpoints(container=container_id)
        known = {n.name: n for n in self.listed()}
        return {"NetworkMode": mode, "PortBindings": engine_inspect.port_bindings(ports),
                "NetworkSettings": engine_inspect.network_settings(mode, self.sandbox(container_id), endpoints, known,
                                                                   container_id, self.store.settings(container_id))}

    # the container flow: create → (start → stop)* → remove

    def configure(self, container_id: str, name: str, opts, config: dict, exposed: dict | None = None) -> Attachment:
        """When a container is created: check and record what it asks for (--network, -p, --ip,
        --hostname), attach it, and put the attachment into its config.json. The netns and /etc file
        paths depend on the id alone, so the same config.json serves every later start."""
        mappings = [network_ports.parse(p) for p in getattr(opts, "publish", None) or []]
        mode = getattr(opts, "network", None) or DEFAULT_NETWORK
        if getattr(opts, "publish_all", False) and mode not in SPECIAL_MODES and not mode.startswith("container:"):
            # -P: each exposed port not published already, to a free one (nothing to publish without a netns of its own)
            published = {(m.container_port, m.proto) for m in mappings}
            for key in exposed or {}:
                port, _, proto = key.partition("/")
                if (int(port), proto) not in published and proto in ("tcp", "udp"):
                    mappings.append(network_ports.parse(key))
        settings = _resolution_settings(opts)
        if mode.startswith("container:") and settings is not None and (
                settings.extra_hosts or settings.dns or settings.dns_search or settings.dns_options):
            raise InvalidArgument("conflicting options: --add-host, --dns, --dns-search and --dns-option cannot "
                                  "be used with --network container:, which shares that container's files")
        if settings is not None and settings.links:
            self._check_links(mode, settings.links)
        self.store.save_request(container_id, name, mode,
                                [[m.container_port, m.proto, m.host_port, m.host_ip] for m in mappings],
                                getattr(opts, "ip", None), opts.hostname)
        if settings is not None:
            self.store.save_settings(container_id, settings)
        return self.apply_to_spec(config, self.ensure_attached(container_id))

    def _check_links(self, mode: str, links: list) -> None:
        """--link names a container that exists, from a user network (where a link is an alias the
        linking container alone sees; the default bridge's legacy links, with their env vars, are not made)."""
        if mode == DEFAULT_NETWORK or mode in SPECIAL_MODES or mode.startswith("container:"):
            raise InvalidArgument("links work on user-defined networks only in mydocker: use --network "
                                  "<your network> (and --network-alias rather than --link)")
        for name, _alias in links:
            try:
                self.records.find_container(name)
            except NotFound:
                raise InvalidArgument(f"could not get container for {name}: no such container") from None

    def ensure_attached(self, container_id: str) -> Attachment | None:
        """Before a (re)start: attach as recorded at creation, unless attached already."""
        row = self.store.request(container_id)
        if row is None:
            return None
        sb = self.sandbox(container_id)
        if sb is not None:
            if not (sb.owns_netns and sb.netns and not network_netns.is_pinned(sb.netns)):
                return None
            self.detach(container_id)  # recorded, but its netns is gone (a reboot): wire it again
        name, network, ports, ip, hostname = row
        ports = [network_ports.PortMapping(*p) for p in ports]
        settings = self.store.settings(container_id)
        att = self.attach(container_id, name, network, ports, ip, hostname, aliases=settings.aliases)
        try:
            for net_name, net_ip, aliases in settings.connected:  # the networks `network connect` added
                try:
                    net = self.get(net_name)
                except NotFound:  # removed while the container was stopped: it is no longer connected
                    self._forget_connected(container_id, net_name)
                    continue
                self._join_more(container_id, self.sandbox(container_id), net, net_ip, aliases)
        except BaseException:
            self.detach(container_id)
            raise
        return att

    def release(self, container_id: str, forget: bool = False) -> None:
        """When a container stops (and with `forget`, when it is removed): detach it."""
        self.detach(container_id)
        if forget:
            self.store.forget_request(container_id)

    # config.json

    @staticmethod
    def apply_to_spec(config: dict, att: Attachment) -> Attachment:
        """Put the attachment into a config.json: the netns to join (as CNI does), hostname, /etc files."""
        namespaces = config["linux"]["namespaces"]
        if att.host_netns:
            namespaces[:] = [ns for ns in namespaces if ns.get("type") != "network"]
            sysctl = config["linux"].get("sysctl") or {}  # they would be the host's (security's ping range)
            config["linux"]["sysctl"] = {k: v for k, v in sysctl.items() if not k.startswith("net.")}
        elif att.netns:
            for ns in namespaces:
                if ns.get("type") == "network":
                    ns["path"] = att.netns
        env = config["process"]["env"]  # HOSTNAME follows, unless the user set it with -e
        env[:] = [f"HOSTNAME={att.hostname}" if e == f"HOSTNAME={config.get('hostname')}" else e for e in env]
        config["hostname"] = att.hostname
        targets = {m["destination"] for m in att.mounts}
        config["mounts"] = [m for m in config["mounts"] if m["destination"] not in targets] + list(att.mounts)
        return att

    # the firewall and recovery

    def _rebuild_firewall(self, force: bool = False) -> None:
        """The whole table from the records when the networks changed since it was applied (or `force`)."""
        self.firewall.rebuild(force)

    def reconcile(self, live=None) -> dict:
        """After a reboot or a flush: bridges, forwarding and rules back from the records; endpoints of
        containers that no longer run (per `live(container_id) -> bool`) are detached."""
        detached = []
        for sb in self.store.sandboxes():
            gone = (live is not None and not live(sb.container)) or \
                (sb.owns_netns and sb.netns and not network_netns.is_pinned(sb.netns))
            if gone:
                self.detach(sb.container)
                detached.append(sb.container)
        with self.lock():
            nets = self.firewall.networks()
            for net in nets:
                self.driver(net.driver).create_network(net)
            if nets and not self.usermode:  # a rootless netns's own is turned on by the driver's join
                network_links.enable_ip_forward()
            self._rebuild_firewall(force=True)
            self._sync_dns({n.name for n in nets if network_dns.has_embedded_dns(n)})  # a resolver killed: again
        return {"networks": [n.name for n in nets], "detached": detached, "table": f"ip {self.table}"}

    def info(self) -> dict:
        try:
            with open("/proc/sys/net/ipv4/ip_forward") as f:
                forward = f.read().strip() == "1"
        except OSError:
            forward = False
        return {"IPv4Forwarding": forward, "FirewallBackend": "nftables", "FirewallTable": f"ip {self.table}",
                "DefaultBridge": self.bridge_name(DEFAULT_NETWORK)}

    # locks

    def lock(self) -> Flock:
        """Per root: wiring and the rebuild of the nft table happen one at a time."""
        return Flock(self.lock_path)

    def _host_lock(self) -> Flock:
        """Host-wide for root's engines (their bridges share the host's netns); a rootless engine's
        networks are in the user's own netns: its root's lock (a user may not write /run/lock)."""
        return Flock(os.path.join(self.root, "network", "subnets.lock") if self.usermode else HOST_LOCK)


def _mode_name(mode: str, usermode: bool = False) -> str:
    """A sandbox's or request's mode as the user gave it: usermode is the rootless default network."""
    if mode == "usermode" or (usermode and mode == DEFAULT_NETWORK):
        return "bridge (the rootless default network, a user-mode stack of its own)"
    return mode.split(":")[0]


def root_tag(root: str, default_root: str = "/var/lib/mydocker") -> str:
    """"" for the default root; else 5 hex digits of the root's path, in every host object's name."""
    root = os.path.abspath(root)
    return "" if root == default_root else f"{zlib.crc32(root.encode()) & 0xfffff:05x}"


_RESOLUTION_FIELDS = ("extra_hosts", "dns", "dns_search", "dns_options", "network_aliases", "links")


def _resolution_settings(opts):
    """--add-host, --dns... checked (engine/resolution.py, loaded only when one is given); None without."""
    if not any(getattr(opts, field, None) for field in _RESOLUTION_FIELDS):
        return None
    return resolution.settings_from_options(opts)

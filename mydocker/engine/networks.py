"""Networks and container attachments: which networks exist, wiring a container in and out.

State lives in the engine's SQLite records (tables networks, sandboxes, endpoints); the IPAM
bitmap of each network is a column changed inside `BEGIN IMMEDIATE`, so concurrent `run`s never
share an address. Every attachment is recorded before anything is created, and `detach` undoes
whatever exists from the records alone: it is idempotent and safe after a crash at any point.

Host objects carry the project's names: bridges `mydocker0` / `md-<net>`, host veths `md<hex>`,
netns under `<runroot>/netns/<id>`, the nft table `ip mydocker`. An engine root other than the
default adds a short tag derived from the root to each, so private roots (tests) never collide.
"""

from __future__ import annotations

import os
import zlib

from mydocker import jsonio as json  # the C codec alone: `import json` brings re and enum
from mydocker.engine.names import check_name
from mydocker.engine.network_records import (EP_COLS, NET_COLS, SB_COLS, SCHEMA, Attachment, Endpoint,  # noqa: F401
                                             Network, Sandbox, endpoint_from_row, network_from_row,
                                             sandbox_from_row)
from mydocker.engine.records import Records, now
from mydocker.errors import Conflict, InvalidArgument, NotFound
from mydocker.linux.fs import Flock

DEFAULT_NETWORK = "bridge"
SPECIAL_MODES = ("none", "host")
DEFAULT_SUBNETS = [f"172.{n}.0.0/16" for n in range(17, 32)] + [f"10.{n}.0.0/16" for n in range(200, 255)]
HOST_LOCK = "/run/lock/mydocker-network.lock"   # host-wide: choosing subnets, creating bridges

class NetworkService:
    def __init__(self, records: Records, root: str, runroot: str, default_root: str = "/var/lib/mydocker") -> None:
        self.records = records
        self.db = records.db
        self.root = root
        self.runroot = runroot
        self.tag = root_tag(root, default_root)
        self.table = f"mydocker-{self.tag}" if self.tag else "mydocker"
        self.netns_dir = os.path.join(runroot, "netns")
        self.files_dir = os.path.join(root, "network", "sandboxes")
        self.lock_path = os.path.join(root, "network", "lock")
        if not self.db.execute("SELECT 1 FROM sqlite_master WHERE name='firewall'").fetchone():
            with records.transaction():
                for statement in filter(str.strip, SCHEMA.split(";")):
                    self.db.execute(statement)

    # names of host objects

    def bridge_name(self, network: str) -> str:
        if network == DEFAULT_NETWORK:
            return f"md{self.tag}-0" if self.tag else "mydocker0"
        name = f"md{self.tag}-{network}"
        if len(name) > 15:  # IFNAMSIZ: keep a readable start, make it unique with a hash
            name = f"{name[:10]}{zlib.crc32(network.encode()) & 0xfffff:05x}"
        return name

    @property
    def overlay(self):
        """The overlay driver (mydocker/network/overlay.py), made on first use."""
        if "_overlay" not in self.__dict__:
            from mydocker.network.overlay import OverlayDriver
            self._overlay = OverlayDriver(self)
        return self._overlay

    # networks

    def create(self, name: str, driver: str = "bridge", subnet: str | None = None, gateway: str | None = None,
               internal: bool = False, labels: dict | None = None) -> Network:
        if name in (DEFAULT_NETWORK, "default", *SPECIAL_MODES):
            raise Conflict(f"network name {name!r} is reserved: choose another name")
        if not name or not name[0].isalnum() or not all(c.isalnum() or c in "_.-" for c in name) or len(name) < 2:
            raise InvalidArgument(f"invalid network name {name!r}: use [a-zA-Z0-9][a-zA-Z0-9_.-]+")
        if driver not in ("bridge", "overlay"):
            raise InvalidArgument(f"network driver {driver!r} is not supported: use --driver bridge or overlay")
        if self.db.execute("SELECT 1 FROM networks WHERE name=?", (name,)).fetchone():
            raise Conflict(f"network {name!r} already exists: choose another name or remove it with "
                           "`mydocker network rm`")
        if gateway and not subnet:
            raise InvalidArgument("--gateway needs --subnet: give both, or neither for an automatic subnet")
        if driver == "overlay":  # defined in the cluster store: mydocker/network/overlay.py
            return self.overlay.create(name, subnet, gateway, labels or {})
        net = self._add_network(name, subnet, gateway, internal, labels or {})
        try:
            with self._lock():
                self._rebuild_firewall()
        except BaseException:
            self.remove(name)
            raise
        return net

    def _add_network(self, name: str, subnet: str | None, gateway: str | None, internal: bool,
                     labels: dict) -> Network:
        from mydocker.network.ipam import Bitmap
        with self._host_lock():
            if subnet:
                self._check_free(subnet)
            else:
                subnet = self._pick_subnet(name)
            bitmap = Bitmap(subnet, gateway)
            net = Network(name=name, id=os.urandom(32).hex(), driver="bridge", subnet=subnet,
                          gateway=gateway or bitmap.default_gateway(), bridge=self.bridge_name(name),
                          internal=internal, created=now(), labels=labels)
            import _sqlite3 as sqlite3
            try:
                with self.records.transaction():
                    self.db.execute(f"INSERT INTO networks ({NET_COLS},bitmap) VALUES (?,?,?,?,?,?,?,?,?,?)",
                                    (net.name, net.id, net.driver, net.subnet, net.gateway, net.bridge,
                                     int(net.internal), net.created, json.dumps(labels), bitmap.to_bytes()))
            except sqlite3.IntegrityError:
                raise Conflict(f"network {name!r} already exists (or its bridge name {net.bridge} is taken): "
                               "choose another name or remove it with `mydocker network rm`") from None
            # the bridge (and so its route) exists before the host lock is released: the next
            # subnet choice, by any engine root, sees it
            from mydocker.network import links
            try:
                links.ensure_bridge(net.bridge, net.gateway, int(net.subnet.split("/")[1]))
            except BaseException:
                with self.records.transaction():
                    self.db.execute("DELETE FROM networks WHERE name=?", (name,))
                links.delete(net.bridge)
                raise
        return net

    def _check_free(self, subnet: str) -> None:
        import ipaddress
        from mydocker.network.ipam import parse_subnet
        wanted = parse_subnet(subnet)
        for other in self.networks():
            if wanted.overlaps(ipaddress.IPv4Network(other.subnet)):
                raise Conflict(f"subnet {subnet} overlaps network {other.name!r} ({other.subnet}): "
                               "choose another --subnet")
        for route in self._host_route_nets():
            if wanted.overlaps(route):
                raise Conflict(f"subnet {subnet} overlaps the host route to {route}: choose another --subnet")

    def _host_route_nets(self):
        import ipaddress
        from mydocker.network import links
        return [ipaddress.IPv4Network((dest, bin(mask).count("1"))) for dest, mask in links.host_routes()]

    def _pick_subnet(self, name: str) -> str:
        import ipaddress
        used = [ipaddress.IPv4Network(n.subnet) for n in self.networks()] + self._host_route_nets()
        for candidate in DEFAULT_SUBNETS:
            net = ipaddress.IPv4Network(candidate)
            if name != DEFAULT_NETWORK:
                # user networks get a /24 inside the first /16 nobody routes, like Docker's pools
                for sub in net.subnets(new_prefix=24):
                    if not any(sub.overlaps(u) for u in used):
                        return str(sub)
                continue
            if not any(net.overlaps(u) for u in used):
                return candidate
        raise Conflict("no free private subnet left for a new network: give one with --subnet")

    def networks(self) -> list[Network]:
        return [network_from_row(r) for r in self.db.execute(f"SELECT {NET_COLS} FROM networks ORDER BY created")]

    def get(self, ref: str) -> Network:
        rows = self.db.execute(f"SELECT {NET_COLS} FROM networks WHERE name=? OR id=?", (ref, ref)).fetchall()
        if not rows and len(ref) >= 3:
            rows = self.db.execute(f"SELECT {NET_COLS} FROM networks WHERE id LIKE ?", (ref + "%",)).fetchall()
        if len(rows) != 1:
            raise NotFound(f"network {ref} not found: see `mydocker network ls`") if not rows else \
                InvalidArgument(f"network id prefix {ref} is ambiguous: give more characters")
        return network_from_row(rows[0])

    def endpoints(self, network: str | None = None, container: str | None = None) -> list[Endpoint]:
        where, args = [], []
        for column, value in (("network", network), ("container", container)):
            if value is not None:
                where.append(f"{column}=?")
                args.append(value)
        sql = f"SELECT {EP_COLS} FROM endpoints" + (f" WHERE {' AND '.join(where)}" if where else "")
        return [endpoint_from_row(r) for r in self.db.execute(sql + " ORDER BY rowid", args)]

    def sandbox(self, container_id: str) -> Sandbox | None:
        row = self.db.execute(f"SELECT {SB_COLS} FROM sandboxes WHERE container=?", (container_id,)).fetchone()
        return sandbox_from_row(row) if row else None

    def inspect(self, ref: str) -> dict:
        net = self.get(ref)
        containers = {}
        for ep in self.endpoints(network=net.name):
            sb = self.sandbox(ep.container)
            containers[ep.container] = {"Name": sb.name if sb else "", "IPv4Address": f"{ep.ip}/{net.subnet.split('/')[1]}",
                                        "MacAddress": ep.mac, "EndpointID": ep.veth}
        return {"Name": net.name, "Id": net.id, "Created": net.created, "Driver": net.driver, "Scope": "local",
                "IPAM": {"Driver": "default", "Config": [{"Subnet": net.subnet, "Gateway": net.gateway}]},
                "Internal": net.internal, "Containers": containers,
                "Options": {"com.docker.network.bridge.name": net.bridge}, "Labels": net.labels}

    def remove(self, ref: str) -> None:
        net = self.get(ref)
        if self.endpoints(network=net.name):
            names = ", ".join(sorted({(self.sandbox(e.container) or Sandbox(e.container, e.container[:12], "", None,
                                      False, "", "")).name for e in self.endpoints(network=net.name)}))
            raise Conflict(f"network {net.name} has active endpoints ({names}): stop or disconnect them first")
        from mydocker.network import links
        with self._lock():
            with self.records.transaction():  # no container may have joined since the check above
                gone = self.db.execute("DELETE FROM networks WHERE name=? AND NOT EXISTS (SELECT 1 FROM "
                                       "endpoints WHERE network=?)", (net.name, net.name)).rowcount
            if not gone:
                raise Conflict(f"network {net.name} has active endpoints: stop or disconnect them first")
            links.delete(net.bridge)
            if net.driver == "overlay":
                self.overlay.remove(net)
            self._rebuild_firewall()

    def prune(self) -> list[str]:
        """Remove user networks without containers; return their names."""
        removed = []
        for net in self.networks():
            if net.name != DEFAULT_NETWORK and not self.endpoints(network=net.name):
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
            import socket
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
        files = os.path.join(self.files_dir, container_id)
        if mode in SPECIAL_MODES:
            self._record_sandbox(Sandbox(container_id, name, mode, None, False, hostname, files))
            return self._prepare_files(container_id, mode, hostname, host=mode == "host")
        if mode.startswith("container:"):
            return self._attach_to_container(container_id, name, mode.partition(":")[2], files)
        if ip and mode == DEFAULT_NETWORK:
            raise InvalidArgument("--ip needs a user-defined network: create one with "
                                  "`mydocker network create --subnet ...` and use --network")
        path = os.path.join(self.netns_dir, container_id)
        self._record_sandbox(Sandbox(container_id, name, "bridge", path, True, hostname, files))
        try:
            for attempt in range(5):
                net = self._network_for_use(mode)
                try:
                    ep = self._add_endpoint(container_id, net, ip, aliases, ports, "eth0")
                    break
                except _Gone:
                    if attempt == 4 or mode != DEFAULT_NETWORK:
                        raise NotFound(f"network {mode} was removed meanwhile: create it again") from None
            from mydocker.engine import userns  # --userns remap: the netns belongs to the container's userns
            owner = userns.path_for(self.runroot, container_id)
            with self._lock():
                self._wire(path, net, ep, create_netns=True, owner=owner if userns.is_pinned(owner) else None)
                return self._prepare_files(container_id, "bridge", hostname, addresses=[ep.ip], netns=path)
        except BaseException:
            self.detach(container_id)
            raise

    def _record_sandbox(self, sb: Sandbox) -> None:
        import _sqlite3 as sqlite3
        try:
            with self.records.transaction():
                self.db.execute(f"INSERT INTO sandboxes ({SB_COLS}) VALUES (?,?,?,?,?,?,?)",
                                (sb.container, sb.name, sb.mode, sb.netns, int(sb.owns_netns), sb.hostname, sb.files))
        except sqlite3.IntegrityError:
            raise Conflict(f"container {sb.name} is already attached to networks: detach it first") from None

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
        from mydocker.network import etcfiles
        return Attachment(mode=f"container:{target.id}", netns=netns_path, host_netns=host, hostname=other.hostname,
                          mounts=etcfiles.mounts(other.files),
                          addresses=[e.ip for e in self.endpoints(container=target.id)])

    def _network_for_use(self, mode: str) -> Network:
        try:
            return self.get(mode)
        except NotFound:
            joined = self.overlay.join(mode) if mode != DEFAULT_NETWORK and self.overlay.configured() else None
            if joined:
                return joined  # an overlay network another host created
            if mode != DEFAULT_NETWORK:
                raise NotFound(f"network {mode} not found: create it with `mydocker network create {mode}` "
                               "or use --network bridge|host|none") from None
        try:
            return self._add_network(DEFAULT_NETWORK, None, None, False, {})
        except Conflict:
            return self.get(DEFAULT_NETWORK)  # a concurrent run created it first

    def _add_endpoint(self, container_id: str, net: Network, ip: str | None, aliases: list, ports: list,
                      ifname: str) -> Endpoint:
        """Allocate the address and record the endpoint, in one transaction."""
        from mydocker.network.ipam import Bitmap
        from mydocker.network.ports import free_port
        veth = f"md{self.tag}{os.urandom(6).hex()}"[:15]  # a private root's tag: its leaks are findable
        rows = []
        for p in ports:
            host_port = p.host_port or free_port(p.proto, p.host_ip)
            rows.append([p.proto, p.host_ip, host_port, p.container_port])
        if net.driver == "overlay":  # the address comes from the cluster store, the bitmap just mirrors it
            ip = self.overlay.allocate(net, container_id, ip)
        with self.records.transaction():
            bits = self.db.execute("SELECT bitmap FROM networks WHERE name=?", (net.name,)).fetchone()
            if bits is None:
                raise _Gone()  # the default network, retired by its last container meanwhile
            bitmap = Bitmap(net.subnet, net.gateway, bits[0])
            address = bitmap.allocate(ip)
            self._check_ports(rows)
            self.db.execute("UPDATE networks SET bitmap=? WHERE name=?", (bitmap.to_bytes(), net.name))
            try:
                self.db.execute(f"INSERT INTO endpoints ({EP_COLS}) VALUES (?,?,?,?,?,?,?,?)",
                                (container_id, net.name, address, veth, ifname, "", json.dumps(aliases), json.dumps(rows)))
            except Exception as e:
                if "UNIQUE" in str(e):
                    raise Conflict(f"container is already connected to network {net.name}") from None
                raise
        return Endpoint(container_id, net.name, address, veth, ifname, "", aliases, rows)

    def _check_ports(self, wanted: list) -> None:
        taken = {}
        for (ports_json,) in self.db.execute("SELECT ports FROM endpoints"):
            for proto, host_ip, host_port, _cport in json.loads(ports_json):
                taken.setdefault((proto, host_port), []).append(host_ip)
        for proto, host_ip, host_port, _cport in wanted:
            ips = taken.get((proto, host_port), [])
            if any(not host_ip or not other or host_ip == other for other in ips):
                raise Conflict(f"host port {host_port}/{proto} is already published by another container: "
                               "choose another host port")
            _check_host_port_free(proto, host_ip, host_port)
            taken.setdefault((proto, host_port), []).append(host_ip)

    def _wire(self, path: str, net: Network, ep: Endpoint, create_netns: bool, owner: str | None = None) -> None:
        """Create the host objects of an endpoint (called under the lock, after recording it).
        `owner`: the user namespace a new netns belongs to."""
        from mydocker.network import links, netns
        if net.driver == "overlay":
            if create_netns and owner:
                netns.create(path, owner)
            return self.overlay.wire(path, net, ep, create_netns and not owner)
        links.ensure_bridge(net.bridge, net.gateway, int(net.subnet.split("/")[1]))
        links.enable_ip_forward()
        if create_netns:
            netns.create(path, owner)
        gateway = None if net.internal else net.gateway
        mac = links.plug(path, ep.veth, net.bridge, ep.ip, int(net.subnet.split("/")[1]), gateway, ep.ifname)
        with self.records.transaction():
            self.db.execute("UPDATE endpoints SET mac=? WHERE container=? AND network=?", (mac, ep.container, net.name))
        self._rebuild_firewall()

    def _prepare_files(self, container_id: str, mode: str, hostname: str, addresses: list | None = None,
                       netns: str | None = None, host: bool = False) -> Attachment:
        from mydocker.network import etcfiles
        sb = self.sandbox(container_id)
        os.makedirs(sb.files, mode=0o755, exist_ok=True)
        if host:
            try:
                with open("/etc/hosts") as f:
                    hosts_text = f.read()
            except OSError:
                hosts_text = etcfiles.hosts([], [])
        else:
            hosts_text = None
        resolv = etcfiles.resolv_conf(etcfiles.read_host_resolv(), host_netns=host)
        etcfiles.write_in_place(os.path.join(sb.files, "hostname"), hostname + "\n")
        etcfiles.write_in_place(os.path.join(sb.files, "resolv.conf"), resolv)
        if hosts_text is not None:
            etcfiles.write_in_place(os.path.join(sb.files, "hosts"), hosts_text)
        else:
            self._write_hosts(sb)
            self._refresh_peers(sb.container)
        return Attachment(mode=mode, netns=netns, host_netns=host, hostname=hostname,
                          mounts=etcfiles.mounts(sb.files), addresses=list(addresses or []))

    def _write_hosts(self, sb: Sandbox) -> None:
        from mydocker.network import etcfiles
        own, peers = [], []
        user_nets = set()
        for ep in self.endpoints(container=sb.container):
            user = ep.network != DEFAULT_NETWORK
            own.append((ep.ip, [sb.hostname] + ([sb.name, *ep.aliases] if user else [])))
            if user:
                user_nets.add(ep.network)
        if not own and sb.mode == "none":
            own.append(("127.0.0.1", [sb.hostname]))
        for network in sorted(user_nets):
            for ep in self.endpoints(network=network):
                other = self.sandbox(ep.container)
                if ep.container != sb.container and other:
                    peers.append((ep.ip, [other.name, *ep.aliases, ep.container[:12]]))
        peers += self.overlay.peers(user_nets) if user_nets else []  # other hosts' containers
        etcfiles.write_in_place(os.path.join(sb.files, "hosts"), etcfiles.hosts(own, peers))

    def _refresh_peers(self, container_id: str, networks: set | None = None) -> None:
        """Rewrite /etc/hosts of every container sharing a user network with this one."""
        if networks is None:
            networks = {e.network for e in self.endpoints(container=container_id)}
        done = {container_id}
        for network in networks - {DEFAULT_NETWORK}:
            for ep in self.endpoints(network=network):
                if ep.container in done:
                    continue
                done.add(ep.container)
                sb = self.sandbox(ep.container)
                if sb and sb.mode == "bridge" and os.path.isdir(sb.files):
                    self._write_hosts(sb)

    def connect(self, network: str, container_ref: str, ip: str | None = None, aliases: list | None = None) -> Endpoint:
        """Add a network to a running container (another ethN in its namespace)."""
        from mydocker.network import links
        target = self.records.find_container(container_ref)
        sb = self.sandbox(target.id)
        if sb is None or target.status != "running":
            raise Conflict(f"container {container_ref} is not running: start it, then connect it")
        if sb.mode != "bridge":
            raise Conflict(f"container {target.name} uses --network {sb.mode.split(':')[0]}: "
                           "only containers on bridge networks can be connected to more networks")
        net = self.get(network)
        if aliases and net.name == DEFAULT_NETWORK:
            raise InvalidArgument("network aliases only work on user-defined networks")
        ep = self._add_endpoint(target.id, net, ip, list(aliases or []), [], links.next_ifname(sb.netns))
        try:
            with self._lock():
                self._wire(sb.netns, net, ep, create_netns=False)
                self._write_hosts(sb)
                self._refresh_peers(target.id, {net.name})
        except BaseException:
            self._drop_endpoint(ep)
            raise
        return ep

    def disconnect(self, network: str, container_ref: str) -> None:
        target = self.records.find_container(container_ref)
        net = self.get(network)
        eps = self.endpoints(network=net.name, container=target.id)
        if not eps:
            raise NotFound(f"container {target.name} is not connected to network {net.name}")
        self._drop_endpoint(eps[0])
        sb = self.sandbox(target.id)
        with self._lock():
            if sb and os.path.isdir(sb.files):
                self._write_hosts(sb)
            self._refresh_peers(target.id, {net.name})

    def _drop_endpoint(self, ep: Endpoint) -> None:
        from mydocker.network import links
        from mydocker.network.ipam import Bitmap
        with self._lock():
            links.delete(ep.veth)
            if self.db.execute("SELECT 1 FROM networks WHERE name=? AND driver='overlay'", (ep.network,)).fetchone():
                self.overlay.drop(ep)
            with self.records.transaction():
                row = self.db.execute("SELECT subnet, gateway, bitmap FROM networks WHERE name=?",
                                      (ep.network,)).fetchone()
                if row:
                    bitmap = Bitmap(row[0], row[1], row[2])
                    bitmap.release(ep.ip)
                    self.db.execute("UPDATE networks SET bitmap=? WHERE name=?", (bitmap.to_bytes(), ep.network))
                self.db.execute("DELETE FROM endpoints WHERE container=? AND network=?", (ep.container, ep.network))
            self._retire_default_bridge()
            self._rebuild_firewall()

    def detach(self, container_id: str) -> None:
        """Undo everything of the container's network from the records: idempotent, crash-safe."""
        sb = self.sandbox(container_id)
        eps = self.endpoints(container=container_id)
        if sb is None and not eps:
            return
        for ep in eps:
            self._drop_endpoint(ep)
        if sb is not None:
            if sb.owns_netns and sb.netns:
                from mydocker.network import netns
                netns.remove(sb.netns)
            if sb.files.startswith(self.files_dir + os.sep) and os.path.basename(sb.files) == container_id:
                for name in ("hosts", "hostname", "resolv.conf"):
                    try:
                        os.unlink(os.path.join(sb.files, name))
                    except FileNotFoundError:
                        pass
                try:
                    os.rmdir(sb.files)
                except OSError:
                    pass
            with self.records.transaction():
                self.db.execute("DELETE FROM sandboxes WHERE container=?", (container_id,))
        with self._lock():
            if eps:
                self._refresh_peers(container_id, {e.network for e in eps})
            if sb is not None and sb.mode == "bridge":
                # a crash between making the default network and recording the endpoint: no
                # endpoint was dropped above, but the network may be this container's alone
                self._retire_default_bridge()
                self._rebuild_firewall()

    def _retire_default_bridge(self) -> None:
        """The default root keeps mydocker0 (as Docker keeps docker0). Any other root's default
        network exists while containers use it, and is created again, with a subnet free at that
        time, on first use: a private root (a test) leaves no bridge or rule behind it."""
        row = self.db.execute("SELECT bridge FROM networks WHERE name=?", (DEFAULT_NETWORK,)).fetchone()
        if row is None or not self.tag:
            return
        with self.records.transaction():
            gone = self.db.execute("DELETE FROM networks WHERE name=? AND NOT EXISTS "
                                   "(SELECT 1 FROM endpoints WHERE network=?)", (DEFAULT_NETWORK, DEFAULT_NETWORK)).rowcount
        if gone:
            from mydocker.network import links
            links.delete(row[0])

    def published(self, container_id: str) -> list[tuple[str, str, int]]:
        """`mydocker port`: ("80/tcp", host_ip, host_port) for each published port."""
        out = []
        for ep in self.endpoints(container=container_id):
            for proto, host_ip, host_port, cport in ep.ports:
                out.append((f"{cport}/{proto}", host_ip or "0.0.0.0", host_port))
        return out

    # the container flow: create → (start → stop)* → remove

    def configure(self, container_id: str, name: str, opts, config: dict) -> Attachment:
        """When a container is created: check and record what it asks for (--network, -p, --ip,
        --hostname), attach it, and put the attachment into its config.json. The netns and /etc file
        paths depend on the id alone, so the same config.json serves every later start."""
        from mydocker.network.ports import parse
        mappings = [parse(p) for p in getattr(opts, "publish", None) or []]
        with self.records.transaction():
            self.db.execute("INSERT OR REPLACE INTO requests VALUES (?,?,?,?,?,?)",
                            (container_id, name, getattr(opts, "network", None) or DEFAULT_NETWORK,
                             json.dumps([[m.container_port, m.proto, m.host_port, m.host_ip] for m in mappings]),
                             getattr(opts, "ip", None), opts.hostname))
        return self.apply_to_spec(config, self.ensure_attached(container_id))

    def ensure_attached(self, container_id: str) -> Attachment | None:
        """Before a (re)start: attach as recorded at creation, unless attached already."""
        from mydocker.network.ports import PortMapping
        row = self.db.execute("SELECT name, network, ports, ip, hostname FROM requests WHERE container=?",
                              (container_id,)).fetchone()
        if row is None:
            return None
        sb = self.sandbox(container_id)
        if sb is not None:
            from mydocker.network import netns
            if not (sb.owns_netns and sb.netns and not netns.is_pinned(sb.netns)):
                return None
            self.detach(container_id)  # recorded, but its netns is gone (a reboot): wire it again
        name, network, ports_json, ip, hostname = row
        ports = [PortMapping(*p) for p in json.loads(ports_json)]
        return self.attach(container_id, name, network, ports, ip, hostname)

    def release(self, container_id: str, forget: bool = False) -> None:
        """When a container stops (and with `forget`, when it is removed): detach it."""
        self.detach(container_id)
        if forget:
            with self.records.transaction():
                self.db.execute("DELETE FROM requests WHERE container=?", (container_id,))

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

    def _active_networks(self) -> list[Network]:
        return [n for n in self.networks() if n.name != DEFAULT_NETWORK or self.endpoints(network=n.name)]

    def _rebuild_firewall(self, force: bool = False) -> None:
        """Replace mydocker's nft table with what the records say (call with the lock held).

        Skipped when the records ask for the ruleset applied last time in this boot: a container
        without -p on an existing network changes no rule, and every nft commit that drops rules
        waits for an RCU grace period (~17 ms here). After an admin's flush, `network reconcile`
        applies it again."""
        from mydocker.network import firewall
        nets = self._active_networks()
        by_name = {n.name: n for n in nets}
        ports = []
        for ep in self.endpoints():
            if ep.network in by_name:
                for proto, host_ip, host_port, cport in ep.ports:
                    ports.append(firewall.Port(ep.container, proto, host_port, ep.ip, cport, host_ip))
        ruleset = firewall.Ruleset(self.table, [firewall.Net(n.bridge, n.subnet, n.internal) for n in nets], ports)
        text = _boot_id() + json.dumps(firewall.batch(ruleset))  # after a reboot the table is gone
        last = self.db.execute("SELECT ruleset FROM firewall WHERE name=?", (self.table,)).fetchone()
        if not force and last and last[0] == text:
            return
        with self.records.transaction():  # forget first: a crash in between makes the next change re-apply
            self.db.execute("DELETE FROM firewall WHERE name=?", (self.table,))
        firewall.apply(ruleset)
        with self.records.transaction():
            self.db.execute("INSERT OR REPLACE INTO firewall VALUES (?,?)", (self.table, text))

    def reconcile(self, live=None) -> dict:
        """After a reboot or a flush: bridges, forwarding and rules back from the records; endpoints of
        containers that no longer run (per `live(container_id) -> bool`) are detached."""
        from mydocker.network import links, netns
        detached = []
        for sb in [sandbox_from_row(r) for r in self.db.execute(f"SELECT {SB_COLS} FROM sandboxes")]:
            gone = (live is not None and not live(sb.container)) or \
                (sb.owns_netns and sb.netns and not netns.is_pinned(sb.netns))
            if gone:
                self.detach(sb.container)
                detached.append(sb.container)
        with self._lock():
            nets = self._active_networks()
            for net in nets:
                links.ensure_bridge(net.bridge, net.gateway, int(net.subnet.split("/")[1]))
            if nets:
                links.enable_ip_forward()
            self._rebuild_firewall(force=True)
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

    def _lock(self) -> Flock:
        """Per root: wiring and the rebuild of the nft table happen one at a time."""
        return Flock(self.lock_path)

    def _host_lock(self) -> Flock:
        return Flock(HOST_LOCK)


def root_tag(root: str, default_root: str = "/var/lib/mydocker") -> str:
    """"" for the default root; else 5 hex digits of the root's path, in every host object's name."""
    root = os.path.abspath(root)
    return "" if root == default_root else f"{zlib.crc32(root.encode()) & 0xfffff:05x}"


class _Gone(Exception):
    """The network's record vanished between reading it and allocating in it."""


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def _check_host_port_free(proto: str, host_ip: str, port: int) -> None:
    """A host process already listening there would be shadowed by the DNAT rule: refuse instead."""
    import socket
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host_ip or "0.0.0.0", port))
        except OSError as e:
            raise Conflict(f"cannot publish {host_ip or '0.0.0.0'}:{port}/{proto}: {e.strerror}; "
                           "choose another host port") from None

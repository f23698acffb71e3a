"""The cluster store: what every host of an overlay network shares, kept in etcd.

Layout (all JSON values, under /mydocker/):
    networks/<net>           {name, id, subnet, gateway, vni, created}   created once with a CAS
    vni/<vni>                <net>                                       so two networks never share a VNI
    ipam/<net>/<ip>          <host>/<container>                          per-address allocation, CAS create
    endpoints/<net>/<cid>    {container, name, ip, mac, vtep, host, aliases}   on the host's lease
    hosts/<host>             {vtep}                                      on the host's lease

Per-address allocation, not per-host subnets (flannel's way): a host may run 1 container or 200 of
a network, and any address of the subnet stays usable from any host; the cost is one transaction per
address, which is one round trip when there is no contention. The address and endpoint records of a
host hang on that host's lease: when a host dies and stops renewing it, etcd deletes them and the
other hosts' watches drop its forwarding entries.

The setting: `--cluster-store etcd://h:p[,h:p]` (exported to MYDOCKER_CLUSTER_STORE for the
processes the CLI starts), else the environment variable, else "cluster-store" in <root>/daemon.json.
"""

from __future__ import annotations

import json
import os

from mydocker.errors import Conflict, InvalidArgument, NotFound
from mydocker.network.etcd import Client, StoreUnavailable
from mydocker.lazy import lazy_module

ipaddress = lazy_module("ipaddress")

PREFIX = "/mydocker/"
LEASE_TTL = 30                   # seconds a host's records outlive its last renewal
VNI_FIRST = 4096                 # VNIs below are left for the admin's own VXLANs
ENV = "MYDOCKER_CLUSTER_STORE"

__all__ = ["ClusterStore", "StoreUnavailable", "store_url", "open_store"]


def store_url(root: str) -> str | None:
    """The cluster store setting of this engine root, or None (no overlay networks)."""
    url = os.environ.get(ENV)
    if url:
        return url
    try:
        with open(os.path.join(root, "daemon.json")) as f:
            config = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise InvalidArgument(f"cannot read {os.path.join(root, 'daemon.json')}: {e}; fix the JSON") from None
    return config.get("cluster-store") or None


def open_store(root: str) -> ClusterStore:
    url = store_url(root)
    if not url:
        raise InvalidArgument("overlay networks need a cluster store: give --cluster-store etcd://host:port "
                              f"(or set {ENV}, or \"cluster-store\" in {os.path.join(root, 'daemon.json')})")
    return ClusterStore(Client(url), os.path.join(root, "network"))


def host_id(state_dir: str) -> str:
    """This engine root's identity in the cluster: random once, then kept in <root>/network/host-id."""
    path = os.path.join(state_dir, "host-id")
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        os.makedirs(state_dir, exist_ok=True)
        ident = os.urandom(8).hex()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w") as f:
            f.write(ident + "\n")
        return ident


class ClusterStore:
    def __init__(self, client: Client, state_dir: str, host: str | None = None) -> None:
        self.etcd = client
        self.state_dir = state_dir
        self.host = host or host_id(state_dir)

    # networks

    def create_network(self, name: str, subnet: str, gateway: str, net_id: str, created: str) -> dict:
        """Define the network once for the whole cluster; a host that finds the same definition
        (same subnet) joins it, any other definition is a conflict."""
        existing = self.network(name)
        if existing:
            if existing["subnet"] != subnet:
                raise Conflict(f"overlay network {name} exists in the cluster with subnet {existing['subnet']}: "
                               "use that subnet or another name")
            return existing
        for other in self.networks():
            if ipaddress.IPv4Network(other["subnet"]).overlaps(ipaddress.IPv4Network(subnet)):
                raise Conflict(f"subnet {subnet} overlaps overlay network {other['name']} ({other['subnet']}) "
                               "in the cluster: choose another --subnet")
        vni = self._allocate_vni(name)
        record = {"name": name, "id": net_id, "subnet": subnet, "gateway": gateway, "vni": vni, "created": created}
        if not self.etcd.create(f"{PREFIX}networks/{name}", json.dumps(record)):
            self.etcd.delete(f"{PREFIX}vni/{vni}", name)
            return self.create_network(name, subnet, gateway, net_id, created)  # another host won: join it
        return record

    def _allocate_vni(self, name: str) -> int:
        taken = {int(kv.key.rsplit("/", 1)[1]) for kv in self.etcd.get_prefix(f"{PREFIX}vni/")[0]}
        vni = VNI_FIRST
        while True:
            if vni not in taken and self.etcd.create(f"{PREFIX}vni/{vni}", name):
                return vni
            vni += 1
            if vni >= 1 << 24:
                raise Conflict("no free VXLAN network identifier left: remove unused overlay networks")

    def network(self, name: str) -> dict | None:
        kv = self.etcd.get(f"{PREFIX}networks/{name}")
        return json.loads(kv.value) if kv else None

    def networks(self) -> list[dict]:
        return [json.loads(kv.value) for kv in self.etcd.get_prefix(f"{PREFIX}networks/")[0]]

    def remove_network(self, name: str) -> None:
        """Forget the network cluster-wide, unless some host still has endpoints on it."""
        eps = self.endpoints(name)
        if eps:
            hosts = ", ".join(sorted({e["host"] for e in eps}))
            raise Conflict(f"overlay network {name} still has endpoints on hosts {hosts}: remove them first")
        record = self.network(name)
        if record is None:
            return
        self.etcd.delete(f"{PREFIX}networks/{name}")
        self.etcd.delete(f"{PREFIX}vni/{record['vni']}", name)
        self.etcd.delete_prefix(f"{PREFIX}ipam/{name}/")

    # addresses

    def allocate(self, network: str, container: str, ip: str | None = None) -> str:
        """An address of the network no other host or container holds (CAS create of ipam/<net>/<ip>)."""
        record = self.network(network)
        if record is None:
            raise NotFound(f"overlay network {network} is not in the cluster store: create it with "
                           "`mydocker network create --driver overlay`")
        owner = f"{self.host}/{container}"
        lease = self.lease()
        base = f"{PREFIX}ipam/{network}/"
        if ip:
            net = ipaddress.IPv4Network(record["subnet"])
            if ipaddress.IPv4Address(ip) not in net or ip == record["gateway"] or \
                    ip in (str(net.network_address), str(net.broadcast_address)):
                raise InvalidArgument(f"--ip {ip} is not a usable address of {network} ({record['subnet']})")
            if not self.etcd.create(base + ip, owner, lease):
                raise Conflict(f"address {ip} is already in use on network {network}: choose another --ip")
            return ip
        net = ipaddress.IPv4Network(record["subnet"])
        for _ in range(64):  # each round: read what is taken, try the free ones until a CAS succeeds
            taken = {kv.key[len(base):] for kv in self.etcd.get_prefix(base)[0]}
            taken.add(record["gateway"])
            for address in net.hosts():
                text = str(address)
                if text in taken:
                    continue
                if self.etcd.create(base + text, owner, lease):
                    return text
                taken.add(text)  # a concurrent host took it: try the next one
            else:
                raise Conflict(f"no free address left in overlay network {network} ({record['subnet']}): "
                               "remove containers or use a larger subnet")
        raise Conflict(f"could not allocate an address in {network}: too much contention, retry")

    def release(self, network: str, container: str, ip: str) -> None:
        self.etcd.delete(f"{PREFIX}ipam/{network}/{ip}", f"{self.host}/{container}")

    # endpoints

    def publish(self, network: str, endpoint: dict) -> None:
        record = dict(endpoint, host=self.host)
        self.etcd.put(f"{PREFIX}endpoints/{network}/{endpoint['container']}", json.dumps(record), self.lease())

    def unpublish(self, network: str, container: str) -> None:
        self.etcd.delete(f"{PREFIX}endpoints/{network}/{container}")

    def endpoints(self, network: str) -> list[dict]:
        return [json.loads(kv.value) for kv in self.etcd.get_prefix(f"{PREFIX}endpoints/{network}/")[0]]

    # this host's lease

    def lease(self) -> int:
        """This host's live lease (renewed here), granted anew if it expired; the host record rides on it."""
        path = os.path.join(self.state_dir, "lease")
        try:
            with open(path) as f:
                lease = int(f.read().strip() or 0)
        except (FileNotFoundError, ValueError):
            lease = 0
        if lease and self.etcd.lease_keepalive(lease) > 0:
            return lease
        lease = self.etcd.lease_grant(LEASE_TTL)
        os.makedirs(self.state_dir, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.{os.urandom(4).hex()}"
        with open(tmp, "w") as f:
            f.write(f"{lease}\n")
        os.replace(tmp, path)
        return lease

    def register_host(self, vtep: str) -> int:
        lease = self.lease()
        self.etcd.put(f"{PREFIX}hosts/{self.host}", json.dumps({"vtep": vtep}), lease)
        return lease

    def hosts(self) -> dict[str, dict]:
        return {kv.key.rsplit("/", 1)[1]: json.loads(kv.value) for kv in self.etcd.get_prefix(f"{PREFIX}hosts/")[0]}

"""What the embedded resolver knows: one small JSON file per user network, written by the engine when a
container joins, leaves or is renamed, read by the resolver (mydocker/network/dnsserver.py) when told.

    <runroot>/dns/<network>.json  {"gateway": "10.1.2.1", "subnet": "10.1.2.0/24", "upstreams": [...],
                                   "records": [{"ip": ..., "id": <container id>, "names": [...],
                                                "dns": [its --dns servers]}]}

Names are answered to the containers of that network only: a query is accepted from an address of
the network's subnet, and names are looked up in the networks of the container at that address
(the queried network first), as Docker's embedded DNS does.
"""

from __future__ import annotations

import os

from mydocker import jsonio
from mydocker.lazy import lazy_module
from mydocker.recordclass import factory, record

fs = lazy_module("mydocker.linux.fs")
ipaddress = lazy_module("ipaddress")  # the resolver's; the engine only writes (and finds gateways)

SUFFIX = ".json"
MAX_FILE = 4 << 20      # a network's file: far more than any real network's records


@record
class Zone:
    network: str
    gateway: str
    subnet: object                     # ipaddress.IPv4Network
    upstreams: list = factory(list)
    names: dict = factory(dict)        # lower-case name: [address, ...]
    by_ip: dict = factory(dict)        # address: (container id, its --dns servers)


def path(directory: str, network: str) -> str:
    return os.path.join(directory, network + SUFFIX)


def write(directory: str, network: str, doc: dict) -> None:
    """Replace the network's file atomically (the resolver may be reading it)."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fs.write_atomic(path(directory, network), jsonio.dumps(doc))


def remove(directory: str, network: str) -> None:
    fs.remove_file(path(directory, network))


def documents(directory: str) -> dict[str, dict]:
    """Every network's file as written; one that cannot be read is skipped."""
    docs = {}
    try:
        entries = os.listdir(directory)
    except FileNotFoundError:
        return docs
    for entry in entries:
        if entry.endswith(SUFFIX):
            try:
                with open(os.path.join(directory, entry), "rb") as f:
                    docs[entry[:-len(SUFFIX)]] = jsonio.loads(f.read(MAX_FILE))
            except (OSError, ValueError):
                continue
    return docs


def gateways(directory: str) -> dict[str, str]:
    """network: gateway address, of the networks with records (what a starting resolver listens on)."""
    return {network: doc["gateway"] for network, doc in documents(directory).items()
            if isinstance(doc, dict) and doc.get("records") and isinstance(doc.get("gateway"), str)}


def load(directory: str) -> dict[str, Zone]:
    """Every network's zone with at least one record; a file that cannot be read is skipped."""
    zones = {}
    for network, doc in documents(directory).items():
        try:
            zone = parse(network, doc)
        except (ValueError, TypeError, KeyError, AttributeError):
            continue
        if zone.by_ip:
            zones[network] = zone
    return zones


def parse(network: str, doc: dict) -> Zone:
    zone = Zone(network, str(ipaddress.IPv4Address(doc["gateway"])), ipaddress.IPv4Network(doc["subnet"]),
                [str(u) for u in doc.get("upstreams", [])])
    for rec in doc.get("records", []):
        ip = str(ipaddress.IPv4Address(rec["ip"]))
        zone.by_ip[ip] = (str(rec["id"]), [str(s) for s in rec.get("dns", [])])
        for name in rec.get("names", []):
            zone.names.setdefault(str(name).lower().rstrip("."), []).append(ip)
    return zone


def lookup(zones: dict[str, Zone], network: str, source: str, name: str) -> list[str] | None:
    """The addresses of `name` for the container at `source` that asked on `network` (None: not a
    name of its networks). Names of the queried network come first, then of its other networks."""
    zone = zones.get(network)
    if zone is None:
        return None
    if zone.names.get(name):
        return zone.names[name]
    me = zone.by_ip.get(source)
    if me is None:
        return None
    for other in zones.values():
        if other is not zone and any(cid == me[0] for cid, _dns in other.by_ip.values()) and other.names.get(name):
            return other.names[name]
    return None


def upstreams(zones: dict[str, Zone], network: str, source: str) -> list[str]:
    """Where to forward the container's other queries: its --dns servers, else the host's."""
    zone = zones.get(network)
    if zone is None:
        return []
    mine = zone.by_ip.get(source)
    return (mine[1] if mine and mine[1] else None) or zone.upstreams


def accepts(zones: dict[str, Zone], network: str, source: str) -> bool:
    """A query on the network's address from one of its own addresses (another network's container
    routed to this gateway, or the host, is refused)."""
    zone = zones.get(network)
    try:
        return zone is not None and ipaddress.IPv4Address(source) in zone.subnet and source != zone.gateway
    except ValueError:
        return False

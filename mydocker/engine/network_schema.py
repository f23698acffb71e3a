"""The network records: table schema, the row types and their conversion from SQLite rows.

engine/network_store.py keeps them in the engine's database. Network and Endpoint are what drivers
see too, so they are defined with the driver protocol (mydocker/network/driver.py).
"""

from __future__ import annotations

from mydocker import jsonio  # the C codec alone: `import json` brings re and enum
from mydocker.network.driver import Endpoint, Network
from mydocker.recordclass import factory, record

DEFAULT_NETWORK = "bridge"       # Docker's name of the default bridge network

SCHEMA = """
CREATE TABLE IF NOT EXISTS networks (
    name TEXT PRIMARY KEY, id TEXT UNIQUE NOT NULL, driver TEXT NOT NULL, subnet TEXT NOT NULL,
    gateway TEXT NOT NULL, bridge TEXT UNIQUE NOT NULL, internal INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL, labels TEXT NOT NULL DEFAULT '{}', bitmap BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS sandboxes (
    container TEXT PRIMARY KEY, name TEXT NOT NULL, mode TEXT NOT NULL, netns TEXT,
    owns_netns INTEGER NOT NULL, hostname TEXT NOT NULL, files TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS endpoints (
    container TEXT NOT NULL, network TEXT NOT NULL, ip TEXT NOT NULL, veth TEXT NOT NULL,
    ifname TEXT NOT NULL, mac TEXT NOT NULL DEFAULT '', aliases TEXT NOT NULL DEFAULT '[]',
    ports TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (container, network), UNIQUE (network, ip));
CREATE TABLE IF NOT EXISTS requests (
    container TEXT PRIMARY KEY, name TEXT NOT NULL, network TEXT NOT NULL, ports TEXT NOT NULL,
    ip TEXT, hostname TEXT);
CREATE TABLE IF NOT EXISTS firewall (name TEXT PRIMARY KEY, ruleset TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sandbox_settings (container TEXT PRIMARY KEY, settings TEXT NOT NULL);
"""
LAST_TABLE = "sandbox_settings"  # made last: a database without it needs the statements above run


@record
class Sandbox:
    container: str
    name: str
    mode: str                        # bridge | none | host | container:<id>
    netns: str | None                # the path the runtime joins; None: its own (none) or the host's
    owns_netns: bool
    hostname: str
    files: str                       # directory of the generated hosts, hostname, resolv.conf


@record
class SandboxSettings:
    """What a container asked of its name resolution at creation: --add-host, --dns, --dns-search,
    --dns-option, --network-alias. Kept with the request: the /etc files are rewritten from it."""
    extra_hosts: list = factory(list)     # [name, address or "host-gateway"]
    dns: list = factory(list)             # nameservers replacing the host's
    dns_search: list = factory(list)      # search domains replacing the host's ("." alone: none)
    dns_options: list = factory(list)     # resolv.conf options replacing the host's
    aliases: list = factory(list)         # --network-alias: more names on its user network
    links: list = factory(list)           # --link on a user network: [container name, alias] seen by it alone
    connected: list = factory(list)       # `network connect`: [network, ip asked or None, aliases], joined at starts

    def to_json(self) -> str:
        return jsonio.dumps({"extra_hosts": self.extra_hosts, "dns": self.dns, "dns_search": self.dns_search,
                           "dns_options": self.dns_options, "aliases": self.aliases, "links": self.links,
                           "connected": self.connected})

    @classmethod
    def from_json(cls, text: str) -> SandboxSettings:
        doc = jsonio.loads(text)
        return cls(**{k: doc.get(k) or [] for k in ("extra_hosts", "dns", "dns_search", "dns_options", "aliases",
                                                    "links", "connected")})


@record
class Attachment:
    """What the container's config.json needs from the network side."""
    mode: str
    netns: str | None                # linux.namespaces network path; None with host_netns False: a new one
    host_netns: bool                 # --network host: leave the network namespace out of the spec
    hostname: str
    mounts: list = factory(list)     # bind mounts of /etc/hosts, /etc/hostname, /etc/resolv.conf
    addresses: list = factory(list)


NET_COLS = "name,id,driver,subnet,gateway,bridge,internal,created,labels"
EP_COLS = "container,network,ip,veth,ifname,mac,aliases,ports"
SB_COLS = "container,name,mode,netns,owns_netns,hostname,files"


def network_from_row(row) -> Network:
    n = Network(*row)
    n.internal, n.labels = bool(n.internal), jsonio.loads(n.labels)
    return n


def endpoint_from_row(row) -> Endpoint:
    e = Endpoint(*row)
    e.aliases, e.ports = jsonio.loads(e.aliases), jsonio.loads(e.ports)
    return e


def sandbox_from_row(row) -> Sandbox:
    s = Sandbox(*row)
    s.owns_netns = bool(s.owns_netns)
    return s

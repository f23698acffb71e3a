"""The network tables of the engine's database: networks (with each one's IPAM bitmap), sandboxes,
endpoints, the requests recorded at creation and the last firewall ruleset applied.

This is the one place their SQL lives. Drivers never see it: the network service reads records
here and hands drivers what they need (mydocker/network/driver.py).
"""

from __future__ import annotations

from _collections_abc import Callable  # not collections.abc: it imports all of collections

from mydocker import jsonio  # the C codec alone: `import json` brings re and enum
from mydocker.engine.network_schema import (EP_COLS, NET_COLS, SB_COLS, SCHEMA, LAST_TABLE, Endpoint, Network,
                                             Sandbox, SandboxSettings, endpoint_from_row, network_from_row,
                                             sandbox_from_row)
from mydocker.engine.database import Records
from mydocker.errors import Conflict, InvalidArgument, NotFound
from mydocker.lazy import lazy_module

sqlite3 = lazy_module("_sqlite3")
ipam = lazy_module("mydocker.network.ipam")


class NetworkGone(Exception):
    """The network's record vanished between reading it and allocating in it."""


class NetworkStore:
    def __init__(self, records: Records) -> None:
        self.records = records
        self.db = records.db
        if not self.db.execute("SELECT 1 FROM sqlite_master WHERE name=?", (LAST_TABLE,)).fetchone():
            with records.transaction():
                for statement in filter(str.strip, SCHEMA.split(";")):
                    self.db.execute(statement)

    # networks

    def networks(self) -> list[Network]:
        return [network_from_row(r) for r in self.db.execute(f"SELECT {NET_COLS} FROM networks ORDER BY created")]

    def find(self, name: str) -> Network | None:
        row = self.db.execute(f"SELECT {NET_COLS} FROM networks WHERE name=?", (name,)).fetchone()
        return network_from_row(row) if row else None

    def get(self, ref: str) -> Network:
        """By name, id or unique id prefix (3 characters at least)."""
        rows = self.db.execute(f"SELECT {NET_COLS} FROM networks WHERE name=? OR id=?", (ref, ref)).fetchall()
        if not rows and len(ref) >= 3:
            rows = self.db.execute(f"SELECT {NET_COLS} FROM networks WHERE id LIKE ?", (ref + "%",)).fetchall()
        if len(rows) != 1:
            raise NotFound(f"network {ref} not found: see `mydocker network ls`") if not rows else \
                InvalidArgument(f"network id prefix {ref} is ambiguous: give more characters")
        return network_from_row(rows[0])

    def add_network(self, net: Network, bitmap: bytes) -> bool:
        """Record a network with its empty address bitmap; False if its name, id or bridge is taken."""
        try:
            with self.records.transaction():
                self.db.execute(f"INSERT INTO networks ({NET_COLS},bitmap) VALUES (?,?,?,?,?,?,?,?,?,?)",
                                (net.name, net.id, net.driver, net.subnet, net.gateway, net.bridge,
                                 int(net.internal), net.created, jsonio.dumps(net.labels), bitmap))
        except sqlite3.IntegrityError:
            return False
        return True

    def remove_network(self, name: str) -> None:
        with self.records.transaction():
            self.db.execute("DELETE FROM networks WHERE name=?", (name,))

    def remove_network_if_unused(self, name: str) -> bool:
        """Forget the network unless an endpoint is on it, in one statement (no join can slip in)."""
        with self.records.transaction():
            return bool(self.db.execute("DELETE FROM networks WHERE name=? AND NOT EXISTS (SELECT 1 FROM "
                                        "endpoints WHERE network=?)", (name, name)).rowcount)

    # endpoints

    def endpoints(self, network: str | None = None, container: str | None = None) -> list[Endpoint]:
        where, args = [], []
        for column, value in (("network", network), ("container", container)):
            if value is not None:
                where.append(f"{column}=?")
                args.append(value)
        sql = f"SELECT {EP_COLS} FROM endpoints" + (f" WHERE {' AND '.join(where)}" if where else "")
        return [endpoint_from_row(r) for r in self.db.execute(sql + " ORDER BY rowid", args)]

    def published_ports(self) -> list[list]:
        """[proto, host_ip, host_port, container_port] of every endpoint."""
        return [p for (ports_json,) in self.db.execute("SELECT ports FROM endpoints") for p in jsonio.loads(ports_json)]

    def add_endpoint(self, ep: Endpoint, net: Network, check: Callable[[], None]) -> Endpoint:
        """Allocate the endpoint's address (ep.ip, or the first free one when empty) in the network's
        bitmap and record the endpoint, in one transaction; `check` runs inside it (published ports)."""
        with self.records.transaction():
            bits = self.db.execute("SELECT bitmap FROM networks WHERE name=?", (net.name,)).fetchone()
            if bits is None:
                raise NetworkGone()
            bitmap = ipam.Bitmap(net.subnet, net.gateway, bits[0])
            address = bitmap.allocate(ep.ip or None)
            check()
            self.db.execute("UPDATE networks SET bitmap=? WHERE name=?", (bitmap.to_bytes(), net.name))
            try:
                self.db.execute(f"INSERT INTO endpoints ({EP_COLS}) VALUES (?,?,?,?,?,?,?,?)",
                                (ep.container, net.name, address, ep.veth, ep.ifname, ep.mac,
                                 jsonio.dumps(ep.aliases), jsonio.dumps(ep.ports)))
            except Exception as e:
                if "UNIQUE" in str(e):
                    raise Conflict(f"container is already connected to network {net.name}") from None
                raise
        return Endpoint(ep.container, net.name, address, ep.veth, ep.ifname, ep.mac, ep.aliases, ep.ports)

    def set_mac(self, ep: Endpoint, mac: str) -> None:
        with self.records.transaction():
            self.db.execute("UPDATE endpoints SET mac=? WHERE container=? AND network=?",
                            (mac, ep.container, ep.network))

    def remove_endpoint(self, ep: Endpoint) -> None:
        """Forget the endpoint and give its address back to the network's bitmap."""
        with self.records.transaction():
            row = self.db.execute("SELECT subnet, gateway, bitmap FROM networks WHERE name=?", (ep.network,)).fetchone()
            if row:
                bitmap = ipam.Bitmap(row[0], row[1], row[2])
                bitmap.release(ep.ip)
                self.db.execute("UPDATE networks SET bitmap=? WHERE name=?", (bitmap.to_bytes(), ep.network))
            self.db.execute("DELETE FROM endpoints WHERE container=? AND network=?", (ep.container, ep.network))

    # sandboxes

    def sandbox(self, container_id: str) -> Sandbox | None:
        row = self.db.execute(f"SELECT {SB_COLS} FROM sandboxes WHERE container=?", (container_id,)).fetchone()
        return sandbox_from_row(row) if row else None

    def shares_netns(self, path: str, container_id: str) -> bool:
        """Whether another container's sandbox is in the namespace at `path` (--network container:)."""
        return self.db.execute("SELECT 1 FROM sandboxes WHERE netns=? AND container!=? LIMIT 1",
                               (path, container_id)).fetchone() is not None

    def sandboxes(self) -> list[Sandbox]:
        return [sandbox_from_row(r) for r in self.db.execute(f"SELECT {SB_COLS} FROM sandboxes")]

    def add_sandbox(self, sb: Sandbox) -> None:
        try:
            with self.records.transaction():
                self.db.execute(f"INSERT INTO sandboxes ({SB_COLS}) VALUES (?,?,?,?,?,?,?)",
                                (sb.container, sb.name, sb.mode, sb.netns, int(sb.owns_netns), sb.hostname, sb.files))
        except sqlite3.IntegrityError:
            raise Conflict(f"container {sb.name} is already attached to networks: detach it first") from None

    def rename(self, container_id: str, name: str) -> None:
        """The container's new name in its sandbox and its request (peers and the resolver read them)."""
        with self.records.transaction():
            self.db.execute("UPDATE sandboxes SET name=? WHERE container=?", (name, container_id))
            self.db.execute("UPDATE requests SET name=? WHERE container=?", (name, container_id))

    def remove_sandbox(self, container_id: str) -> None:
        with self.records.transaction():
            self.db.execute("DELETE FROM sandboxes WHERE container=?", (container_id,))

    # what a container asked for at creation (attached again from it on every start)

    def save_request(self, container_id: str, name: str, network: str, ports: list, ip: str | None,
                     hostname: str | None) -> None:
        with self.records.transaction():
            self.db.execute("INSERT OR REPLACE INTO requests VALUES (?,?,?,?,?,?)",
                            (container_id, name, network, jsonio.dumps(ports), ip, hostname))

    def request(self, container_id: str) -> tuple[str, str, list, str | None, str | None] | None:
        """(name, network, ports, ip, hostname) as recorded at creation, or None."""
        row = self.db.execute("SELECT name, network, ports, ip, hostname FROM requests WHERE container=?",
                              (container_id,)).fetchone()
        return None if row is None else (row[0], row[1], jsonio.loads(row[2]), row[3], row[4])

    def forget_request(self, container_id: str) -> None:
        with self.records.transaction():
            self.db.execute("DELETE FROM requests WHERE container=?", (container_id,))
            self.db.execute("DELETE FROM sandbox_settings WHERE container=?", (container_id,))

    def save_settings(self, container_id: str, settings: SandboxSettings) -> None:
        with self.records.transaction():
            self.db.execute("INSERT OR REPLACE INTO sandbox_settings VALUES (?,?)", (container_id, settings.to_json()))

    def settings(self, container_id: str) -> SandboxSettings:
        """The container's --add-host, --dns... (empty ones for a container that asked for none)."""
        row = self.db.execute("SELECT settings FROM sandbox_settings WHERE container=?", (container_id,)).fetchone()
        return SandboxSettings.from_json(row[0]) if row else SandboxSettings()

    # the firewall ruleset applied last (to skip applying the same again)

    def applied_ruleset(self, table: str) -> str | None:
        row = self.db.execute("SELECT ruleset FROM firewall WHERE name=?", (table,)).fetchone()
        return row[0] if row else None

    def set_applied_ruleset(self, table: str, text: str | None) -> None:
        with self.records.transaction():
            if text is None:
                self.db.execute("DELETE FROM firewall WHERE name=?", (table,))
            else:
                self.db.execute("INSERT OR REPLACE INTO firewall VALUES (?,?)", (table, text))

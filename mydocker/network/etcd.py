"""A small etcd v3 client over etcd's JSON gRPC-gateway (`/v3/...`), with the stdlib's http.client.

Why not etcd3gw: it needs requests, pbr and futurist, and runs its watches in threads; mydocker
forks containers and allows no threads in such a process. Why not python-etcd3: unmaintained, fails
with protobuf >= 4. What we need is six calls (range, put, delete, txn, lease grant/keepalive/revoke)
and a watch stream: each is one JSON POST, keys and values base64, and this file is the whole client.

Every failure to reach the store is a `StoreUnavailable` (one line: which endpoints, what to do), so
callers keep running containers untouched and the user retries when etcd is back.
"""

from __future__ import annotations

import base64
import json
import socket
import time

from mydocker.errors import StoreUnavailable  # noqa: F401 - raised here, callers catch it from either module
from mydocker.errors import InvalidArgument
from mydocker.lazy import lazy_module

http_client = lazy_module("http.client")
select = lazy_module("select")

TIMEOUT = 3.0


def _b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def _unb64(text: str | None) -> str:
    return base64.b64decode(text or "").decode()


def prefix_end(prefix: str) -> str:
    """The range_end that selects every key starting with prefix (etcd's "prefix + 1")."""
    raw = bytearray(prefix.encode())
    raw[-1] += 1
    return raw.decode()


class KV:
    """One key-value pair as etcd returns it."""

    __slots__ = ("key", "value", "create_revision", "mod_revision", "lease")

    def __init__(self, raw: dict) -> None:
        self.key = _unb64(raw.get("key"))
        self.value = _unb64(raw.get("value"))
        self.create_revision = int(raw.get("create_revision", 0))
        self.mod_revision = int(raw.get("mod_revision", 0))
        self.lease = int(raw.get("lease", 0))

    def __repr__(self) -> str:
        return f"KV({self.key!r}, {self.value!r})"


def parse_url(url: str) -> list[tuple[str, int]]:
    """etcd://host:port[,host:port] (http:// accepted) -> [(host, port), ...]."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("etcd", "http"):
        raise InvalidArgument(f"invalid cluster store {url!r}: use etcd://host:port[,host:port]")
    out = []
    for part in rest.strip("/").split(","):
        host, _, port = part.rpartition(":")
        if not host or not port.isdigit():
            raise InvalidArgument(f"invalid cluster store endpoint {part!r} in {url!r}: use host:port")
        out.append((host.strip("[]"), int(port)))
    return out


class Client:
    def __init__(self, url: str, timeout: float = TIMEOUT) -> None:
        self.url = url
        self.endpoints = parse_url(url)
        self.timeout = timeout

    # transport

    def call(self, path: str, body: dict) -> dict:
        """POST one request to the first endpoint that answers."""
        data = json.dumps(body).encode()
        last: Exception | None = None
        for host, port in self.endpoints:
            conn = http_client.HTTPConnection(host, port, timeout=self.timeout)
            try:
                conn.request("POST", path, data, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                text = resp.read()
            except (OSError, http_client.HTTPException) as e:
                last = e
                continue
            finally:
                conn.close()
            reply = json.loads(text or b"{}")
            if resp.status != 200 or "error" in reply:
                raise StoreUnavailable(f"cluster store {self.url} refused {path}: "
                                       f"{reply.get('error') or reply.get('message') or resp.status}; check etcd's log")
            return reply
        raise StoreUnavailable(f"cluster store {self.url} is unreachable ({last}): start etcd or fix "
                               "--cluster-store, then retry; running containers are not affected")

    # keys

    def get(self, key: str) -> KV | None:
        kvs = self.call("/v3/kv/range", {"key": _b64(key)}).get("kvs") or []
        return KV(kvs[0]) if kvs else None

    def get_prefix(self, prefix: str) -> tuple[list[KV], int]:
        """Every pair under prefix (sorted by key) and the store revision they were read at."""
        reply = self.call("/v3/kv/range", {"key": _b64(prefix), "range_end": _b64(prefix_end(prefix)),
                                           "sort_order": "ASCEND", "sort_target": "KEY"})
        return [KV(k) for k in reply.get("kvs") or []], int(reply["header"]["revision"])

    def put(self, key: str, value: str, lease: int = 0) -> None:
        body = {"key": _b64(key), "value": _b64(value)}
        if lease:
            body["lease"] = str(lease)
        self.call("/v3/kv/put", body)

    def create(self, key: str, value: str, lease: int = 0) -> bool:
        """Put only if the key does not exist (a compare-and-swap on create_revision == 0)."""
        put = {"key": _b64(key), "value": _b64(value)}
        if lease:
            put["lease"] = str(lease)
        reply = self.call("/v3/kv/txn", {
            "compare": [{"key": _b64(key), "result": "EQUAL", "target": "CREATE", "create_revision": "0"}],
            "success": [{"request_put": put}]})
        return bool(reply.get("succeeded"))

    def delete(self, key: str, value: str | None = None) -> bool:
        """Delete key; with value, only if it still holds that value (so nobody else's record goes)."""
        if value is None:
            return int(self.call("/v3/kv/deleterange", {"key": _b64(key)}).get("deleted", 0)) > 0
        reply = self.call("/v3/kv/txn", {
            "compare": [{"key": _b64(key), "result": "EQUAL", "target": "VALUE", "value": _b64(value)}],
            "success": [{"request_delete_range": {"key": _b64(key)}}]})
        return bool(reply.get("succeeded"))

    def delete_prefix(self, prefix: str) -> int:
        return int(self.call("/v3/kv/deleterange", {"key": _b64(prefix),
                                                   "range_end": _b64(prefix_end(prefix))}).get("deleted", 0))

    # leases

    def lease_grant(self, ttl: int) -> int:
        return int(self.call("/v3/lease/grant", {"TTL": str(ttl)})["ID"])

    def lease_keepalive(self, lease: int) -> int:
        """Renew; the remaining TTL, 0 when the lease has expired already."""
        return int(self.call("/v3/lease/keepalive", {"ID": str(lease)}).get("result", {}).get("TTL", 0))

    def lease_revoke(self, lease: int) -> None:
        try:
            self.call("/v3/lease/revoke", {"ID": str(lease)})
        except StoreUnavailable as e:
            if "not found" not in str(e):
                raise

    # watch

    def watch_prefix(self, prefix: str, start_revision: int = 0) -> Watch:
        return Watch(self, prefix, start_revision)


class Watch:
    """A streaming /v3/watch on a prefix, read without threads over a raw socket: `events(timeout)`
    returns what arrived within timeout, and `fileno()` lets an epoll loop wait on it."""

    def __init__(self, client: Client, prefix: str, start_revision: int = 0) -> None:
        req = {"key": _b64(prefix), "range_end": _b64(prefix_end(prefix))}
        if start_revision:
            req["start_revision"] = str(start_revision)
        body = json.dumps({"create_request": req}).encode()
        last: Exception | None = None
        for host, port in client.endpoints:
            try:
                self.sock = socket.create_connection((host, port), timeout=client.timeout)
            except OSError as e:
                last = e
                continue
            self.sock.sendall(b"POST /v3/watch HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                              b"Content-Length: %d\r\n\r\n%s" % (host.encode(), len(body), body))
            self.raw = b""      # bytes received, not yet de-chunked
            self.lines = b""    # de-chunked body, not yet split into JSON lines
            try:
                while b"\r\n\r\n" not in self.raw:  # a just-restarted etcd may accept and stay silent
                    if not self._recv(client.timeout):
                        raise OSError("no answer to the watch request")
                head, _, self.raw = self.raw.partition(b"\r\n\r\n")
                if b" 200 " not in head.split(b"\r\n")[0]:
                    raise OSError(head.split(b"\r\n")[0].decode())
                first = self._line(client.timeout)  # the "created" acknowledgement
                if first is None or "result" not in json.loads(first):
                    raise OSError(f"no watch acknowledgement: {first!r}")
                return
            except OSError as e:
                last = e
                self.sock.close()
        raise StoreUnavailable(f"cluster store {client.url} is unreachable ({last}): start etcd, then retry")

    def _recv(self, timeout: float) -> bool:
        if not select.select([self.sock], [], [], timeout)[0]:
            return False
        data = self.sock.recv(65536)
        if not data:
            raise StoreUnavailable("the cluster store closed the watch: it is retried when etcd is back")
        self.raw += data
        return True

    def _dechunk(self) -> None:
        while True:
            size_line, sep, rest = self.raw.partition(b"\r\n")
            if not sep:
                return
            size = int(size_line.split(b";")[0] or b"0", 16)
            if len(rest) < size + 2:
                return
            self.lines += rest[:size]
            self.raw = rest[size + 2:]

    def _line(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        while True:
            self._dechunk()
            line, sep, rest = self.lines.partition(b"\n")
            if sep:
                self.lines = rest
                return line
            left = deadline - time.monotonic()
            if left <= 0 or not self._recv(left):
                return None

    def fileno(self) -> int:
        return self.sock.fileno()

    def events(self, timeout: float) -> list[tuple[str, str, str]]:
        """[(PUT|DELETE, key, value)] received within timeout; raises StoreUnavailable if the stream ends."""
        out: list[tuple[str, str, str]] = []
        try:
            line = self._line(timeout)
            while line is not None:
                reply = json.loads(line)
                result = reply.get("result") or {}
                if "error" in reply or result.get("canceled"):
                    # etcd ends a watch whose start revision was compacted away (compact_revision),
                    # or on an error: what it would have delivered is lost, the caller must re-read
                    reason = result.get("cancel_reason") or reply.get("error") or \
                        f"revision compacted to {result.get('compact_revision')}"
                    raise StoreUnavailable(f"the cluster store cancelled the watch ({reason}): read it again")
                out += [(e.get("type", "PUT"), _unb64(e["kv"].get("key")), _unb64(e["kv"].get("value")))
                        for e in result.get("events") or []]
                line = self._line(0)
        except (OSError, ValueError, KeyError) as e:
            raise StoreUnavailable(f"the cluster store watch broke ({e}): it is retried when etcd is back") from None
        return out

    def close(self) -> None:
        self.sock.close()

"""HTTP/1.1 on one connection, as much as the Docker clients use: requests with Content-Length or
chunked bodies, keep-alive, responses whole or chunked, and the hijack (101 Switching Protocols)
that attach uses. Sizes are bounded: a client cannot make a worker hold unbounded memory.
"""

from __future__ import annotations

import json
import re
import socket
import tempfile
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

MAX_LINE = 8 * 1024          # the request line, and each header line
MAX_HEADERS = 100
MAX_BODY = 16 * 1024 * 1024  # JSON bodies (create, ...), held in memory
MAX_UPLOAD = 64 * 1024 ** 3  # tar uploads (build context, load, import), spooled to a temp file
# the endpoints that take a tar
UPLOAD_PATH = re.compile(r"^(/v[0-9.]+)?/(build|images/load|images/create|containers/[^/]+/archive)$")
REASONS = {200: "OK", 201: "Created", 204: "No Content", 101: "UPGRADED", 304: "Not Modified",
           400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           409: "Conflict",
           413: "Request Entity Too Large", 431: "Request Header Fields Too Large", 500: "Internal Server Error",
           501: "Not Implemented"}


class HTTPError(Exception):
    """A request answered with `status` and Docker's {"message": ...}."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Request:
    method: str
    path: str                       # unquoted, without the query
    query: dict[str, list[str]]
    headers: dict[str, str]         # names lower-cased
    version: str
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)  # from the route: {"id": ...}
    api_version: tuple[int, int] | None = None  # the /vX.Y prefix asked (None: unversioned, the newest)
    upload: object = None           # the UPLOAD_PATH endpoints: the body as a binary file at 0 (body stays b"")

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean query parameter as Docker reads it: absent, "", "0", "false" are false."""
        value = self.arg(name)
        if value is None:
            return default
        return value.lower() not in ("", "0", "false", "no")

    def int_arg(self, name: str, default: int | None = None) -> int | None:
        value = self.arg(name)
        if value in (None, ""):
            return default
        try:
            return int(value)
        except ValueError:
            raise HTTPError(400, f"invalid value for {name}: {value!r} is not an integer") from None

    def json(self, default=None):
        if not self.body.strip():
            return default
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise HTTPError(400, f"invalid JSON in the request body: {e}") from None

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        return "close" not in connection if self.version == "HTTP/1.1" else "keep-alive" in connection


class Connection:
    """One client connection: read requests, write responses."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = sock.makefile("rb", buffering=64 * 1024)

    def _line(self) -> bytes:
        line = self.reader.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise HTTPError(431, f"a request line or header is longer than {MAX_LINE} bytes")
        return line

    def read_request(self) -> Request | None:
        """The next request; None when the client closed the connection between requests."""
        line = self._line()
        while line in (b"\r\n", b"\n"):  # tolerated before a request (RFC 9112 2.2)
            line = self._line()
        if not line:
            return None
        try:
            method, target, version = line.decode("latin-1").split()
        except ValueError:
            raise HTTPError(400, "malformed request line") from None
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADERS + 1):
            line = self._line()
            if line in (b"\r\n", b"\n", b""):
                break
            name, colon, value = line.decode("latin-1").partition(":")
            if not colon:
                raise HTTPError(400, "malformed header line")
            headers[name.strip().lower()] = value.strip()
        else:
            raise HTTPError(431, f"more than {MAX_HEADERS} headers")
        url = urlsplit(target)
        req = Request(method.upper(), unquote(url.path), parse_qs(url.query, keep_blank_values=True), headers, version)
        if UPLOAD_PATH.match(req.path):
            req.upload = tempfile.SpooledTemporaryFile(max_size=MAX_BODY)
            self._body(headers, req.upload, MAX_UPLOAD)
            req.upload.seek(0)
        else:
            req.body = self._body(headers)
        return req

    def _body(self, headers: dict[str, str], sink=None, limit: int = MAX_BODY) -> bytes:
        """The body whole, or written to `sink` (a binary file) in pieces."""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            parts, total = [], 0
            while True:
                size_line = self._line().split(b";")[0].strip()
                try:
                    size = int(size_line, 16)
                except ValueError:
                    raise HTTPError(400, "malformed chunk size") from None
                total += size
                if total > limit:
                    raise HTTPError(413, f"the request body is larger than {limit} bytes")
                if size == 0:
                    while self._line() not in (b"\r\n", b"\n", b""):  # trailers
                        pass
                    return b"".join(parts)
                if sink is None:
                    parts.append(self.reader.read(size))
                else:
                    self._copy(size, sink)
                self.reader.read(2)
        length = headers.get("content-length", "0") or "0"
        if not length.isdigit():
            raise HTTPError(400, "malformed Content-Length")
        if int(length) > limit:
            raise HTTPError(413, f"the request body is larger than {limit} bytes")
        if sink is not None:
            self._copy(int(length), sink)
            return b""
        body = self.reader.read(int(length))
        if len(body) < int(length):
            raise HTTPError(400, "the request body ended early")
        return body

    def _copy(self, size: int, sink) -> None:
        while size:
            piece = self.reader.read(min(size, 1 << 20))
            if not piece:
                raise HTTPError(400, "the request body ended early")
            sink.write(piece)
            size -= len(piece)

    # --- responses ---------------------------------------------------------------------------

    def _head(self, status: int, headers: dict[str, str]) -> None:
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
             content_type: str = "application/json", head_only: bool = False) -> None:
        out = dict(headers or {})
        if status not in (204, 304):
            out["Content-Type"] = content_type
            out["Content-Length"] = str(len(body))
        self._head(status, out)
        if body and not head_only and status not in (204, 304):
            self.sock.sendall(body)

    def send_json(self, status: int, doc, headers: dict[str, str] | None = None) -> None:
        self.send(status, json.dumps(doc).encode() + b"\n", headers)

    def start_chunked(self, status: int, headers: dict[str, str], content_type: str) -> "ChunkedWriter":
        self._head(status, {**headers, "Content-Type": content_type, "Transfer-Encoding": "chunked"})
        return ChunkedWriter(self.sock)

    def upgrade(self, headers: dict[str, str], content_type: str) -> socket.socket:
        """Hijack: 101 and the raw socket (Docker's attach: `Upgrade: tcp`)."""
        self._head(101, {**headers, "Content-Type": content_type, "Connection": "Upgrade", "Upgrade": "tcp"})
        return self.sock


class ChunkedWriter:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def write(self, data: bytes) -> None:
        if data:
            self.sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))

    def close(self) -> None:
        self.sock.sendall(b"0\r\n\r\n")

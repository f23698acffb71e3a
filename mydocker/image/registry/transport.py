"""HTTP for registries: one keep-alive connection per host, TLS or plain HTTP, redirects.

Plain HTTP is used only for insecure registries (localhost, 127.0.0.0/8, ::1, the insecure-registries
setting, --tls-verify=false), and only after HTTPS failed, as Docker does.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import urllib.parse

from mydocker.errors import RuntimeFailure

USER_AGENT = "mydocker/0.1 (+python http.client)"
BLOCK = 1 << 20


class Response:
    """A response whose body has not been read yet: read() it all, or iterate chunks()."""

    def __init__(self, raw: http.client.HTTPResponse, url: str) -> None:
        self.raw = raw
        self.url = url
        self.status = raw.status
        self.headers = raw.headers

    def header(self, name: str, default: str = "") -> str:
        return self.raw.getheader(name, default)

    def read(self, limit: int = 16 << 20) -> bytes:
        data = self.raw.read(limit + 1)
        if len(data) > limit:
            raise RuntimeFailure(f"response from {self.url} is larger than {limit} bytes: refused")
        self.raw.read()  # drain so the connection can be reused
        return data

    def chunks(self, size: int = BLOCK):
        while chunk := self.raw.read1(size) if hasattr(self.raw, "read1") else self.raw.read(size):
            yield chunk

    def close(self) -> None:
        self.raw.close()


class Transport:
    def __init__(self, verify: bool = True, timeout: float = 60) -> None:
        self.verify = verify
        self.timeout = timeout
        self._conns: dict[tuple[str, str], http.client.HTTPConnection] = {}
        self._context: ssl.SSLContext | None = None

    def forget_connections(self) -> None:
        """In a forked child: never share the parent's sockets (their fds close with the child)."""
        self._conns = {}

    def context(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = ssl.create_default_context()
            if not self.verify:
                self._context.check_hostname = False
                self._context.verify_mode = ssl.CERT_NONE
        return self._context

    def _connection(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        conn = self._conns.get((scheme, netloc))
        if conn is None:
            if scheme == "https":
                conn = http.client.HTTPSConnection(netloc, timeout=self.timeout, context=self.context(),
                                                   blocksize=BLOCK)
            else:
                conn = http.client.HTTPConnection(netloc, timeout=self.timeout, blocksize=BLOCK)
            self._conns[(scheme, netloc)] = conn
        return conn

    def request(self, method: str, url: str, headers: dict | None = None, body=None,
                follow: bool = True, auth_for=None) -> Response:
        """Send one request; follow redirects of GET/HEAD (Authorization only kept on the same host).

        `auth_for(netloc)` gives the Authorization header for a host, or None.
        """
        origin = urllib.parse.urlsplit(url).netloc
        for _hop in range(10):
            parts = urllib.parse.urlsplit(url)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            hdrs = {"User-Agent": USER_AGENT, **(headers or {})}
            if auth_for and parts.netloc == origin:
                token = auth_for(parts.netloc)
                if token:
                    hdrs["Authorization"] = token
            raw = self._send(parts.scheme, parts.netloc, method, target or "/", hdrs, body)
            if follow and raw.status in (301, 302, 303, 307, 308) and method in ("GET", "HEAD"):
                location = raw.getheader("Location", "")
                raw.read()
                url = urllib.parse.urljoin(url, location)
                continue
            return Response(raw, url)
        raise RuntimeFailure(f"too many redirects from {url}: the registry is misconfigured")

    def _send(self, scheme: str, netloc: str, method: str, target: str, headers: dict, body):
        # a kept-alive connection may have been closed by the server: retry once on a fresh one
        for attempt in (1, 2):
            conn = self._connection(scheme, netloc)
            try:
                conn.request(method, target, body=body, headers=headers)
                return conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                conn.close()
                del self._conns[(scheme, netloc)]
                if attempt == 2 or not (body is None or isinstance(body, (bytes, bytearray))):
                    raise RuntimeFailure(f"registry {netloc} closed the connection: {e}") from None
            except ssl.SSLError:
                conn.close()
                del self._conns[(scheme, netloc)]
                raise
            except socket.gaierror as e:
                conn.close()
                del self._conns[(scheme, netloc)]
                raise RuntimeFailure(f"cannot resolve registry host {netloc.rsplit(':', 1)[0]}: {e.strerror}; "
                                     "check the name and the network") from None
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                del self._conns[(scheme, netloc)]
                if isinstance(e, ConnectionRefusedError):
                    raise RuntimeFailure(f"cannot reach registry {netloc}: connection refused; "
                                         "check the address and that the registry is running") from None
                raise RuntimeFailure(f"cannot talk to registry {netloc}: {e}") from None
        raise AssertionError("unreachable")

#!/usr/bin/env python3
"""A tiny HTTP forward proxy for `apt` inside build containers that may not reach the internet.

    python3 examples/http-proxy.py ADDRESS PORT

Listen on ADDRESS:PORT (say, the gateway of an --internal network the build's RUN uses) and
fetch each `GET http://host/path` for the client, from the host, as the host's own apt would.
Only plain-HTTP GET/HEAD of absolute URLs is served (what apt does with http:// sources); the
upstream hosts allowed are in MYDOCKER_PROXY_ALLOW (comma-separated, default deb.debian.org).
"""

from __future__ import annotations

import http.client
import os
import socketserver
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler

ALLOW = set(os.environ.get("MYDOCKER_PROXY_ALLOW", "deb.debian.org").split(","))
_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailers",
        "transfer-encoding", "upgrade"}


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _forward(self, body: bool) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.scheme != "http" or url.hostname not in ALLOW:
            self.send_error(403, f"this proxy fetches only http:// from {', '.join(sorted(ALLOW))}")
            return
        upstream = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
            upstream.request(self.command, url.path + (f"?{url.query}" if url.query else "") or "/",
                             headers=headers)
            reply = upstream.getresponse()
            self.send_response(reply.status, reply.reason)
            length = reply.getheader("Content-Length")
            for key, value in reply.getheaders():
                if key.lower() not in _HOP:
                    self.send_header(key, value)
            if length is None and body:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if body:
                while chunk := reply.read(1 << 16):
                    self.wfile.write(chunk)
        except OSError as e:
            self.send_error(502, f"upstream {url.hostname}: {e}")
        finally:
            upstream.close()

    def do_GET(self) -> None:
        self._forward(body=True)

    def do_HEAD(self) -> None:
        self._forward(body=False)

    def log_message(self, fmt: str, *args) -> None:
        sys.stderr.write("proxy: " + fmt % args + "\n")


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main() -> None:
    address, port = sys.argv[1], int(sys.argv[2])
    with Server((address, port), Proxy) as server:
        print(f"proxy: listening on {address}:{port}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()

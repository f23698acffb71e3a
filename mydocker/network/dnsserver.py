"""The embedded resolver of user networks: one process per engine root while a container is on one of
its user networks, as aardvark-dns is for podman's.

It listens on port 53 (UDP and TCP) of each user network's gateway address, in the host's network
namespace, and answers the containers of that network with the addresses of the container names,
aliases, short ids and hostnames of their networks (mydocker/network/dnszone.py); everything else
is forwarded to the container's --dns servers or the host's resolvers, from here, so a loopback
resolver of the host (systemd-resolved, dnsmasq) serves the containers as well. Every gateway is
reachable from every network (it is the host), so a query is answered only from an address of the
queried network's subnet (REFUSED otherwise): a container cannot learn another network's names.
Forwarding is over UDP, for TCP clients too, with a socket and a random id per query.

Why the gateway and not 127.0.0.11 as Docker: that address lives inside each container's namespace
and needs a NAT rule there per container start; the gateway is already the host's address on the
network, so a start costs no rule and no nft transaction at all.

Single-threaded: one selector loop over the listening sockets, the TCP connections, the forwarded
queries' sockets and the control socket. The engine (engine/network_dns.py) starts it with its first
sockets already bound and its pid file already locked (so that a second start cannot race it), and
afterwards sends "reload" on the control socket whenever a network file changed; the reply says,
per network, whether port 53 could be had. With no records left it exits, holding the network lock
of the engine root so that no container can join meanwhile.

    python -m mydocker.network.dnsserver DIR LOCK CONTROL_FD PID_FD [NETWORK=UDP_FD,TCP_FD ...]
"""

from __future__ import annotations

import _socket
import os
import sys
import time

from mydocker import jsonio
from mydocker.lazy import lazy_module
from mydocker.network import dnswire, dnszone

# lazy: the engine imports this module for `bind` and `control_listener` alone (with `_socket`: `socket`
# and its enums cost ~3 ms) when it starts the resolver
fcntl = lazy_module("fcntl")
fs = lazy_module("mydocker.linux.fs")
selectors = lazy_module("selectors")
signal = lazy_module("signal")
socket = lazy_module("socket")
traceback = lazy_module("traceback")

PORT = 53
CONTROL = "control.sock"
PIDFILE = "server.pid"
FORWARD_TIMEOUT = 2.0   # seconds per upstream before the next one is asked
TCP_IDLE = 10.0         # seconds a TCP client may stay silent
MAX_FORWARDS = 512      # queries waiting on upstreams at once; beyond: SERVFAIL
MAX_TCP = 64            # TCP clients at once; beyond: closed at once
EXIT_RETRY = 0.05       # seconds between tries of the engine's lock when nothing is left to serve


class _Forward:
    """A query sent on to an upstream, on a socket of its own (random port and id: hard to spoof)."""

    def __init__(self, message: bytes, upstreams: list[str], reply_to) -> None:
        self.message = message
        self.client_id = dnswire.header_id(message)
        self.upstreams = upstreams
        self.reply_to = reply_to            # callable(bytes)
        self.sock: socket.socket | None = None
        self.qid = 0
        self.deadline = 0.0


class _TcpClient:
    def __init__(self, sock: socket.socket, network: str, source: str) -> None:
        self.sock = sock
        self.network = network
        self.source = source
        self.buffer = b""
        self.deadline = time.monotonic() + TCP_IDLE


class Server:
    def __init__(self, directory: str, lock_path: str, control: socket.socket) -> None:
        self.directory = directory
        self.lock_path = lock_path
        self.control = control
        self.sel = selectors.DefaultSelector()
        self.zones: dict[str, dnszone.Zone] = {}
        self.listeners: dict[str, tuple[str, socket.socket, socket.socket]] = {}  # network: (address, udp, tcp)
        self.errors: dict[str, str] = {}
        self.forwards: dict[int, _Forward] = {}
        self.clients: dict[int, _TcpClient] = {}
        self.exit_at = 0.0
        self.running = True
        control.setblocking(False)
        self.sel.register(control, selectors.EVENT_READ, self._control)

    # the networks

    def adopt(self, network: str, udp: socket.socket, tcp: socket.socket) -> None:
        """Sockets the engine bound for us before we started."""
        self._listen(network, udp.getsockname()[0], udp, tcp)

    def _listen(self, network: str, address: str, udp: socket.socket, tcp: socket.socket) -> None:
        udp.setblocking(False)
        tcp.setblocking(False)
        self.listeners[network] = (address, udp, tcp)
        self.sel.register(udp, selectors.EVENT_READ, lambda: self._udp_query(network, udp))
        self.sel.register(tcp, selectors.EVENT_READ, lambda: self._tcp_accept(network, tcp))

    def _unlisten(self, network: str) -> None:
        _address, udp, tcp = self.listeners.pop(network)
        for s in (udp, tcp):
            self.sel.unregister(s)
            s.close()

    def reload(self) -> dict[str, str]:
        """Read the network files again; listen on new networks' gateways, stop on gone ones. Returns
        network: "" when served, else why not."""
        self.zones = dnszone.load(self.directory)
        for network in list(self.listeners):
            zone = self.zones.get(network)
            if zone is None or zone.gateway != self.listeners[network][0]:
                self._unlisten(network)
        self.errors = {n: e for n, e in self.errors.items() if n in self.zones}
        for network, zone in self.zones.items():
            if network not in self.listeners:
                try:
                    udp, tcp = (socket.socket(fileno=s.detach()) for s in bind(zone.gateway))
                    self._listen(network, zone.gateway, udp, tcp)
                    self.errors.pop(network, None)
                except OSError as e:
                    self.errors[network] = bind_problem(zone.gateway, e)
        if not self.zones and not self.exit_at:
            self.exit_at = time.monotonic()
        elif self.zones:
            self.exit_at = 0.0
        return {network: self.errors.get(network, "") for network in self.zones}

    def _control(self) -> None:
        try:
            conn, _ = self.control.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(2)
            try:
                request = conn.recv(64)
                if request.strip() == b"reload":
                    conn.sendall(jsonio.dumps(self.reload()).encode())
            except OSError:
                pass

    # queries

    def answer(self, network: str, source: str, message: bytes, reply_to) -> None:
        """Answer `message` (a query from `source` on `network`) through reply_to(bytes), now or when an
        upstream has answered."""
        q = dnswire.parse_query(message)
        if q is None:
            out = dnswire.error_reply(message, dnswire.FORMERR)
            if out:
                reply_to(out)
            return
        if dnswire.opcode(q.flags) != 0:
            reply_to(dnswire.reply(q, dnswire.NOTIMP, authoritative=False))
            return
        if not dnszone.accepts(self.zones, network, source):
            reply_to(dnswire.reply(q, dnswire.REFUSED, authoritative=False))
            return
        found = dnszone.lookup(self.zones, network, source, q.name) if q.qclass == dnswire.IN else None
        if found is not None:  # ours: A records; any other type of our names has no record (NOERROR, empty)
            addresses = [socket.inet_aton(a) for a in found] if q.qtype in (dnswire.A, dnswire.ANY) else []
            reply_to(dnswire.reply(q, dnswire.NOERROR, addresses, rtype=dnswire.A))
            return
        upstreams = dnszone.upstreams(self.zones, network, source)
        if not upstreams or len(self.forwards) >= MAX_FORWARDS:
            reply_to(dnswire.reply(q, dnswire.SERVFAIL, authoritative=False))
            return
        self._forward(_Forward(message, list(upstreams), reply_to))

    def _forward(self, f: _Forward) -> None:
        while f.upstreams:
            upstream = f.upstreams.pop(0)
            try:
                family = socket.AF_INET6 if ":" in upstream else socket.AF_INET
                sock = socket.socket(family, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)
            except OSError:
                continue
            try:
                sock.connect((upstream, PORT))
                f.qid = int.from_bytes(os.urandom(2), "big")
                sock.send(dnswire.with_id(f.message, f.qid))
            except OSError:
                sock.close()
                continue
            f.sock, f.deadline = sock, time.monotonic() + FORWARD_TIMEOUT
            self.forwards[sock.fileno()] = f
            self.sel.register(sock, selectors.EVENT_READ, lambda: self._upstream_reply(f))
            return
        q = dnswire.parse_query(f.message)
        if q is not None:
            f.reply_to(dnswire.reply(q, dnswire.SERVFAIL, authoritative=False))

    def _drop_forward(self, f: _Forward) -> None:
        if f.sock is not None:
            self.forwards.pop(f.sock.fileno(), None)
            self.sel.unregister(f.sock)
            f.sock.close()
            f.sock = None

    def _upstream_reply(self, f: _Forward) -> None:
        try:
            message = f.sock.recv(dnswire.MAX_MESSAGE)
        except OSError:  # refused (nothing listens there): the next upstream
            self._drop_forward(f)
            self._forward(f)
            return
        if not dnswire.is_reply_to(message, f.qid):
            return  # not the answer: keep waiting for it
        self._drop_forward(f)
        f.reply_to(dnswire.with_id(message, f.client_id))

    def _udp_query(self, network: str, sock: socket.socket) -> None:
        for _ in range(64):  # a burst, then the other sockets get their turn
            try:
                message, peer = sock.recvfrom(dnswire.MAX_UDP * 8)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue

            def reply_to(data: bytes, peer=peer) -> None:
                try:
                    sock.sendto(data, peer)
                except OSError:
                    pass
            self.answer(network, peer[0], message, reply_to)

    def _tcp_accept(self, network: str, listener: socket.socket) -> None:
        try:
            conn, peer = listener.accept()
        except OSError:
            return
        if len(self.clients) >= MAX_TCP:
            conn.close()
            return
        conn.setblocking(False)
        client = _TcpClient(conn, network, peer[0])
        self.clients[conn.fileno()] = client
        self.sel.register(conn, selectors.EVENT_READ, lambda: self._tcp_read(client))

    def _tcp_close(self, client: _TcpClient) -> None:
        if self.clients.pop(client.sock.fileno(), None) is not None:
            self.sel.unregister(client.sock)
            client.sock.close()

    def _tcp_read(self, client: _TcpClient) -> None:
        try:
            data = client.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._tcp_close(client)
            return
        client.buffer += data
        client.deadline = time.monotonic() + TCP_IDLE
        while len(client.buffer) >= 2:
            length = int.from_bytes(client.buffer[:2], "big")
            if len(client.buffer) < 2 + length:
                break
            message, client.buffer = client.buffer[2:2 + length], client.buffer[2 + length:]

            def reply_to(out: bytes, client=client) -> None:
                if client.sock.fileno() < 0:
                    return  # closed while an upstream was asked
                try:
                    client.sock.sendall(len(out).to_bytes(2, "big") + out)
                except OSError:
                    self._tcp_close(client)
            self.answer(client.network, client.source, message, reply_to)

    # the loop

    def _timeouts(self) -> None:
        now = time.monotonic()
        for f in [f for f in self.forwards.values() if f.deadline <= now]:
            self._drop_forward(f)
            self._forward(f)
        for client in [c for c in self.clients.values() if c.deadline <= now]:
            self._tcp_close(client)
        if self.exit_at and now >= self.exit_at:
            self._try_exit()

    def _try_exit(self) -> None:
        """Nothing to serve: leave, unless a container joined (the engine holds its lock while one
        joins; we look again once we hold it)."""
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            self.exit_at = time.monotonic() + EXIT_RETRY
            return
        self.reload()
        if self.zones:
            os.close(fd)
            return
        for name in (CONTROL, PIDFILE):  # under the lock: no engine looks at them now
            fs.remove_file(os.path.join(self.directory, name))
        self.running = False  # the lock goes with the process

    def serve(self) -> None:
        while self.running:
            timeouts = [f.deadline for f in self.forwards.values()] + [c.deadline for c in self.clients.values()]
            if self.exit_at:
                timeouts.append(self.exit_at)
            wait = max(0.0, min(timeouts) - time.monotonic()) if timeouts else None
            for key, _mask in self.sel.select(wait):
                try:
                    key.data()
                except Exception:  # noqa: BLE001 - a bug in one answer must not end the others' DNS
                    traceback.print_exc()
            self._timeouts()


def bind(address: str) -> tuple[_socket.socket, _socket.socket]:
    """UDP and TCP sockets on port 53 of `address` (OSError: taken, or no such address here)."""
    udp = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC)
    tcp = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        udp.bind((address, PORT))  # no SO_REUSEADDR: another resolver there must be seen, not shared
        tcp.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)  # only our own TIME_WAITs
        tcp.bind((address, PORT))
        tcp.listen(16)
    except OSError:
        udp.close()
        tcp.close()
        raise
    return udp, tcp


def bind_problem(address: str, e: OSError) -> str:
    return f"port {PORT} of {address} cannot be had: {e.strerror or e}"


def control_listener(path: str) -> _socket.socket:
    """The control socket, listening: requests wait in its backlog while the resolver starts."""
    control = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        fs.remove_file(path)  # a resolver killed before it could remove it
        control.bind(path)
        control.listen(16)
    except OSError:
        control.close()
        raise
    return control


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    # the pid file's descriptor (args[3]) is kept open: its lock, taken by the engine that started
    # us, says that we run, until we exit
    directory, lock_path, control_fd = args[0], args[1], int(args[2])
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    os.chdir("/")
    server = Server(directory, lock_path, socket.socket(fileno=control_fd))
    for spec in args[4:]:
        network, _, fds = spec.partition("=")
        udp_fd, tcp_fd = (int(fd) for fd in fds.split(","))
        server.adopt(network, socket.socket(fileno=udp_fd), socket.socket(fileno=tcp_fd))
    server.reload()
    server.serve()


if __name__ == "__main__":
    main()

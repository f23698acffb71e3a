"""`mydocker system service`: the listener, and one worker process per connection.

Why a process per connection: the runtime forks containers, and a fork is only safe from a process
without other threads. The service process has exactly one thread: it accepts a connection, hands it
to a worker and goes back to accepting; it never opens the engine itself. A worker serves its
connection's requests one after another (keep-alive) with the engine opened in its own process, so a
stream (logs -f, attach, wait) holds up no other client, a client that goes away just ends its worker,
and killing the service loses nothing: the state is the engine's (records, monitors), not the service's.

The worker is forked ahead of its connection: one spare waits, its engine's database open already
(a forked worker's first SQLite statement took 2-3 ms here), for the next connection, which the
service passes to it over a socket pair (SCM_RIGHTS); then the service forks the next spare.
The docker CLI's `run` opens three connections (create and wait, attach, start), one after another.
A spare whose parent is gone reads end-of-file and exits.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import stat
import sys
import time
from mydocker.errors import Conflict, InvalidArgument
from mydocker.lazy import lazy_module

api = lazy_module("mydocker.engine.api")
handlers = lazy_module("mydocker.apiserver.handlers")
routes = lazy_module("mydocker.apiserver.routes")
traceback = lazy_module("traceback")

KEEPALIVE_IDLE = 60.0   # seconds a worker waits for the next request on a kept-alive connection


def parse_uri(uri: str) -> tuple[str, str | tuple[str, int]]:
    """("unix", path) or ("tcp", (host, port)); InvalidArgument with the forms allowed."""
    scheme, sep, rest = uri.partition("://")
    if sep and scheme == "unix" and rest.startswith("/"):
        return "unix", rest
    if sep and scheme == "tcp":
        host, colon, port = rest.rstrip("/").rpartition(":")
        if colon and port.isdigit() and 0 < int(port) < 65536:
            return "tcp", (host.strip("[]") or "127.0.0.1", int(port))  # loopback unless named
    raise InvalidArgument(f"invalid service address {uri!r}: use unix:///path/to/docker.sock or tcp://HOST:PORT")


def listen(uri: str) -> socket.socket:
    kind, address = parse_uri(uri)
    if kind == "tcp":
        host, port = address
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as e:
            sock.close()
            raise Conflict(f"cannot listen on {uri}: {e.strerror}") from None
    else:
        path = address
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        _remove_stale(path, uri)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        old = os.umask(0o177)  # never reachable by others, not even between bind and chmod
        try:
            sock.bind(path)
        finally:
            os.umask(old)
        os.chmod(path, 0o660)  # root's (and group root's), as dockerd's socket
    sock.listen(128)
    return sock


def _remove_stale(path: str, uri: str) -> None:
    """A socket file left by a service that is gone is replaced; one that answers is not."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise Conflict(f"cannot listen on {uri}: {path} exists and is not a socket; remove it or choose another path")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)
        return
    finally:
        probe.close()
    raise Conflict(f"cannot listen on {uri}: a service is already listening there; stop it or choose another path")


def serve(uri: str, open_engine, idle: float = 0) -> int:
    """Accept connections until killed (SIGTERM, SIGINT) or, with `idle` > 0, no connection was open for
    `idle` seconds. `open_engine()`: the engine interface (api.EngineAPI), called in each worker
    after the fork; this process never uses it (its services open files and databases lazily)."""
    listener = listen(uri)
    _preload()
    kind, address = parse_uri(uri)
    workers: set[int] = set()
    spare: Spare | None = None
    last_active = time.monotonic()

    def stop(_signum, _frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"mydocker: serving the Docker Engine API on {uri}", file=sys.stderr, flush=True)
    try:
        while True:
            if _reap(workers, spare):  # the spare died waiting: a new one below
                spare.channel.close()
                spare = None
            if workers:
                last_active = time.monotonic()
            elif idle > 0 and time.monotonic() - last_active >= idle:
                return 0
            if spare is None:
                spare = Spare.fork(listener, open_engine)
            ready, _, _ = select.select([listener], [], [], 0.5)
            if not ready:
                continue
            try:
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                continue
            last_active = time.monotonic()
            if spare.hand(conn):
                workers.add(spare.pid)
                spare = None
            else:  # the spare is gone: a worker of its own, as before spares
                spare.close()
                spare = None
                pid = os.fork()
                if pid == 0:
                    _worker(listener, conn, open_engine)
                workers.add(pid)
            conn.close()
    finally:
        listener.close()
        if spare is not None:
            spare.close(wait=True)
        if kind == "unix":
            try:
                os.unlink(address)
            except FileNotFoundError:
                pass


def _preload() -> None:
    """What every worker needs, imported once here (imports start no threads): a worker forked from
    this process starts answering at once."""
    # kept function-level (docs/startup.md): these must be loaded now, before the workers fork
    import mydocker.apiserver.convert  # noqa: F401
    import mydocker.apiserver.routes  # noqa: F401 - every handler module
    api.preload()


def _reap(workers: set[int], spare: Spare | None) -> bool:
    """Reap the workers that ended; True if the spare was among them."""
    spare_gone = False
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            workers.clear()
            return spare_gone
        if pid == 0:
            return spare_gone
        workers.discard(pid)
        spare_gone = spare_gone or (spare is not None and pid == spare.pid)


class Spare:
    """A worker forked before its connection, waiting on its end of a socket pair."""

    def __init__(self, pid: int, channel: socket.socket) -> None:
        self.pid, self.channel = pid, channel

    @classmethod
    def fork(cls, listener: socket.socket, open_engine) -> Spare:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            ours.close()
            _spare(listener, theirs, open_engine)
        theirs.close()
        return cls(pid, ours)

    def hand(self, conn: socket.socket) -> bool:
        """Pass `conn` to the spare; False if it is gone (the caller serves the connection otherwise)."""
        try:
            socket.send_fds(self.channel, [b"c"], [conn.fileno()])
        except OSError:
            return False
        self.channel.close()
        return True

    def close(self, wait: bool = False) -> None:
        """End-of-file to the spare, which exits; with `wait`, reaped (SIGKILL after 5 s)."""
        self.channel.close()
        if not wait:
            return
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                if os.waitpid(self.pid, os.WNOHANG)[0]:
                    return
            except ChildProcessError:
                return
            time.sleep(0.005)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)


def _spare(listener: socket.socket, channel: socket.socket, open_engine) -> None:
    """In a spare: open the engine's database, wait for a connection, serve it as a worker; at
    end-of-file (the service is stopping or gone), exit."""
    try:
        listener.close()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        try:
            open_engine().open_records()
            _warm_up(open_engine)
        except Exception:  # noqa: BLE001 - the request that needs it will meet (and answer) the error
            pass
        _msg, fds, _flags, _addr = socket.recv_fds(channel, 1, 1)
        channel.close()
        if not fds:
            os._exit(0)
        conn = socket.socket(fileno=fds[0])
    except BaseException:  # noqa: BLE001 - a spare's failure costs the service a fork, nothing else
        os._exit(1)
    _worker(None, conn, open_engine)


def _warm_up(open_engine) -> None:
    """Serve one HEAD /_ping to ourselves: the request path's pages (parser, router, answer) are
    copied from the service's (copy-on-write) now rather than while a client waits."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        theirs.sendall(b"HEAD /_ping HTTP/1.1\r\nHost: spare\r\nConnection: close\r\n\r\n")
        handlers.serve_connection(ours, open_engine, routes.ALL)
    finally:
        ours.close()
        theirs.close()


def _worker(listener: socket.socket | None, conn: socket.socket, open_engine) -> None:
    """In the forked worker: serve the connection, then exit (never return into the accept loop)."""
    code = 0
    try:
        if listener is not None:
            listener.close()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        conn.settimeout(KEEPALIVE_IDLE)
        handlers.serve_connection(conn, open_engine, routes.ALL)
    except BaseException:  # noqa: BLE001 - a worker's bug ends its connection only, said on stderr
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stderr.flush()
        finally:
            os._exit(code)

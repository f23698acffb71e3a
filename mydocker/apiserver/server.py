"""`mydocker system service`: the listener, and one worker process per connection.

Why a process per connection: the runtime forks containers, and a fork is only safe from a process
without other threads. The service process has exactly one thread: it accepts a connection, forks a
worker for it and goes back to accepting; it never opens the engine itself. A worker serves its
connection's requests one after another (keep-alive) with the engine opened in its own process, so a
stream (logs -f, attach, wait) holds up no other client, a client that goes away just ends its worker,
and killing the service loses nothing: the state is the engine's (records, monitors), not the service's.
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

DEFAULT_URI = "unix:///run/mydocker/docker.sock"
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
    last_active = time.monotonic()

    def stop(_signum, _frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"mydocker: serving the Docker Engine API on {uri}", file=sys.stderr, flush=True)
    try:
        while True:
            _reap(workers)
            if workers:
                last_active = time.monotonic()
            elif idle > 0 and time.monotonic() - last_active >= idle:
                return 0
            ready, _, _ = select.select([listener], [], [], 0.5)
            if not ready:
                continue
            try:
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                continue
            last_active = time.monotonic()
            pid = os.fork()
            if pid == 0:
                _worker(listener, conn, open_engine)
            workers.add(pid)
            conn.close()
    finally:
        listener.close()
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


def _reap(workers: set[int]) -> None:
    while workers:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            workers.clear()
            return
        if pid == 0:
            return
        workers.discard(pid)


def _worker(listener: socket.socket, conn: socket.socket, open_engine) -> None:
    """In the forked worker: serve the connection, then exit (never return into the accept loop)."""
    code = 0
    try:
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

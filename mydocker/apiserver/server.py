"""`mydocker system service`: the listener, and one worker process per connection.

Why a process per connection: the runtime forks containers, and a fork is only safe from a process
without other threads. The service process has exactly one thread: it accepts a connection, hands it
to a worker and goes back to accepting; it never opens the engine itself. A worker serves its
connection's requests one after another (keep-alive) with the engine opened in its own process, so a
stream (logs -f, attach, wait) holds up no other client, a client that goes away just ends its worker,
and killing the service loses nothing: the state is the engine's (records, monitors), not the service's.

The worker is forked ahead of its connection: spares wait, their engine's database open already
(a forked worker's first SQLite statement took 2-3 ms here), for the next connections, which they
accept from the listener themselves (an epoll with EPOLLEXCLUSIVE: a connection wakes one spare, not
all): the service's own wake-up, accept and hand-over of the connection (SCM_RIGHTS) are not on the
request's path. A spare that took a connection says so on its socket pair, and the service counts
it a worker; the service accepts only while it has no spare (and forks a worker for the
connection). The docker CLI's `run` opens three connections (create and wait, attach, start), one
after another: four spares wait, and they are forked again after the run (see SPARES). A spare whose
parent is gone reads end-of-file on its socket pair and exits.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import stat
import sys
import time
from mydocker import collector
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
    sock.setblocking(False)  # the spares and the service accept after a wake-up that another may have taken
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
    children = Children(listener, open_engine)
    last_active = last_accept = time.monotonic()

    def stop(_signum, _frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"mydocker: serving the Docker Engine API on {uri}", file=sys.stderr, flush=True)
    try:
        while True:
            children.reap()
            now = time.monotonic()
            if children.workers:
                last_active = now
            elif idle > 0 and now - last_active >= idle:
                return 0
            refill = children.wants_spare(now - last_accept)
            if refill is not None and refill <= 0:
                children.fork_spare()  # one at a time: a connection waiting is taken first
                refill = 0
            wait = 0.5 if refill is None else min(0.5, refill)
            ready = children.poll(wait)
            if children.note_taken(ready):
                last_active = last_accept = time.monotonic()
            if listener.fileno() not in ready:
                continue
            try:
                conn, _ = listener.accept()  # no spare was there: a worker is forked for it
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                continue
            last_active = last_accept = time.monotonic()
            children.fork_worker(conn)
            conn.close()
    finally:
        listener.close()
        children.close_spares()
        if kind == "unix":
            try:
                os.unlink(address)
            except FileNotFoundError:
                pass


def _preload() -> None:
    """What every worker needs, imported once here (imports start no threads), and the prewarm shell
    they share (a process, spawned): a worker forked from this process starts answering at once."""
    # kept function-level (docs/startup.md): these must be loaded now, before the workers fork
    import mydocker.apiserver.convert  # noqa: F401
    import mydocker.apiserver.routes  # noqa: F401 - every handler module
    api.preload()
    api.park_prewarm()  # one shell, which every worker's create kicks
    # what is loaded now into the collector's permanent generation: a worker's collections then
    # leave these objects (and their pages, shared with us copy-on-write) alone
    collector.resume()


# docker run opens three connections within ~10 ms (create and wait, attach, start): each finds a
# spare ready, and one is left, so that no spare is forked in the middle of the run (a service left
# without spares forks one at once). Spares are forked again once those workers have ended (the run
# is over) or, while others stay connected (a kept-alive client, logs -f), after REFILL_IDLE without
# a new connection: never in the middle of a run, whose forks and spares' warm-up took a core from it
# (a spare forked at the attach was not ready for the start, 1-4.5 ms later; with three spares, the
# fourth forked at the start's hand-off held the start's launch back; docs/startup.md).
SPARES = 4
REFILL_IDLE = 0.1


class Children:
    """The service's children: the spares waiting for a connection and the workers serving one, each
    with a pidfd the accept loop polls (its exit wakes the loop, which reaps it and forks spares), and
    each spare's socket pair (it says there that it took a connection). The listener is polled only
    while there is no spare: the spares accept, and a connection would wake the service for nothing."""

    def __init__(self, listener: socket.socket, open_engine) -> None:
        self.listener, self.open_engine = listener, open_engine
        self.spares: list[Spare] = []
        self.workers: dict[int, int | None] = {}     # pid -> pidfd
        self._poller = select.poll()
        self._polls_listener = False
        self._watch_listener()

    def wants_spare(self, since_accept: float) -> float | None:
        """Seconds until a spare should be forked (<= 0: now), None while there are enough."""
        if len(self.spares) >= SPARES:
            return None
        if not self.spares or not self.workers:
            return 0
        return REFILL_IDLE - since_accept

    def poll(self, timeout: float) -> set[int]:
        """The fds ready within `timeout` seconds: the listener's, spares' socket pairs and exited
        children's pidfds."""
        return {fd for fd, _ in self._poller.poll(timeout * 1000)}

    def fork_spare(self) -> None:
        spare = Spare.fork(self.listener, self.open_engine, self._ours())
        if spare.pidfd is not None:
            self._poller.register(spare.pidfd, select.POLLIN)
        self._poller.register(spare.channel, select.POLLIN)
        self.spares.append(spare)
        self._watch_listener()

    def note_taken(self, ready: set[int]) -> bool:
        """The spares whose socket pair is in `ready` took a connection (or died: reaped by `reap`):
        workers now. True if any took one."""
        took = False
        for spare in [s for s in self.spares if s.channel.fileno() in ready]:
            self.spares.remove(spare)
            self._poller.unregister(spare.channel)
            if spare.took_connection():
                self.workers[spare.pid] = spare.pidfd
                took = True
            else:
                self._forget(spare.pidfd)
            spare.channel.close()
        self._watch_listener()
        return took

    def fork_worker(self, conn: socket.socket) -> None:
        """A worker forked for `conn`, accepted while no spare was there."""
        inherited = self._ours()
        pid = os.fork()
        if pid == 0:
            _close(inherited)
            _worker(self.listener, conn, self.open_engine)
        pidfd = _pidfd(pid)
        if pidfd is not None:
            self._poller.register(pidfd, select.POLLIN)
        self.workers[pid] = pidfd

    def reap(self) -> None:
        """Reap the children that ended: workers, and spares that died waiting."""
        while True:
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid in self.workers:
                self._forget(self.workers.pop(pid))
            for spare in [s for s in self.spares if s.pid == pid]:
                self.spares.remove(spare)
                self._forget(spare.pidfd)
                self._poller.unregister(spare.channel)
                spare.channel.close()
        self._watch_listener()

    def _watch_listener(self) -> None:
        """The listener polled while there is no spare, and only then."""
        if self._polls_listener != (not self.spares):
            if self.spares:
                self._poller.unregister(self.listener)
            else:
                self._poller.register(self.listener, select.POLLIN)
            self._polls_listener = not self.spares

    def _ours(self) -> list[int]:
        """The fds a child must close first: the other spares' channels (a copy held open would keep
        a spare from reading end-of-file when the service goes) and the pidfds."""
        fds = (*self.workers.values(), *(s.pidfd for s in self.spares))
        return [s.channel.fileno() for s in self.spares] + [fd for fd in fds if fd is not None]

    def _forget(self, pidfd: int | None) -> None:
        if pidfd is not None:
            self._poller.unregister(pidfd)
            os.close(pidfd)

    def close_spares(self) -> None:
        for spare in self.spares:
            spare.close(wait=True)


def _pidfd(pid: int) -> int | None:
    """A pollable fd that turns readable when `pid` exits; None on a kernel without pidfds (the loop
    then reaps on its 0.5 s timeout)."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _close(fds: list[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


class Spare:
    """A worker forked before its connection, which it accepts from the listener itself; its socket
    pair to the service: one byte when it took a connection, end-of-file both ways when either goes."""

    TOOK = b"t"

    def __init__(self, pid: int, channel: socket.socket) -> None:
        self.pid, self.channel = pid, channel
        self.pidfd = _pidfd(pid)

    @classmethod
    def fork(cls, listener: socket.socket, open_engine, inherited: list[int]) -> Spare:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        pid = os.fork()
        if pid == 0:
            _close(inherited)
            ours.close()
            _spare(listener, theirs, open_engine)
        theirs.close()
        return cls(pid, ours)

    def took_connection(self) -> bool:
        """Read once its socket pair is readable: True if it took a connection, False if it is gone."""
        try:
            return self.channel.recv(1) == self.TOOK
        except OSError:
            return False

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
    """In a spare: open the engine's database, wait for a connection and accept it, say so to the
    service, serve it as a worker; at end-of-file (the service is stopping or gone), exit."""
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        try:
            open_engine().prepare()
            _warm_up(open_engine)
        except Exception:  # noqa: BLE001 - the request that needs it will meet (and answer) the error
            pass
        conn = _accept(listener, channel)
        listener.close()
        if conn is None:
            os._exit(0)
        try:
            channel.send(Spare.TOOK)
        except OSError:
            pass  # the service is gone: the connection is served all the same
        channel.close()
    except BaseException:  # noqa: BLE001 - a spare's failure costs the service a fork, nothing else
        os._exit(1)
    _worker(None, conn, open_engine)


def _accept(listener: socket.socket, channel: socket.socket) -> socket.socket | None:
    """The next connection, or None once the service's end of `channel` is closed. EPOLLEXCLUSIVE:
    a connection wakes one of the waiting spares (rarely more: the others find nothing to accept)."""
    poller = select.epoll(2)
    poller.register(listener, select.EPOLLIN | select.EPOLLEXCLUSIVE)
    poller.register(channel, select.EPOLLIN)
    try:
        while True:
            ready = {fd for fd, _ in poller.poll()}
            if channel.fileno() in ready:
                return None
            try:
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                continue
            conn.setblocking(True)
            return conn
    finally:
        poller.close()


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

"""The monitor: one process per engine root that parents, reaps and logs every detached container.

Why one per root and not one per container (conmon's design): a Python process costs about 4.4 MB
PSS, conmon 0.56 MB; one monitor shared by N containers costs (its RSS)/N, about 0.1 MB each at 100
containers (bench/idle_cost.py). It is single-threaded (DESIGN: no threads where containers are
forked): one epoll loop over the listening socket, the containers' output pipes and SIGCHLD.

    CLI ──unix socket──► monitor (child subreaper) ──fork──► launch worker: runtime create + start
                            ▲  │ reaps the init                 (then exits: the init is reparented
                            │  └─fork──► exit worker: record the exit, tear down, restart?  to us)
                            └── stdout/stderr pipes → <container>/<id>-json.log

Everything heavy (SQLite, the runtime) runs in the short-lived forked workers, so the monitor itself
stays small. It exits by itself once it has had nothing to watch for MYDOCKER_MONITOR_IDLE seconds.
If it is killed, its containers keep running (reparented to the host's init); `ps` then reads the
truth from the processes and `rm -f` still cleans up (records are written before anything exists).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import select
import signal
import socket
import sys
import time
from _collections_abc import Callable  # not collections.abc: it imports all of collections

from mydocker.engine.monitor_client import LOCK, LOG, SOCKET, idle_timeout
from mydocker.lazy import lazy_module

traceback = lazy_module("traceback")
engine = lazy_module("mydocker.engine.engine")
health = lazy_module("mydocker.engine.health")
importlib = lazy_module("importlib")
gc = lazy_module("gc")
fs = lazy_module("mydocker.linux.fs")
resource = lazy_module("resource")
sc = lazy_module("mydocker.linux.syscalls")
libc = lazy_module("mydocker.linux.libc")
observation = lazy_module("mydocker.engine.observation")
api = lazy_module("mydocker.runtime.api")
logs = lazy_module("mydocker.engine.logs")

RESTART = 3                         # an exit worker's code asking for a restart
_NOFILE = (1024, 1024)             # the open-files limit the monitor was started with
_LOG_DRAIN = 1.0                    # seconds to wait for a dead container's last output
_MAX = 1 << 16
_SPARE_KEEP = 10.0                  # seconds spare workers are kept after the last launch or exit
_SPARES = 2                         # a container's launch and its exit each find one
SPARE_NAME = b"mydocker-spare"      # a spare's process name while it waits for a job


# --- the monitor itself ------------------------------------------------------------------------

class _Container:
    def __init__(self, cid: str, params: dict, writer) -> None:
        self.id = cid
        self.params = params
        self.writer = writer
        self.pid = 0
        self.status: int | None = None   # wait status once the init is reaped
        self.exited_at = 0.0
        self.streams: set[int] = set()
        self.stdin_w = -1
        self.console = -1                # the pty master (-t): output read here, input written by attachers
        self.launching = True
        self.launch_began = 0.0          # monotonic time of the last launch: its init exits after it
        self.started_at = 0.0
        self.backoff = 0.1
        self.restart_at = 0.0
        self.exiting = False             # an exit worker is tearing it down
        self.pending = None              # a launch request that waits for that worker
        self.next_probe = 0.0            # monotonic time of the next healthcheck (0: none due)
        self.probing = False             # a health worker runs its healthcheck now
        self.watched = -1                # pidfd of a foreground run's init whose health we only probe


class Monitor:
    def __init__(self, root: str, runroot: str, lock_fd: int = -1) -> None:
        self.lock_fd = lock_fd
        self.root = root
        self.runroot = runroot
        # recorded with each container: `ps` knows whether we still watch it
        self.me = observation.identity(os.getpid())
        self.ep = select.epoll()
        self.handlers: dict[int, object] = {}
        self.containers: dict[str, _Container] = {}
        self.inits: dict[int, str] = {}
        self.workers: dict[int, tuple[str, str]] = {}
        # pid -> (wait status, monotonic time reaped) of children no container claimed yet: an init
        # that exited before its worker said "started", or an orphan re-parented to us
        self.unknown: dict[int, tuple[int, float]] = {}
        self.prewarms: set[int] = set()   # our attach-lock prewarm shell (_park_prewarm), reaped if it exits
        self.spares: list[tuple[int, socket.socket]] = []   # (pid, channel): workers forked ahead of their jobs
        self.last_job = 0.0               # monotonic time of the last launch or exit handed to a worker
        self.idle_since = time.monotonic()

    # fds
    def watch(self, fd: int, handler) -> None:
        self.handlers[fd] = handler
        self.ep.register(fd, select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR)

    def unwatch(self, fd: int) -> None:
        if self.handlers.pop(fd, None) is not None:
            self.ep.unregister(fd)
            os.close(fd)

    def serve(self, listener: socket.socket) -> None:
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)   # only SIGKILL ends a monitor mid-work
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        self.listener = listener
        self.wake = (wake_r, wake_w)
        self.handlers[listener.fileno()] = self._accept
        self.ep.register(listener.fileno(), select.EPOLLIN)
        self.watch(wake_r, self._reap)
        self._park_prewarm()
        while True:
            self._reap(None)
            now = time.monotonic()
            for c in list(self.containers.values()):
                if c.next_probe and now >= c.next_probe and c.pid and not c.probing and not c.launching:
                    self._probe(c)
                if c.restart_at and now >= c.restart_at:
                    c.restart_at = 0.0
                    self._launch(c, None)
                if c.status is not None and not c.launching and (not c.streams or now > c.exited_at + _LOG_DRAIN):
                    self._finish(c)
            if self.containers or self.workers:
                self.idle_since = now
            elif now - self.idle_since > idle_timeout():
                return
            self._keep_spares(now)
            busy = any(c.status is not None or c.restart_at for c in self.containers.values())
            probes = [c.next_probe for c in self.containers.values() if c.next_probe and not c.probing]
            wait = 0.05 if busy else min([1.0, *(max(0.0, t - now) for t in probes)])
            try:
                events = self.ep.poll(wait)
            except InterruptedError:
                continue
            for fd, _mask in events:
                handler = self.handlers.get(fd)
                if handler is not None:
                    handler(fd)

    def _accept(self, _fd: int) -> None:
        try:
            conn, _ = self.listener.accept()
        except BlockingIOError:
            return
        conn.setblocking(True)
        conn.settimeout(5)
        try:
            msg = json.loads(conn.recv(_MAX) or b"null")
            conn.send(b'{"accepted": true}')
        except (OSError, ValueError):
            conn.close()
            return
        if msg and msg.get("op") == "input":
            self._hand_input(conn, msg.get("id"))
            return
        if msg and msg.get("op") == "watch":
            self._watch(msg, conn)
            return
        if not msg or msg.get("op") != "launch":
            conn.send(json.dumps({"error": "invalid", "message": "unknown monitor request"}).encode())
            conn.close()
            return
        cid = msg["id"]
        c = self.containers.get(cid)
        if c is not None and (c.pid or c.launching):
            conn.send(json.dumps({"error": "conflict", "message": f"container {cid} is already running"}).encode())
            conn.close()
            return
        if c is None:
            log = msg.get("log") or {}
            c = self.containers[cid] = _Container(cid, msg, logs.LogWriter(msg["log_path"], log.get("max_size", 0),
                                                                           log.get("max_file", 1)))
        c.params = msg
        c.restart_at = 0.0
        if c.exiting:
            c.pending = conn  # launched once the last run's teardown is over
            return
        self._launch(c, conn)

    def _hand_input(self, conn: socket.socket, cid) -> None:
        """An attaching client gets the container's input: a dup of the stdin pipe's write end or of
        the console. With StdinOnce, the pipe is handed over (ours is closed): the container's stdin
        ends when that client's does, as Docker's."""
        c = self.containers.get(cid)
        fd = -1 if c is None or not c.pid else (c.console if c.params.get("tty") else c.stdin_w)
        try:
            if fd < 0:
                conn.send(json.dumps({"error": "notrunning",
                                      "message": f"container {cid} has no input to attach"}).encode())
                return
            socket.send_fds(conn, [b'{"input": true}'], [fd])
            if c.params.get("stdin_once") and fd == c.stdin_w:
                os.close(c.stdin_w)
                c.stdin_w = -1
        except OSError:
            pass
        finally:
            conn.close()

    def _watch(self, msg: dict, conn: socket.socket) -> None:
        """A foreground `run`'s container (not our child): probe its healthcheck until its init exits,
        which its pidfd tells the epoll loop."""
        cid, pid = msg["id"], msg["pid"]
        try:
            if cid in self.containers:
                raise FileExistsError(f"container {cid} is watched already")
            pidfd = os.pidfd_open(pid)
        except OSError as e:
            conn.send(json.dumps({"error": "conflict", "message": str(e)}).encode())
            conn.close()
            return
        c = self.containers[cid] = _Container(cid, msg, None)
        c.pid, c.launching, c.watched = pid, False, pidfd
        c.started_at = time.monotonic()
        c.next_probe = c.started_at + msg["health_interval"]

        def gone(fd: int) -> None:
            self.unwatch(fd)
            c.watched, c.pid, c.next_probe = -1, 0, 0.0
            if not c.probing:
                self._drop(c)
        self.watch(pidfd, gone)
        conn.send(b'{"ok": true}')
        conn.close()

    def _launch(self, c: _Container, conn: socket.socket | None) -> None:
        """Fork a worker that creates and starts the container with pipes we read. (Its init is placed
        without the kernel's attach lock, runtime/process.py; one moved by pid, a user namespace's,
        kicks our parked prewarm shell from the worker's `create`.)"""
        tty, interactive = c.params.get("tty"), c.params.get("interactive")
        stdio = [-1, -1, -1]
        ours = []
        if interactive and not tty:
            r, c.stdin_w = os.pipe2(os.O_CLOEXEC)
            stdio[0] = r
        if not tty:
            for i in (1, 2):
                r, w = os.pipe2(os.O_CLOEXEC)
                stdio[i] = w
                ours.append((r, "stdout" if i == 1 else "stderr"))
        parent, child = api.channel_pair()
        c.launching = True
        c.launch_began = time.monotonic()
        c.status = None
        fds = [fd for fd in stdio if fd >= 0] + [child.fileno()] + ([conn.fileno()] if conn is not None else [])
        pid = self._hand({"op": "launch", "id": c.id, "stdio": [fd >= 0 for fd in stdio], "conn": conn is not None},
                         fds)
        if pid is None:
            def launch() -> int:
                parent.close()
                return _launch_worker(_service(self.root, self.runroot), c.id, stdio, child, conn, self.me)
            pid = self._fork_worker(launch, f"launching {c.id}")
        self.workers[pid] = ("launch", c.id)
        child.close()
        if conn is not None:
            conn.close()
        for fd in stdio:
            if fd >= 0:
                os.close(fd)
        for fd, stream in ours:
            c.streams.add(fd)
            self.watch(fd, self._reader(c, stream))
        self.watch(parent.sock.detach(), self._channel(c))

    def _park_prewarm(self) -> None:
        """Our prewarm shell (runtime/prewarm.py), parked: a worker's `create` that moves its init by
        pid (a user namespace's) kicks it."""
        warm = api.prewarm_attach_lock(move=False)
        if warm is not None:
            self.prewarms.add(warm)

    def _fork_worker(self, work: Callable[[], int], what: str) -> int:
        """Fork a worker that runs `work` and exits with its code (1 if it raised: the error `what`
        goes to monitor.log); its pid."""
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                self._in_child()
                code = work()
            except BaseException:  # noqa: BLE001 - to monitor.log
                _log_exception(what)
            finally:
                os._exit(code)
        return pid

    def _in_child(self) -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, _NOFILE)  # containers get the limit a `run` would give
        gc.disable()  # a worker lives for milliseconds: collecting would only copy the monitor's pages
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        self.ep.close()
        for fd in [*self.handlers, self.wake[1], self.lock_fd]:
            if fd >= 0:
                os.close(fd)
        for c in self.containers.values():
            if c.stdin_w >= 0:
                os.close(c.stdin_w)
        for _pid, channel in self.spares:  # a spare's end-of-file is the monitor's exit, not ours
            channel.close()

    # spare workers

    def _keep_spares(self, now: float) -> None:
        """_SPARES spare workers while launches and exits come (within _SPARE_KEEP of the last), none
        after. Forked only while no worker runs: a fork and a spare's start-up beside a launch or an
        exit would take the CPU from it (2 cores here), so they come between containers' jobs."""
        wanted = now - self.last_job < _SPARE_KEEP
        while wanted and len(self.spares) < _SPARES and not self.workers:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
            def spare() -> int:
                ours.close()
                return _spare_worker(self.root, self.runroot, theirs, self.me)
            pid = self._fork_worker(spare, "in a spare worker")
            theirs.close()
            self.spares.append((pid, ours))
        if not wanted:
            for _pid, channel in self.spares:
                channel.close()  # end-of-file: it exits, reaped as any child
            self.spares.clear()

    def _hand(self, job: dict, fds: list[int]) -> int | None:
        """Give `job` (its fds passed along) to a spare; its pid, or None when there is none (fork)."""
        self.last_job = time.monotonic()
        if not self.spares:
            return None
        pid, channel = self.spares.pop(0)
        try:
            if fds:
                socket.send_fds(channel, [json.dumps(job).encode()], fds)
            else:
                channel.send(json.dumps(job).encode())
        except OSError:  # it died: the caller forks as before
            return None
        finally:
            channel.close()
        return pid

    def _reader(self, c: _Container, stream: str):
        def read(fd: int) -> None:
            try:
                data = os.read(fd, _MAX)
            except OSError as e:
                data = b"" if e.errno == errno.EIO else None  # EIO: the pty's last slave closed
                if data is None:
                    raise
            if data:
                c.writer.feed(stream, data)
                if fd == c.console:  # a prompt has no newline: an attached client must see it now
                    c.writer.flush(stream)
                return
            c.writer.flush(stream)
            c.streams.discard(fd)
            if fd == c.console:
                c.console = -1
            self.unwatch(fd)
        return read

    def _channel(self, c: _Container):

        def receive(fd: int) -> None:
            ch = api.channel(socket.socket(fileno=os.dup(fd)))
            try:
                msg, fds = ch.recv()
            finally:
                ch.close()
            if msg is None:
                self.unwatch(fd)
                return
            if msg.get("type") == "started":
                c.pid = msg["pid"]
                c.started_at = time.monotonic()
                interval = c.params.get("health_interval") or 0
                c.next_probe = c.started_at + interval if interval else 0.0  # the first probe after one interval
                self.inits[c.pid] = c.id
                for console in fds:
                    os.set_blocking(console, False)
                    c.console = console
                    c.streams.add(console)
                    self.watch(console, self._reader(c, "stdout"))
                status = self._claim(c.pid, c.launch_began)
                if status is not None:
                    self._exited(c, status)
        return receive

    def _reap(self, fd: int | None) -> None:
        if fd is not None:
            try:
                while os.read(fd, 512):
                    pass
            except BlockingIOError:
                pass
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in self.workers:
                self._worker_done(pid, status)
            elif pid in self.prewarms:
                self.prewarms.discard(pid)
            elif any(pid == spare for spare, _ in self.spares):  # died waiting: another is forked
                for spare in [s for s in self.spares if s[0] == pid]:
                    spare[1].close()
                    self.spares.remove(spare)
            elif pid in self.inits:
                self._exited(self.containers[self.inits.pop(pid)], status)
            else:
                self.unknown.pop(pid, None)   # re-inserted last: the oldest stays first
                self.unknown[pid] = (status, time.monotonic())
                if len(self.unknown) > 1000:
                    self.unknown.pop(next(iter(self.unknown)))

    def _claim(self, pid: int, since: float) -> int | None:
        """The wait status of `pid` if it was reaped at or after `since` (its launch began): pids are
        reused, and an orphan reaped before is another process that had this pid."""
        status, reaped_at = self.unknown.pop(pid, (None, 0.0))
        return status if status is not None and reaped_at >= since else None

    def _exited(self, c: _Container, status: int) -> None:
        self.inits.pop(c.pid, None)
        c.pid = 0
        c.next_probe = 0.0
        c.status = status
        c.exited_at = time.monotonic()
        if c.stdin_w >= 0:
            os.close(c.stdin_w)
            c.stdin_w = -1

    def _worker_done(self, pid: int, status: int) -> None:
        kind, cid = self.workers.pop(pid)
        c = self.containers.get(cid)
        if c is None:
            return
        if kind == "health":
            c.probing = False
            interval = c.params.get("health_interval") or 0
            c.next_probe = time.monotonic() + interval if interval and c.pid else 0.0
            if c.writer is None and c.watched < 0:  # a watched foreground run that ended meanwhile
                self._drop(c)
            return
        code = os.waitstatus_to_exitcode(status)
        if kind == "launch":
            c.launching = False
            if code != 0:  # it reported and cleaned up: nothing runs
                self._drop(c)
            return
        c.exiting = False
        if c.pending is not None:
            conn, c.pending = c.pending, None
            self._launch(c, conn)
            return
        if code == RESTART and c.id in self.containers:
            ran = time.monotonic() - c.started_at
            c.backoff = 0.1 if ran > 10 else min(c.backoff * 2, 60.0)
            c.restart_at = time.monotonic() + c.backoff
            c.status = None
            c.pid = 0
            return
        self._drop(c)

    def _probe(self, c: _Container) -> None:
        """Fork a worker that runs the container's healthcheck once (engine/health.py) and records it."""
        c.probing = True
        pid = self._fork_worker(lambda: _health_worker(self.root, self.runroot, c.id),
                                f"probing the health of {c.id}")
        self.workers[pid] = ("health", c.id)

    def _finish(self, c: _Container) -> None:
        """The init is gone and its output drained: a worker records the exit and tears down."""
        status, c.status = c.status, None
        for fd in list(c.streams):
            self.unwatch(fd)
        c.streams.clear()
        c.console = -1
        c.writer.flush("stdout")
        c.writer.flush("stderr")
        code = os.waitstatus_to_exitcode(status)
        code = 128 - code if code < 0 else code
        pid = self._hand({"op": "exit", "id": c.id, "code": code}, [])
        if pid is None:
            pid = self._fork_worker(lambda: _exit_worker(_service(self.root, self.runroot), c.id, code),
                                    f"recording the exit of {c.id}")
        self.workers[pid] = ("exit", c.id)
        c.exiting = True

    def _drop(self, c: _Container) -> None:
        for fd in list(c.streams):
            self.unwatch(fd)
        c.streams.clear()
        c.console = -1
        if c.stdin_w >= 0:
            os.close(c.stdin_w)
        self.inits.pop(c.pid, None)
        if c.watched >= 0:
            self.unwatch(c.watched)
        try:
            if c.writer is not None:  # None: a watched foreground run, whose output is not ours
                c.writer.close()
        except OSError:
            pass
        self.containers.pop(c.id, None)


def _log_exception(what: str) -> None:
    sys.stderr.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} mydocker monitor: error {what}:\n{traceback.format_exc()}")
    sys.stderr.flush()


def _service(root: str, runroot: str):
    return engine.Engine(root=root, runroot=runroot).containers


def _spare_worker(root: str, runroot: str, channel: socket.socket, me: str) -> int:
    """A worker forked ahead of its job: its engine's database opened and a first statement run (a
    forked worker's first took 2-3 ms here, more under load) while it waits; then the job the
    monitor hands it (a launch with its fds, or an exit), done as a forked worker would; at
    end-of-file (the monitor exits or has no more use for it), nothing."""
    _set_name(SPARE_NAME)  # told apart from the workers (tests, ps)
    service = _service(root, runroot)
    try:
        service.records.get_container("")
    except Exception:  # noqa: BLE001 - the job meets (and reports) the error itself
        pass
    data, fds, _flags, _addr = socket.recv_fds(channel, _MAX, 8)
    channel.close()
    if not data:
        return 0
    job = json.loads(data)
    _set_name(b"mydocker-monitor")  # a worker now, named as the forked ones
    if job["op"] == "exit":
        return _exit_worker(service, job["id"], job["code"])
    given = iter(fds)
    stdio = [next(given) if present else -1 for present in job["stdio"]]
    ch = api.channel(socket.socket(fileno=next(given)))
    conn = socket.socket(fileno=next(given)) if job["conn"] else None
    return _launch_worker(service, job["id"], stdio, ch, conn, me)


def _set_name(name: bytes) -> None:
    """This process's name (comm, 15 bytes at most) as ps shows it."""
    buffer = libc.buffer(name[:15] + b"\0")
    sc.prctl(sc.PR_SET_NAME, libc.addressof(buffer))


def _launch_worker(service, cid: str, stdio: list[int], ch, conn, me: str) -> int:
    reply = service.lifecycle.launch(cid, stdio, ch, me)
    if conn is not None:
        try:
            conn.send(json.dumps(reply).encode())
        except OSError:
            pass
    return 0 if "pid" in reply else 1


def _health_worker(root: str, runroot: str, cid: str) -> int:
    health.probe(_service(root, runroot), cid)
    return 0


def _exit_worker(service, cid: str, code: int) -> int:
    return RESTART if service.lifecycle.exited(cid, code) else 0


# What the forked workers run, imported once here: each fork then starts warm (about 30 ms less per
# run -d and per exit). The pages are shared with the workers (copy-on-write); bench/idle_cost.py
# measures what they add to the monitor.
_PRELOAD = ("mydocker.engine.engine", "mydocker.engine.containers", "mydocker.engine.database",
            "mydocker.runtime.api", "mydocker.runtime.create", "mydocker.runtime.start", "mydocker.runtime.delete",
            "mydocker.runtime.kill", "mydocker.runtime.stats", "mydocker.runtime.validate", "mydocker.runtime.schema",
            "mydocker.runtime.cgroups.v1", "mydocker.runtime.cgroups.v2", "mydocker.engine.networks",
            "mydocker.engine.volumes", "mydocker.engine.health", "mydocker.engine.lifecycle",
            # a bridge endpoint's teardown at each exit: 3 ms of imports per `stop` otherwise
            "mydocker.engine.network_endpoints", "mydocker.engine.network_firewall", "mydocker.network.bridge",
            "mydocker.network.etcfiles", "mydocker.network.firewall", "mydocker.network.ipam",
            "mydocker.network.links", "mydocker.network.netlink", "mydocker.network.netns",
            "mydocker.image.snapshot", "mydocker.linux.fs",
            # each launch: the container's init and what config.json may ask of it (4 ms per `run -d`)
            "mydocker.engine.userns", "mydocker.network.ports", "mydocker.runtime.init", "mydocker.runtime.hooks",
            "mydocker.runtime.mountopts", "mydocker.runtime.seccomp", "mydocker.runtime.prewarm",
            # the start event each launch tells, the die and destroy events each exit tells
            "mydocker.engine.events")


def _preload() -> None:
    for name in _PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a module another engineer renamed: the worker imports what it needs
            _log_exception(f"preloading {name}")
    gc.freeze()  # the collector in a forked worker then leaves these pages alone (fewer copy-on-write faults)


def main() -> None:
    root, runroot, ready = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.makedirs(runroot, mode=0o711, exist_ok=True)
    lock = os.open(os.path.join(runroot, LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os._exit(0)  # another monitor serves this root: the client connects to it
    global _NOFILE
    _NOFILE = resource.getrlimit(resource.RLIMIT_NOFILE)
    # Three fds per container (two pipes and its log): raise the soft limit to the hard one we may use.
    resource.setrlimit(resource.RLIMIT_NOFILE, (_NOFILE[1], _NOFILE[1]))
    sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)  # every init is reparented to us when its creator exits
    _set_name(b"mydocker-monitor")
    os.ftruncate(lock, 0)
    os.write(lock, f"{os.getpid()}\n".encode())  # for `ps`, tests and humans: who monitors this root
    path = os.path.join(runroot, SOCKET)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)
    try:  # inline, not linux/fs.remove_file: that module loads with _preload, after the client is told we are up
        os.unlink(path)
    except FileNotFoundError:
        pass
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(128)
    os.write(ready, b"1")
    os.close(ready)
    _preload()
    try:
        Monitor(root, runroot, lock).serve(listener)
    finally:
        fs.remove_file(path)  # new clients start a new monitor; it takes the lock once we are gone
        listener.close()
    os._exit(0)


if __name__ == "__main__":
    main()

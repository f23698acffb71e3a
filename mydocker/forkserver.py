"""A warm front end: its modules imported once, a forked child per command (the client's side, and
why: mydocker/forkserver_client.py). Each front end that has one names what to load and how to run a
command (`mydocker/cli/forkserver.py`, `mydocker/runtime/forkserver.py`); this module is the rest.

One server per front end and installed package, started by a command that found none, listening on a
socket in a directory only its user can reach. For each connection it forks; the child checks that
the client runs in the server's namespaces, root directory, credentials, capabilities, no_new_privs,
seccomp mode and locale, and whatever else the front end asks (else it declines and the client runs
the command itself), then takes on what a fresh process would have inherited from the client
(streams, working directory, environment, umask, rlimits, OOM score, CPU affinity, nice value, ignored
and blocked signals) and runs the command. The child reports its own exit code as it leaves; the
server reports each child's wait status to its client too (a child killed by a signal cannot). What
differs from an in-process command: the child's cgroup, session and parent are the server's (a
container's own cgroups are made for it either way). The server exits IDLE seconds after its last
command, or at once when its code changed on disk, so that a command never runs stale code.
"""

from __future__ import annotations

import fcntl
import gc
import os
import select
import signal
import socket
import sys
from collections.abc import Callable

from mydocker import forkserver_client as client
from mydocker import forkserver_pages

# What must match between a client and the server, from /proc/<pid>/status.
_STATUS_SAME = (b"Uid:", b"Gid:", b"Groups:", b"CapInh:", b"CapPrm:", b"CapEff:", b"CapBnd:", b"CapAmb:",
                b"NoNewPrivs:", b"Seccomp:")
_NAMESPACES = ("mnt", "net", "pid", "pid_for_children", "user", "uts", "ipc", "cgroup", "time")
_LOCALE = (b"LC_ALL", b"LC_CTYPE", b"LANG")


class FrontEnd:
    """What a front end's server runs: `preload()` once; per command, `same(peer)` (may the client's
    command run here? beyond what every front end checks) and `run()` (with sys.argv, streams and
    environment the client's; leaves through mydocker.exit.exit_now)."""

    def __init__(self, name: bytes, preload: Callable[[], None], run: Callable[[], None],
                 same: Callable[[int], bool] = lambda peer: True) -> None:
        self.name, self.preload, self.run, self.same = name, preload, run, same


def _sources() -> dict[str, tuple[int, int]]:
    """(mtime_ns, size) of the source of every module of ours loaded: an edit makes the server stale."""
    found = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and getattr(module, "__name__", "").startswith("mydocker"):
            try:
                st = os.stat(path)
            except OSError:
                continue
            found[path] = (st.st_mtime_ns, st.st_size)
    return found


def _stale(sources: dict[str, tuple[int, int]]) -> bool:
    for path, seen in sources.items():
        try:
            st = os.stat(path)
        except OSError:
            return True
        if (st.st_mtime_ns, st.st_size) != seen:
            return True
    return False


def main(package_dir: str, front: FrontEnd) -> None:
    # What the command that started us had open and did not mark close-on-exec (a caller's pipe
    # passed down to it): a server lingering IDLE seconds must not keep it open.
    os.closerange(3, 1 << 30)
    os.chdir("/")
    path = client.socket_path(package_dir, front.name)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    if os.stat(os.path.dirname(path)).st_uid != os.geteuid():
        return  # someone else's directory: never listen where another user could stand in
    lock = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return  # another server is starting or serving
    os.ftruncate(lock, 0)
    os.write(lock, str(os.getpid()).encode())  # for stop_server
    import resource  # noqa: F401 - _adopt's, when a client's rlimits differ
    front.preload()
    gc.disable()
    gc.freeze()  # children's collections (if any) leave the preloaded objects' pages shared
    sources = _sources()
    _unlink(path)  # a dead server's
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    listener.bind(path)
    listener.listen(64)
    server = _Server(listener, path, sources, lock, front)
    try:
        server.run()
    finally:
        server.stop()


class _Server:
    """The serving loop. A spare child, forked ahead, blocks in accept(2) on the listener; once it has
    a client it sends the server its pid and the connection (SCM_RIGHTS) and goes on to run the
    command, while the server reports the child's exit status to its client, and kills the child if
    the client goes first. The next spare is forked once that command has ended, or at once when
    another client is waiting: not while the command runs, whose CPU (two here) it would share."""

    def __init__(self, listener: socket.socket, path: str, sources: dict[str, tuple[int, int]], lock: int,
                 front: FrontEnd) -> None:
        self.listener, self.path, self.sources, self.lock, self.front = listener, path, sources, lock, front
        self.idle = float(os.environ.get("MYDOCKER_FORKSERVER_IDLE", client.IDLE))
        self.reports, self.report_w = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.clients: dict[int, socket.socket] = {}  # a served child's pid -> the connection its status goes to
        self.by_fd: dict[int, int] = {}  # a connection's fd -> its child's pid
        self.spare: int | None = None
        self.stopping = False
        self.poller = select.poll()
        self.listening = listener.fileno()
        self.watched = False  # the listener is polled: no spare, and a client that comes forks one
        self.written = b""  # the pages the last command's child wrote (forkserver_pages): the next spare's
        self.leaving: set[int] = set()  # children that have told their client its status

    def run(self) -> None:
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so that the wakeup fd hears of exits
        signal.signal(signal.SIGTERM, lambda *_: self.stop())  # stop_server: finish, then leave
        self.poller.register(self.wake_r, select.POLLIN)
        self.poller.register(self.reports.fileno(), select.POLLIN)
        self.spare = self._fork_spare()
        while self.clients or not self.stopping:
            events = self.poller.poll(None if self.clients or self.stopping else self.idle * 1000)
            if not events and not self.clients:
                self.stop()  # idle
            for fd, _ in events:
                if fd == self.wake_r:
                    _drain(fd)
                elif fd == self.reports.fileno():
                    self._take_reports()
                elif fd == self.listening:  # a client waits, and no spare: fork it now
                    self._fork_next()
                elif fd in self.by_fd:
                    self._client_gone(fd)
            self._report_exits()
        if self.spare is not None:  # one forked as a stop came
            _kill(self.spare)
        signal.set_wakeup_fd(-1)

    def stop(self) -> None:
        """Take no more clients (none may queue where nobody accepts: it would wait for ever), and let
        a new server start while this one waits for the commands it runs."""
        if self.stopping:
            return
        self.stopping = True
        self._watch_listener(False)
        _unlink(self.path)
        self.listener.close()
        _unlink(f"{self.path}.lock")  # while held: a server starting now makes its own
        os.close(self.lock)
        if self.spare is not None:
            _kill(self.spare)  # blocked in accept: a client it took just now runs its command itself

    def _client_gone(self, fd: int) -> None:
        """The client on connection `fd` hung up: killed (its command goes too, as in-process), or it had
        its status from the child, which is leaving (let it: it tells us what pages it wrote)."""
        self.poller.unregister(fd)
        self._take_reports()  # the child says it is leaving before it tells its client
        pid = self.by_fd.pop(fd)
        if pid not in self.leaving:
            _kill(pid)

    def _take_reports(self) -> None:
        while True:
            try:
                message, ancillary, _flags, _addr = self.reports.recvmsg(1 << 16, socket.CMSG_SPACE(4),
                                                                         socket.MSG_DONTWAIT)
            except BlockingIOError:  # not socket.recv_fds: it drops its flags (3.11), and would block here
                return
            self._take_report(message, _received_fds(ancillary))

    def _take_report(self, message: bytes, fds: list[int]) -> None:
        pid = int.from_bytes(message[1:5], sys.byteorder)
        if message[:1] == b"X":  # a child about to tell its client the status: its client may go now
            self.leaving.add(pid)
            return
        if message[:1] == b"W":  # a child leaving: the pages it wrote
            self.written = message[5:]
            return
        if pid == self.spare:
            self.spare = None
        if message[:1] == b"S":  # the spare found our code stale: it declined its client
            self.stop()
        elif fds:
            conn = socket.socket(fileno=fds[0])
            self.clients[pid] = conn
            self.by_fd[conn.fileno()] = pid
            self.poller.register(conn.fileno(), select.POLLRDHUP)  # not POLLIN: the request may be unread yet
        if self.spare is None and not self.stopping:
            self._watch_listener(True)  # the next spare comes when this command ends, or a client does

    def _report_exits(self) -> None:
        self._take_reports()  # a child reports its client before it can exit: no status may find no client
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if not pid:
                return
            if pid not in self.clients:
                # A child sends its report before it can exit: one reaped before we read its report
                # (it declined, or died, at once) has it queued now. Registered after the reap, its
                # client would wait for ever for a status, and so would this server.
                self._take_reports()
            if pid == self.spare:  # killed, or died before it had a client
                self.spare = None
            if self.spare is None and not self.stopping:
                self._fork_next()
            self.leaving.discard(pid)
            conn = self.clients.pop(pid, None)
            if conn is None:
                continue
            try:
                conn.sendall(client.EXITED + status.to_bytes(4, sys.byteorder))
            except OSError:  # the client has gone (killed): nobody waits for the status
                pass
            if self.by_fd.pop(conn.fileno(), None) is not None:
                self.poller.unregister(conn.fileno())
            conn.close()

    def _watch_listener(self, on: bool) -> None:
        if on and not self.watched:
            self.poller.register(self.listening, select.POLLIN)
        elif self.watched and not on:
            self.poller.unregister(self.listening)
        self.watched = on

    def _fork_next(self) -> None:
        self._watch_listener(False)
        if self.spare is None and not self.stopping:
            self.spare = self._fork_spare()

    def _fork_spare(self) -> int:
        server = os.getpid()
        pid = os.fork()
        if pid:
            return pid
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            for fd in (self.lock, self.wake_r, self.wake_w, self.reports.fileno(),
                       *(conn.fileno() for conn in self.clients.values())):  # watched or not
                os.close(fd)
            waiting = select.poll()
            waiting.register(self.listener.fileno(), select.POLLIN)
            # what the last child wrote, copied while nobody waits
            forkserver_pages.populate(self.written, lambda: bool(waiting.poll(0)))
            own = _Own()  # before a client waits: what it will be compared with
            conn, _ = self.listener.accept()
            self.listener.close()
            if _stale(self.sources) or os.getppid() != server:  # new code, or the server is gone
                self.report_w.send(b"S" + os.getpid().to_bytes(4, sys.byteorder))
                _decline(conn)
                os._exit(0)
            socket.send_fds(self.report_w, [b"T" + os.getpid().to_bytes(4, sys.byteorder)], [conn.fileno()])
            _serve_client(conn, self.front, own, self.report_w)
        except BaseException as e:  # noqa: BLE001 - nothing of the server's may run on in a child
            try:
                os.write(2, f"mydocker: {e}\n".encode(errors="replace"))
            finally:
                os._exit(125)
        os._exit(125)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)  # our own child
    except ProcessLookupError:
        pass


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 256):
            pass
    except BlockingIOError:
        pass


def _decline(conn: socket.socket) -> None:
    try:
        conn.sendall(client.FALLBACK)
    except OSError:
        pass
    conn.close()


def _received_fds(ancillary) -> list[int]:
    fds = []
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.extend(int.from_bytes(data[i:i + 4], sys.byteorder) for i in range(0, len(data) - len(data) % 4, 4))
    return fds


def _serve_client(conn: socket.socket, front: FrontEnd, own: _Own, report: socket.socket) -> None:
    """In the spare that took `conn`: read the command, check and adopt the client's process, run it."""
    message, ancillary, _flags, _addr = conn.recvmsg(1 << 20, socket.CMSG_SPACE(4 * 4))
    fds = _received_fds(ancillary)
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
    peer = int.from_bytes(creds[:4], sys.byteorder)
    if len(fds) != 4 or not message.startswith(client.PROTOCOL + b"\0"):
        _decline(conn)
        os._exit(0)
    name, argv, env, umask = _fields(message)
    try:
        theirs = _status_lines(peer)
        same = name == front.name and _same_context(peer, theirs, own, env) and front.same(peer)
    except OSError:  # the client has gone
        same = False
    if not same:
        _decline(conn)
        os._exit(0)
    _adopt(peer, theirs, own, argv, env, umask, fds)
    os.setpgid(0, 0)  # a group of its own: the client's terminal signals reach it and what it forks
    conn.sendall(client.SERVED + os.getpid().to_bytes(4, sys.byteorder))
    from mydocker import exit as mydocker_exit
    mydocker_exit.last_words = lambda code, served=os.getpid(): _report_exit(conn, code, served, report)
    front.run()  # leaves through exit_now: flushes, reports, then _exit


def _report_exit(conn: socket.socket, code: int, served: int, report: socket.socket) -> None:
    """The status the server would report once this process has gone (an exit, not a signal), sent now:
    the client leaves without waiting for our teardown and the server's wake-up. Not from a process the
    command forked (a supervisor leaving through exit_now): its exit is not the command's. Then, the
    client gone, the pages we wrote go to the server for its next spare (forkserver_pages)."""
    if os.getpid() != served:
        return
    try:
        report.send(b"X" + served.to_bytes(4, sys.byteorder))  # first: once told, the client leaves
    except OSError:
        pass  # the server has gone
    try:
        conn.sendall(client.EXITED + ((code & 0xFF) << 8).to_bytes(4, sys.byteorder))
    except OSError:
        pass  # the client has gone; the server's report finds nobody either
    try:
        # bookkeeping now, not the client's: at the lowest priority, so that the client, woken just
        # now, and the next one starting, take the CPUs first (2 here)
        os.setpriority(os.PRIO_PROCESS, 0, 19)
        report.send(b"W" + served.to_bytes(4, sys.byteorder) + forkserver_pages.written())
    except OSError:
        pass  # only the next spare's head start is lost


def read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _status_lines(pid: int | str) -> dict[bytes, bytes]:
    return {line.split(b"\t", 1)[0]: line for line in read(f"/proc/{pid}/status").splitlines(keepends=True)}


class _Own:
    """What a spare compares a client with and adopts from it, read from its own process before it
    accepts one (after, only the client's side is read)."""

    def __init__(self) -> None:
        self.status = _status_lines("self")
        self.namespaces = {}
        for ns in _NAMESPACES:
            try:
                self.namespaces[ns] = os.readlink(f"/proc/self/ns/{ns}")
            except FileNotFoundError:  # a kernel without this namespace type
                continue
        root = os.stat("/")
        self.root = (root.st_dev, root.st_ino)
        self.limits = read("/proc/self/limits")
        self.oom_score_adj = read("/proc/self/oom_score_adj")


def _same_context(peer: int, theirs: dict[bytes, bytes], own: _Own, env: list[bytes]) -> bool:
    """Does the client (its /proc status `theirs`, its environment `env`) run where and as this process
    does? Anything else is not ours to stand in for."""
    if any(theirs.get(key) != own.status.get(key) for key in _STATUS_SAME):
        return False
    try:
        for ns, link in own.namespaces.items():
            if os.readlink(f"/proc/{peer}/ns/{ns}") != link:
                return False
        root = os.stat(f"/proc/{peer}/root")
        if (root.st_dev, root.st_ino) != own.root:
            return False
    except OSError:
        return False
    variables = dict(item.split(b"=", 1) for item in env if b"=" in item)
    return all(variables.get(name) == os.environb.get(name) for name in _LOCALE)


def _fields(message: bytes) -> tuple[bytes, list[bytes], list[bytes], int]:
    """(front end, argv, environment, umask) of a request."""
    parts = message.split(b"\0")
    umask, argc = int(parts[2]), int(parts[3])
    return parts[1], parts[4:4 + argc], parts[4 + argc:], umask


def _adopt(peer: int, status: dict[bytes, bytes], own: _Own, argv: list[bytes], env: list[bytes],
           umask: int, fds: list[int]) -> None:
    """Become what a fresh process started by the client (its /proc status `status`) would be."""
    if read(f"/proc/{peer}/limits") != own.limits:  # usually the same: one read, not 32 calls
        import resource
        for name in dir(resource):
            if name.startswith("RLIMIT_"):
                which = getattr(resource, name)
                theirs = resource.prlimit(peer, which)
                if theirs != resource.getrlimit(which):
                    resource.setrlimit(which, theirs)
    os.sched_setaffinity(0, os.sched_getaffinity(peer))
    score = read(f"/proc/{peer}/oom_score_adj")  # a container's init inherits it unless its config sets one
    if score != own.oom_score_adj:
        with open("/proc/self/oom_score_adj", "wb") as f:
            f.write(score)
    nice = os.getpriority(os.PRIO_PROCESS, peer)
    if nice != os.getpriority(os.PRIO_PROCESS, 0):
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    ignored, own_ignored = (int(lines[b"SigIgn:"].split()[1], 16) for lines in (status, own.status))
    for signo in range(1, signal.NSIG):
        bit = 1 << (signo - 1)
        if (ignored ^ own_ignored) & bit and signo not in (signal.SIGKILL, signal.SIGSTOP):
            try:
                signal.signal(signo, signal.SIG_IGN if ignored & bit else signal.SIG_DFL)
            except (OSError, ValueError):  # the C library's own (32, 33)
                pass
    blocked = int(status[b"SigBlk:"].split()[1], 16)
    if blocked != int(own.status[b"SigBlk:"].split()[1], 16):
        signal.pthread_sigmask(signal.SIG_SETMASK, {s for s in range(1, signal.NSIG) if blocked & (1 << (s - 1))})
    os.umask(umask)
    os.fchdir(fds[3])
    for target, fd in enumerate(fds[:3]):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    zone = os.environb.get(b"TZ")
    wanted = {}
    for item in env:
        name, sep, value = item.partition(b"=")
        if sep and name:
            wanted[name] = value
    for name in [name for name in os.environb if name not in wanted]:  # the difference only: usually none
        del os.environb[name]
    for name, value in wanted.items():
        if os.environb.get(name) != value:
            os.environb[name] = value
    if os.environb.get(b"TZ") != zone:
        import time
        time.tzset()  # local time as the client's TZ says, as a fresh process reads it
    sys.argv = [arg.decode(errors="surrogateescape") for arg in argv]
    _new_stdio()


def _new_stdio() -> None:
    """sys.stdin/stdout/stderr over the adopted descriptors, buffered as Python buffers a fresh
    process's (line-buffered to a terminal, and stderr always)."""
    import io
    for fd, name, mode in ((0, "stdin", "rb"), (1, "stdout", "wb"), (2, "stderr", "wb")):
        old = getattr(sys, name)
        raw = io.open(fd, mode, buffering=-1, closefd=False)
        tty = os.isatty(fd)
        stream = io.TextIOWrapper(raw, encoding=old.encoding, errors=old.errors, newline=None if fd == 0 else "\n",
                                  line_buffering=tty or fd == 2)
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)

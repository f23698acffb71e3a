"""A container (or an exec'd process) in the foreground: the one implementation behind `mydocker run`,
`mydocker exec`, `mydocker-runtime run` and `mydocker-runtime exec`.

Subreaper (the init is reparented to us and we reap it), signal forwarding, raw mode, window size,
the pty relay, the wait. The caller hands in the fds to use (a terminal, pipes or a socket).
Single-threaded (no threads in a process that forks containers): signal handlers and one select loop.
"""

from __future__ import annotations

import _signal
import errno
import os
import select

from mydocker.lazy import lazy_module

collector = lazy_module("mydocker.collector")
linux_tty = lazy_module("mydocker.linux.tty")
process = lazy_module("mydocker.runtime.process")
sc = lazy_module("mydocker.linux.syscalls")
termios = lazy_module("termios")
tty = lazy_module("tty")  # only with -t

FORWARDED = (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP, _signal.SIGQUIT, _signal.SIGUSR1, _signal.SIGUSR2)


def become_subreaper() -> None:
    """Before the init is forked: it is reparented to us, so we reap it and its orphans."""
    sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)


DETACHED = -1  # run_foreground's answer when the caller detached and left the process to a drainer


def run_foreground(pid: int, console: int | None, start=None, stdin: int | None = None, stdout: int = 1,
                   raw: bool = False, terminal: int | None = None, sig_proxy: bool = True,
                   eof_as_ctrl_d: bool = True, resize: int | None = None, tee=None,
                   pipes: list[tuple[int, int | None, str]] | None = None, detach=None,
                   on_detach=None) -> int:
    """Start the process (`start()`, if it waits for that), relay its console, and return its exit code
    as Docker reports it (128+N for signal N).

    console: the pty master (-t), or None when the process writes to the caller's fds directly.
    raw: put `stdin` (a terminal) in raw mode while attached. terminal: whose window size the console
    follows. sig_proxy: our signals go to `pid`. eof_as_ctrl_d: when stdin ends, type Ctrl-D into the
    console (mydocker) or just stop reading (runc's manner). resize: an fd carrying "ROWS COLS" lines,
    each a new size for the console (a front end without a terminal of its own: an HTTP resize request).
    tee(stream, data): also hears the container's output ("stdout"/"stderr"; a container's log).
    pipes: without a console, (read end, caller's fd, stream name) of the container's stdout and
    stderr, relayed (and teed) until the container closes them.
    detach(data) -> (data, detached): the caller's console input passes through it; once it says
    detached (the detach keys), or, without eof_as_ctrl_d, once the input ends, the caller is let go
    and the process runs on: `on_detach()` is told (after raw mode is restored) and answers whether
    this process stays to drain the console and wait (a service's worker: the exit code is returned)
    or leaves (a CLI: a forked child drains the console until the process ends; DETACHED is returned).
    """
    with forward_signals(pid if sig_proxy else None, console, terminal):
        if console is None:
            if start is not None:
                start()
            if pipes:
                relay_pipes(pipes, tee)
            return process.wait_for_exit(pid)
        copy_winsize(terminal, console)
        with raw_mode(stdin if raw and stdin is not None and os.isatty(stdin) else None):
            if start is not None:
                start()
            detached = relay_console(console, stdin, stdout, eof_as_ctrl_d, resize, tee, detach,
                                     let_go=on_detach is not None)
        if detached and not (on_detach() if on_detach is not None else True):
            if os.fork() == 0:  # the drainer: holds the console (the process keeps its terminal) until it ends
                try:
                    os.setsid()  # away from the caller's terminal and its hangup
                    null = os.open(os.devnull, os.O_RDWR)
                    for fd in (0, 1, 2):
                        os.dup2(null, fd)
                    drain_console(console, tee)
                finally:
                    os._exit(0)
            return DETACHED
        if detached:
            drain_console(console, tee)
        return process.wait_for_exit(pid)


def drain_console(console: int, tee=None) -> None:
    """Read (and `tee`) the console's output, nobody attached, until the process side closes it."""
    while True:
        try:
            data = os.read(console, 65536)
        except BlockingIOError:
            select.select([console], [], [])
            continue
        except OSError:  # EIO: every slave fd closed
            return
        if not data:
            return
        if tee is not None:
            tee("stdout", data)


class forward_signals:
    """`with forward_signals(pid, console, terminal):` signals sent to us go to `pid` (unless None);
    window changes of `terminal` resize `console`. (Context managers here are classes: contextlib
    costs start-up.)"""

    def __init__(self, pid: int | None, console: int | None = None, terminal: int | None = None) -> None:
        self.pid, self.console, self.terminal, self.previous = pid, console, terminal, {}

    def __enter__(self) -> None:
        if self.pid is not None:
            self.previous = {s: _signal.signal(s, self._forward) for s in FORWARDED}
        if self.console is not None and self.terminal is not None:
            self.previous[_signal.SIGWINCH] = _signal.signal(_signal.SIGWINCH, self._resize)

    def __exit__(self, kind, value, traceback) -> bool:
        for signum, handler in self.previous.items():
            _signal.signal(signum, handler)
        return False

    def _forward(self, signum: int, _frame) -> None:
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            pass

    def _resize(self, _signum: int, _frame) -> None:
        copy_winsize(self.terminal, self.console)


def copy_winsize(terminal: int | None, console: int | None) -> None:
    if terminal is None or console is None:
        return
    try:
        linux_tty.set_winsize(console, *linux_tty.get_winsize(terminal))
    except OSError:
        pass


class raw_mode:
    """`with raw_mode(fd):` the user's terminal in raw mode, so every key (Ctrl-C too) goes to the
    container; restored on the way out. Nothing happens for fd None."""

    def __init__(self, fd: int | None) -> None:
        self.fd, self.saved = fd, None

    def __enter__(self) -> None:
        if self.fd is None:
            return
        self.saved = termios.tcgetattr(self.fd)
        try:
            tty.setraw(self.fd, termios.TCSANOW)
        except BaseException:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
            raise

    def __exit__(self, kind, value, traceback) -> bool:
        if self.saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
        return False


def relay_pipes(pipes: list[tuple[int, int | None, str]], tee=None) -> None:
    """Copy each (read end -> caller's fd) until every read end is at EOF (the container and
    everything it started closed them); `tee(stream, data)` hears each chunk too."""
    collector.resume()  # as long as the container runs
    routes = {r: (out, stream) for r, out, stream in pipes}
    while routes:
        ready, _, _ = select.select(list(routes), [], [])
        for fd in ready:
            out, stream = routes[fd]
            data = os.read(fd, 65536)
            if not data:
                del routes[fd]
                continue
            if tee is not None:
                tee(stream, data)
            try:
                if out is not None:  # None: the tee is the caller's only output (the API's framing)
                    _write_all(out, data)
            except BrokenPipeError:
                pass  # the caller stopped reading; the log still gets it (Docker's attach does the same)


def relay_console(console: int, stdin: int | None, stdout: int, eof_as_ctrl_d: bool = True,
                  resize: int | None = None, tee=None, detach=None, let_go: bool = False) -> bool:
    """Copy stdin → console and console → stdout until the container's side closes (False); resize
    events ("ROWS COLS" lines on the fd `resize`) set the console's size. With `let_go`, True as soon
    as the caller detaches: `detach(data)` says so (see run_foreground), its input ends without
    eof_as_ctrl_d, or its output goes away; the console stays open."""
    collector.resume()  # as long as the container runs
    readers = [console] + ([stdin] if stdin is not None else []) + ([resize] if resize is not None else [])
    pending = b""
    while True:
        try:
            ready, _, _ = select.select(readers, [], [])
        except InterruptedError:
            continue
        if console in ready:
            try:
                data = os.read(console, 65536)
            except OSError as e:
                if e.errno == errno.EIO:  # every slave fd closed: the container is gone
                    return False
                raise
            if not data:
                return False
            if tee is not None:
                tee("stdout", data)
            try:
                _write_all(stdout, data)
            except (BrokenPipeError, ConnectionResetError):
                if let_go:
                    return True  # the caller went away: the process runs on
                raise
        if stdin is not None and stdin in ready:
            try:
                data = os.read(stdin, 65536)
            except ConnectionResetError:
                data = b""
            detached = False
            if data and detach is not None:
                data, detached = detach(data)
            if data:
                _write_all(console, data)
            if detached and let_go:
                return True
            if not data and not detached:  # EOF on our stdin
                if let_go and not eof_as_ctrl_d:
                    return True
                if eof_as_ctrl_d:
                    _write_all(console, b"\x04")
                readers.remove(stdin)
        if resize is not None and resize in ready:
            data = os.read(resize, 4096)
            if not data:
                readers.remove(resize)
            pending = _apply_sizes(console, pending + data)


def _apply_sizes(console: int, data: bytes) -> bytes:
    """Each complete "ROWS COLS" line resizes the console; a line cut short waits for the rest."""
    *lines, rest = data.split(b"\n")
    for line in lines:
        try:
            rows, cols = (int(x) for x in line.split())
            linux_tty.set_winsize(console, rows, cols)
        except (ValueError, OSError):
            continue  # not a size, or the console is gone: the relay notices that itself
    return rest


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            select.select([], [fd], [])

"""`mydocker-runtime run` in the foreground: forward signals to the init, relay its terminal, wait.

Single-threaded (no threads in a process that forks containers): signal handlers and one select loop.
"""

from __future__ import annotations

import _signal
import errno
import os
import select

from mydocker.lazy import lazy_module

collector = lazy_module("mydocker.collector")
termios = lazy_module("termios")
tty = lazy_module("tty")

FORWARDED = (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP, _signal.SIGQUIT, _signal.SIGUSR1, _signal.SIGUSR2)


def forward_signals(pid: int) -> dict:
    """Install handlers that send our signals to `pid`; returns the previous handlers."""
    def forward(signum: int, _frame) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass
    return {s: _signal.signal(s, forward) for s in FORWARDED}


def restore(previous: dict) -> None:
    for signum, handler in previous.items():
        _signal.signal(signum, handler)


def relay(console: int, stdin: int = 0, stdout: int = 1) -> None:
    """Copy stdin to the pty master and the master to stdout until the container closes it."""
    saved = None
    if os.isatty(stdin):
        saved = termios.tcgetattr(stdin)
        tty.setraw(stdin)
    try:
        relay_console(console, stdin, stdout, eof_as_ctrl_d=False)
    finally:
        if saved is not None:
            termios.tcsetattr(stdin, termios.TCSADRAIN, saved)


def relay_console(console: int, stdin: int | None, stdout: int, eof_as_ctrl_d: bool = True) -> None:
    """Copy stdin → console and console → stdout until the container's side closes.

    The one relay loop of `mydocker run -t` and `mydocker-runtime run`. `eof_as_ctrl_d`: when our
    stdin ends, type Ctrl-D into the container (mydocker) or just stop reading it (runc's manner).
    """
    collector.resume()  # as long as the container runs
    readers = [console] + ([stdin] if stdin is not None else [])
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
                    return
                raise
            if not data:
                return
            _write_all(stdout, data)
        if stdin is not None and stdin in ready:
            data = os.read(stdin, 65536)
            if data:
                _write_all(console, data)
            else:  # EOF on our stdin
                if eof_as_ctrl_d:
                    _write_all(console, b"\x04")
                readers.remove(stdin)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            select.select([], [fd], [])

"""Connect a caller's terminal or stdio to a running container and forward its signals.

Single-threaded on purpose (DESIGN: no threads in a process that forks containers): one select
loop (runtime/foreground.relay_console) relays the pty; signal handlers forward to the container's init.
"""

from __future__ import annotations

import os
import _signal as signal  # the functions without the Signals enum (enum's import is ~1 ms)
import termios
import tty as ttymod
from contextlib import contextmanager
from collections.abc import Iterator

from mydocker.linux.tty import get_winsize, set_winsize

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


@contextmanager
def forward_signals(pid: int, console: int | None = None, terminal: int | None = None) -> Iterator[None]:
    """While inside, signals sent to us go to `pid`; window changes resize the console."""
    def forward(signum: int, _frame) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    def resize(_signum: int, _frame) -> None:
        _copy_winsize(terminal, console)

    previous = {s: signal.signal(s, forward) for s in FORWARDED}
    if console is not None:
        previous[signal.SIGWINCH] = signal.signal(signal.SIGWINCH, resize)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _copy_winsize(terminal: int | None, console: int | None) -> None:
    if terminal is None or console is None:
        return
    try:
        set_winsize(console, *get_winsize(terminal))
    except OSError:
        pass


def terminal_of(*fds: int) -> int | None:
    return next((fd for fd in fds if os.isatty(fd)), None)


@contextmanager
def raw_mode(fd: int | None) -> Iterator[None]:
    """Raw mode on the user's terminal so every key (Ctrl-C too) goes to the container."""
    if fd is None:
        yield
        return
    saved = termios.tcgetattr(fd)
    try:
        ttymod.setraw(fd, termios.TCSANOW)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)

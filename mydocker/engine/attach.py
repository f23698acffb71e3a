"""Connect a caller's terminal or stdio to a running container and forward its signals.

Single-threaded on purpose (DESIGN: no threads in a process that forks containers): one select
loop (runtime/foreground.relay_console) relays the pty; signal handlers forward to the container's init.
"""

from __future__ import annotations

import os
import _signal as signal  # the functions without the Signals enum (enum's import is ~1 ms)
import termios

from mydocker.linux.tty import get_winsize, set_winsize

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


class forward_signals:
    """`with forward_signals(pid, console, terminal):` signals sent to us go to `pid`; window
    changes resize the console. (Context managers here are classes: contextlib costs start-up.)"""

    def __init__(self, pid: int, console: int | None = None, terminal: int | None = None) -> None:
        self.pid, self.console, self.terminal, self.previous = pid, console, terminal, {}

    def __enter__(self) -> None:
        self.previous = {s: signal.signal(s, self._forward) for s in FORWARDED}
        if self.console is not None:
            self.previous[signal.SIGWINCH] = signal.signal(signal.SIGWINCH, self._resize)

    def __exit__(self, kind, value, traceback) -> bool:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        return False

    def _forward(self, signum: int, _frame) -> None:
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            pass

    def _resize(self, _signum: int, _frame) -> None:
        _copy_winsize(self.terminal, self.console)


def _copy_winsize(terminal: int | None, console: int | None) -> None:
    if terminal is None or console is None:
        return
    try:
        set_winsize(console, *get_winsize(terminal))
    except OSError:
        pass


def terminal_of(*fds: int) -> int | None:
    return next((fd for fd in fds if os.isatty(fd)), None)


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
            import tty  # only with -t
            tty.setraw(self.fd, termios.TCSANOW)
        except BaseException:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
            raise

    def __exit__(self, kind, value, traceback) -> bool:
        if self.saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
        return False

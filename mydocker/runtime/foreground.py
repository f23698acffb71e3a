"""`mydocker-runtime run` in the foreground: forward signals to the init, relay its terminal, wait.

Single-threaded (no threads in a process that forks containers): signal handlers and one select loop.
"""

from __future__ import annotations

import _signal
import errno
import os
import select

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
    import termios
    import tty
    saved = None
    if os.isatty(stdin):
        saved = termios.tcgetattr(stdin)
        tty.setraw(stdin)
    sources = [console, stdin]
    try:
        while True:
            try:
                ready, _, _ = select.select(sources, [], [])
            except InterruptedError:
                continue
            if console in ready:
                try:
                    data = os.read(console, 65536)
                except OSError as e:
                    if e.errno == errno.EIO:  # every slave closed: the container is done
                        return
                    raise
                if not data:
                    return
                os.write(stdout, data)
            if stdin in ready:
                data = os.read(stdin, 65536)
                if data:
                    os.write(console, data)
                else:
                    sources.remove(stdin)
    finally:
        if saved is not None:
            termios.tcsetattr(stdin, termios.TCSADRAIN, saved)

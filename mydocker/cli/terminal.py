"""This process's own stdin, stdout and stderr, handed to the engine for `run` and `exec`; Docker's
CheckTty on them."""

from __future__ import annotations
import os
import sys
from mydocker.lazy import lazy_module

api = lazy_module("mydocker.engine.api")


def terminal_streams():
    """This process's stdin, stdout and stderr, as `run` and `exec` attach a container to them."""
    return api.Streams(stdin=0, stdout=1, stderr=2, raw=os.isatty(0),
                       terminal=0 if os.isatty(0) else (1 if os.isatty(1) else None))


signal = lazy_module("signal")

# what the waiter passes on to the supervisor; ^C and ^\ from the terminal reach both (one process group)
_FORWARDED, _IGNORED = ("SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2"), ("SIGINT", "SIGQUIT")


def detachable(streams) -> int | None:
    """`run -it`, which the detach keys leave running (Docker's ctrl-p,ctrl-q): the container's
    supervisor must outlive the process the shell waits for. So this process forks: the child returns
    None and goes on to run the container (its `streams.on_detach` set); this process waits for it,
    forwarding its signals, and returns the code to exit with: 0 once the child detached (the child
    then leaves the terminal and supervises on), else the child's own exit code."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)

        def on_detach() -> bool:
            os.write(w, b"D")
            os.close(w)
            os.setsid()  # out of the terminal's session: its hangup is not ours
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            return True  # stay: drain its console, record its exit, tear it down
        streams.on_detach = on_detach
        return None
    os.close(w)
    for name in _FORWARDED:
        signal.signal(getattr(signal, name), lambda sig, _frame: os.kill(pid, sig))
    for name in _IGNORED:
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    if os.read(r, 1) == b"D":
        return 0
    _, status = os.waitpid(pid, 0)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def stdin_not_a_terminal(opts) -> bool:
    """Docker's CheckTty, for `run` and `exec`: attaching -i to a -t container needs a terminal on our
    stdin (a pipe or a file cannot be put in raw mode, and the container's terminal would wait for it)."""
    if opts.tty and opts.interactive and not opts.detach and not os.isatty(0):
        print("mydocker: the input device is not a TTY: run it from a terminal, or drop -t to pipe input "
              "into the container", file=sys.stderr)
        return True
    return False

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


def stdin_not_a_terminal(opts) -> bool:
    """Docker's CheckTty, for `run` and `exec`: attaching -i to a -t container needs a terminal on our
    stdin (a pipe or a file cannot be put in raw mode, and the container's terminal would wait for it)."""
    if opts.tty and opts.interactive and not opts.detach and not os.isatty(0):
        print("mydocker: the input device is not a TTY: run it from a terminal, or drop -t to pipe input "
              "into the container", file=sys.stderr)
        return True
    return False

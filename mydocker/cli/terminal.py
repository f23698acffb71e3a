"""This process's own stdin, stdout and stderr, handed to the engine for `run` and `exec`."""

from __future__ import annotations


def terminal_streams():
    """This process's stdin, stdout and stderr, as `run` and `exec` attach a container to them."""
    import os
    from mydocker.engine.api import Streams
    return Streams(stdin=0, stdout=1, stderr=2, raw=os.isatty(0),
                   terminal=0 if os.isatty(0) else (1 if os.isatty(1) else None))

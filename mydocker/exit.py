"""Leave the process without the interpreter's finalization.

Tearing down every module and object at exit costs time on every command (docs/startup.md), and a
CLI that has already written its answer has nothing left to free: flush stdio and _exit.
"""

import posix
import sys


def exit_now(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can reach the reader
            code = code or 1
    posix._exit(code)

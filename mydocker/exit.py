"""Leave the process without the interpreter's finalization.

Tearing down every module and object at exit costs time on every command (docs/startup.md), and a
CLI that has already written its answer has nothing left to free: flush stdio and _exit.
"""

import posix
import sys

# Set by a fork server's child (mydocker/forkserver.py): tells its client the exit code, which can
# then leave while this process is still being torn down.
last_words = None


def exit_now(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can reach the reader
            code = code or 1
    if last_words is not None:
        last_words(code)
    posix._exit(code)

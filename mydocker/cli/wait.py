"""`mydocker wait`: block until containers stop, then print their exit codes."""

from __future__ import annotations

import sys

from mydocker.flags import Command
from mydocker.errors import MyDockerError

command = Command("wait", "Block until one or more containers stop, then print their exit codes",
                  usage="wait CONTAINER [CONTAINER...]", min_args=1)


def handle(engine, opts, args: list[str]) -> int:
    code = 0
    for ref in args:
        try:
            print(engine.containers.wait(ref), flush=True)
        except MyDockerError as e:
            print(f"mydocker: {e}", file=sys.stderr)
            code = 1  # Docker's CLI: 1 when any of them failed
    return code

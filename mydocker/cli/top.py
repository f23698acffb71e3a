"""`mydocker top`: the container's processes, as the host's `ps` shows them (default -ef)."""

from __future__ import annotations

import sys

from mydocker.flags import Command
from mydocker.lazy import lazy_module

table = lazy_module("mydocker.cli.table")

command = Command("top", "Display the running processes of a container", usage="top CONTAINER [ps OPTIONS]",
                  min_args=1, interspersed=False)


def handle(engine, opts, args: list[str]) -> int:
    header, lines = engine.containers.top(args[0], args[1:])
    sys.stdout.write(table.tabwrite(["\t".join(header.split())] + ["\t".join(_cells(line, len(header.split())))
                                                             for line in lines], min_width=20))  # as `docker top`
    return 0


def _cells(line: str, count: int) -> list[str]:
    """The last column (the command) keeps its spaces."""
    parts = line.split(None, count - 1)
    return parts + [""] * (count - len(parts))

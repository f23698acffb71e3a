"""`mydocker top`: the container's processes, as the host's `ps` shows them (default -ef)."""

from __future__ import annotations

from mydocker.flags import Command

command = Command("top", "Display the running processes of a container", usage="top CONTAINER [ps OPTIONS]",
                  min_args=1, interspersed=False)


def handle(engine, opts, args: list[str]) -> int:
    import sys
    header, lines = engine.containers.top(args[0], args[1:])
    from mydocker.cli.table import tabwrite
    sys.stdout.write(tabwrite(["\t".join(header.split())] + ["\t".join(_cells(line, len(header.split())))
                                                             for line in lines]))
    return 0


def _cells(line: str, count: int) -> list[str]:
    """The last column (the command) keeps its spaces."""
    parts = line.split(None, count - 1)
    return parts + [""] * (count - len(parts))

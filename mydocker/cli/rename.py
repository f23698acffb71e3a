"""`mydocker rename`."""

from __future__ import annotations

from mydocker.flags import Command

command = Command("rename", "Rename a container", usage="rename CONTAINER NEW_NAME", min_args=2, max_args=2)


def handle(engine, opts, args: list[str]) -> int:
    engine.containers.rename(args[0], args[1])
    return 0

"""`mydocker unpause`: thaw paused containers."""

from __future__ import annotations

from mydocker.flags import Command

command = Command("unpause", "Unpause all processes within one or more containers", usage="unpause CONTAINER [CONTAINER...]", min_args=1)


def handle(engine, opts, args: list[str]) -> int:
    from mydocker.cli.stop import each
    return each(args, engine.containers.unpause)

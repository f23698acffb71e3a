"""`mydocker start`: run a stopped container again, detached, with the same rootfs and config."""

from __future__ import annotations

from mydocker.flags import Command

command = (
    Command("start", "Start one or more stopped containers", usage="start [OPTIONS] CONTAINER [CONTAINER...]",
            min_args=1)
)


def handle(engine, opts, args: list[str]) -> int:
    from mydocker.cli.stop import each
    return each(args, engine.containers.start)

"""`mydocker start`: run a stopped container again, detached, with the same rootfs and config."""

from __future__ import annotations

from mydocker.flags import Command
from mydocker.lazy import lazy_module

stop = lazy_module("mydocker.cli.stop")

command = (
    Command("start", "Start one or more stopped containers", usage="start [OPTIONS] CONTAINER [CONTAINER...]",
            min_args=1)
)


def handle(engine, opts, args: list[str]) -> int:
    return stop.each(args, engine.containers.start)

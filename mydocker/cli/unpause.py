"""`mydocker unpause`: thaw paused containers."""

from __future__ import annotations

from mydocker.flags import Command
from mydocker.lazy import lazy_module

stop = lazy_module("mydocker.cli.stop")

command = Command("unpause", "Unpause all processes within one or more containers",
                  usage="unpause CONTAINER [CONTAINER...]", min_args=1)


def handle(engine, opts, args: list[str]) -> int:
    return stop.each(args, engine.containers.unpause)

"""`mydocker restart`: stop (StopSignal, -t, SIGKILL), then start."""

from __future__ import annotations

from mydocker.flags import Command
from mydocker.lazy import lazy_module

stop = lazy_module("mydocker.cli.stop")

command = (
    Command("restart", "Restart one or more containers", usage="restart [OPTIONS] CONTAINER [CONTAINER...]",
            min_args=1)
    .flag("-t", "--time", kind="int", metavar="SECONDS", help="seconds to wait before killing it (default 10)")
)


def handle(engine, opts, args: list[str]) -> int:
    return stop.each(args, lambda ref: engine.containers.restart(ref, opts.time))

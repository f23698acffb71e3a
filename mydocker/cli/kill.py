"""`mydocker kill`: send a signal (default KILL) to a container's main process."""

from __future__ import annotations

from mydocker.flags import Command
from mydocker.lazy import lazy_module

stop = lazy_module("mydocker.cli.stop")

command = (
    Command("kill", "Kill one or more running containers", usage="kill [OPTIONS] CONTAINER [CONTAINER...]",
            min_args=1)
    .flag("-s", "--signal", kind="str", metavar="SIGNAL", default="KILL", help="signal to send (default KILL)")
)


def handle(engine, opts, args: list[str]) -> int:
    engine.containers.check_signal(opts.signal)  # a bad signal is one error, not one per container
    return stop.each(args, lambda ref: engine.containers.kill(ref, opts.signal))

"""`mydocker stop`: the image's StopSignal (default SIGTERM), then SIGKILL after -t seconds."""

from __future__ import annotations

import sys

from mydocker.flags import Command
from mydocker.errors import MyDockerError
from mydocker.lazy import lazy_module

api = lazy_module("mydocker.engine.api")

command = (
    Command("stop", "Stop one or more running containers", usage="stop [OPTIONS] CONTAINER [CONTAINER...]",
            min_args=1)
    .flag("-t", "--time", kind="int", metavar="SECONDS", help="seconds to wait before killing it (default 10)")
    .flag("-s", "--signal", kind="str", metavar="SIGNAL", help="signal to send instead of the image's StopSignal")
)


def each(args: list[str], action) -> int:
    """Docker's manner for verbs on several containers: print each that worked, report each failure."""
    code = 0
    for ref in args:
        try:
            action(ref)
        except MyDockerError as e:
            print(f"mydocker: {e}", file=sys.stderr)
            code = 1  # Docker's CLI: 1 when any of them failed
            continue
        print(ref)
    return code


def handle(engine, opts, args: list[str]) -> int:
    if opts.signal:
        engine.containers.check_signal(opts.signal)  # a bad signal is one error, not one per container
    stop = api.StopOptions(opts.time, opts.signal)
    return each(args, lambda ref: engine.containers.stop(ref, stop))

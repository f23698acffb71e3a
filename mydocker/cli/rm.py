"""`mydocker rm`: remove containers and everything they own; -f stops a running one first."""

from __future__ import annotations

from mydocker.flags import Command
from mydocker.lazy import lazy_module

stop = lazy_module("mydocker.cli.stop")
api = lazy_module("mydocker.engine.api")

command = (
    Command("rm", "Remove one or more containers", usage="rm [OPTIONS] CONTAINER [CONTAINER...]", min_args=1)
    .flag("-f", "--force", help="force the removal of a running container (uses SIGKILL)")
    .flag("-v", "--volumes", help="remove anonymous volumes associated with the container")
)


def handle(engine, opts, args: list[str]) -> int:
    remove = api.RemoveOptions(force=opts.force, volumes=opts.volumes)
    return stop.each(args, lambda ref: engine.containers.remove(ref, remove))

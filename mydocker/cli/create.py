"""`mydocker create`: a container made from an image, not started (`start` runs it)."""

from __future__ import annotations

from mydocker.flags import Command
from mydocker.cli.run import container_flags
from mydocker.lazy import lazy_module

run = lazy_module("mydocker.cli.run")

command = container_flags(
    Command("create", "Create a new container", usage="create [OPTIONS] IMAGE [COMMAND] [ARG...]",
            min_args=1, interspersed=False))


def handle(engine, opts, args: list[str]) -> int:
    run_opts = run.run_options(opts, args)
    run_opts.detach = True  # started later by `start`, which hands it to the monitor
    print(engine.containers.create(run_opts, progress=run._pull_progress))
    return 0

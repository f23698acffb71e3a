"""`mydocker create`: a container made from an image, not started (`start` runs it)."""

from __future__ import annotations

from mydocker.flags import Command
from mydocker.cli.run import container_flags

command = container_flags(
    Command("create", "Create a new container", usage="create [OPTIONS] IMAGE [COMMAND] [ARG...]",
            min_args=1, interspersed=False))


def handle(engine, opts, args: list[str]) -> int:
    from mydocker.cli.run import _pull_progress, run_options
    run_opts = run_options(opts, args)
    run_opts.detach = True  # started later by `start`, which hands it to the monitor
    print(engine.containers.create(run_opts, progress=_pull_progress))
    return 0

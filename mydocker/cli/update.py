"""`mydocker update`: change a container's limits (while it runs too) and its restart policy."""

from __future__ import annotations

from mydocker.cli.run import resource_flags, resource_options
from mydocker.flags import Command
from mydocker.lazy import lazy_module

api = lazy_module("mydocker.engine.api")
stop = lazy_module("mydocker.cli.stop")

command = (
    resource_flags(Command("update", "Update configuration of one or more containers",
                           usage="update [OPTIONS] CONTAINER [CONTAINER...]", min_args=1))
    .flag("--restart", kind="str", metavar="POLICY", help="no, on-failure[:N], always, unless-stopped")
)


def handle(engine, opts, args: list[str]) -> int:
    update = api.UpdateOptions(resources=resource_options(opts), restart=opts.restart)
    return stop.each(args, lambda ref: engine.containers.update(ref, update))

"""`mydocker update`: change a container's limits (while it runs too) and its restart policy."""

from __future__ import annotations

from mydocker.flags import Command
from mydocker.lazy import lazy_module

api = lazy_module("mydocker.engine.api")
stop = lazy_module("mydocker.cli.stop")

command = (
    Command("update", "Update configuration of one or more containers",
            usage="update [OPTIONS] CONTAINER [CONTAINER...]", min_args=1)
    .flag("-m", "--memory", kind="str", metavar="BYTES", help="memory limit (e.g. 64m)")
    .flag("--memory-swap", kind="str", metavar="BYTES", help="memory plus swap limit; -1 for unlimited swap")
    .flag("--memory-reservation", kind="str", metavar="BYTES", help="memory soft limit")
    .flag("--cpus", kind="str", metavar="N", help="number of CPUs (e.g. 0.5)")
    .flag("-c", "--cpu-shares", kind="int", metavar="N", help="relative CPU weight")
    .flag("--cpuset-cpus", kind="str", metavar="LIST", help="CPUs the container may use (0-2,4)")
    .flag("--cpuset-mems", kind="str", metavar="LIST", help="memory nodes the container may use")
    .flag("--pids-limit", kind="int", metavar="N", help="process limit (-1 for unlimited)")
    .flag("--restart", kind="str", metavar="POLICY", help="no, on-failure[:N], always, unless-stopped")
)


def handle(engine, opts, args: list[str]) -> int:
    update = api.UpdateOptions(memory=opts.memory, memory_swap=opts.memory_swap,
                               memory_reservation=opts.memory_reservation, cpus=opts.cpus, cpu_shares=opts.cpu_shares,
                               cpuset_cpus=opts.cpuset_cpus, cpuset_mems=opts.cpuset_mems, pids_limit=opts.pids_limit,
                               restart=opts.restart)
    return stop.each(args, lambda ref: engine.containers.update(ref, update))

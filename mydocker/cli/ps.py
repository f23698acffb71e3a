"""`mydocker ps`: list containers, with Docker's columns, filters and --format."""

from __future__ import annotations

import sys

from mydocker.flags import Command
from mydocker.lazy import lazy_module

table = lazy_module("mydocker.cli.table")
api = lazy_module("mydocker.engine.api")

command = (
    Command("ps", "List containers", usage="ps [OPTIONS]", max_args=0)
    .flag("-a", "--all", help="show all containers (default shows just running)")
    .flag("-q", "--quiet", help="only display container IDs")
    .flag("-f", "--filter", kind="list", metavar="KEY=VALUE",
          help="filter: status, name, id, exited, ancestor, label, before, since")
    .flag("--format", kind="str", metavar="FORMAT", help="table TEMPLATE, json, or a Go template")
    .flag("-n", "--last", kind="int", metavar="N", default=-1, help="show the N last created containers")
    .flag("-l", "--latest", help="show the latest created container")
    .flag("--no-trunc", help="do not truncate output")
    .flag("-s", "--size", help="display total file sizes")
)

DEFAULT = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
           "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
           "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS",
           "LocalVolumes": "LOCAL VOLUMES"}


def handle(engine, opts, args: list[str]) -> int:
    records = engine.containers.list(api.ListOptions(all=opts.all, filters=api.parse_filters(opts.filter),
                                                     last=opts.last, latest=opts.latest))
    if opts.quiet:
        sys.stdout.write("".join((r.id if opts.no_trunc else r.id[:12]) + "\n" for r in records))
        return 0
    fmt = opts.format or (DEFAULT + "\t{{.Size}}" if opts.size else DEFAULT)
    mounts = any(word in fmt for word in ("Mounts", "LocalVolumes", "json"))
    sizes = opts.size or any(word in fmt for word in (".Size", "json"))  # as the docker CLI asks size=1
    items = engine.containers.summaries(records, no_trunc=opts.no_trunc, mounts=mounts, sizes=sizes)
    sys.stdout.write(table.render(fmt, items, HEADERS))
    return 0

"""`mydocker ps`: list containers, with Docker's columns, filters and --format."""

from __future__ import annotations

from mydocker.flags import Command

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
STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")


def parse_filters(values: list[str]) -> dict[str, list[str]]:
    from mydocker.errors import InvalidArgument
    out: dict[str, list[str]] = {}
    for item in values:
        key, eq, value = item.partition("=")
        if not eq or key not in ("status", "name", "id", "exited", "ancestor", "label", "before", "since"):
            raise InvalidArgument(f"invalid filter {item!r}: use status=, name=, id=, exited=, ancestor=, "
                                  "label=, before= or since=")
        if key == "status" and value not in STATUSES:
            raise InvalidArgument(f"invalid filter 'status={value}': use one of {', '.join(STATUSES)}")
        if key == "exited" and not value.lstrip("-").isdigit():
            raise InvalidArgument(f"invalid filter 'exited={value}': give an exit code")
        out.setdefault(key, []).append(value)
    return out


def matches(rec, filters: dict[str, list[str]], order: dict[str, int], engine) -> bool:
    import re
    for key, values in filters.items():
        if key == "status" and rec.status not in values:
            return False
        if key == "name" and not any(re.search(v, rec.name) for v in values):
            return False
        if key == "id" and not any(rec.id.startswith(v) for v in values):
            return False
        if key == "exited" and (rec.status != "exited" or str(rec.exit_code) not in values):
            return False
        if key == "ancestor" and not any(_same_image(engine, v, rec) for v in values):
            return False
        if key == "label":
            labels = rec.config.get("Labels") or {}
            for v in values:
                k, eq, want = v.partition("=")
                if k not in labels or (eq and labels[k] != want):
                    return False
        if key in ("before", "since"):
            for v in values:
                other = engine.containers.records.find_container(v)
                if key == "before" and not order[rec.id] > order[other.id]:
                    return False
                if key == "since" and not order[rec.id] < order[other.id]:
                    return False
    return True


def _same_image(engine, ref: str, rec) -> bool:
    if ref in (rec.image, rec.image_id) or rec.image_id.removeprefix("sha256:").startswith(ref):
        return True
    from mydocker.image import reference
    try:
        return str(reference.parse(ref)) == str(reference.parse(rec.image))
    except Exception:  # noqa: BLE001 - not a reference: no match
        return False


def handle(engine, opts, args: list[str]) -> int:
    import sys
    import time
    from mydocker.cli.table import render
    from mydocker.engine.inspect import ps_fields
    filters = parse_filters(opts.filter)
    wants_all = opts.all or opts.latest or opts.last >= 0 or "status" in filters or "exited" in filters
    records = engine.containers.list(all=True)  # newest first
    order = {r.id: i for i, r in enumerate(records)}
    if not wants_all:
        records = [r for r in records if r.status in ("running", "restarting", "paused")]
    records = [r for r in records if matches(r, filters, order, engine)]
    if opts.latest:
        records = records[:1]
    elif opts.last >= 0:
        records = records[:opts.last]
    if opts.quiet:
        sys.stdout.write("".join((r.id if opts.no_trunc else r.id[:12]) + "\n" for r in records))
        return 0
    now = time.time()
    items = [ps_fields(r, no_trunc=opts.no_trunc, now=now) for r in records]
    sys.stdout.write(render(opts.format or DEFAULT, items, HEADERS))
    return 0

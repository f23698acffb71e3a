"""`mydocker images`: REPOSITORY TAG IMAGE ID CREATED SIZE (also `image ls`).

Also the small output helpers the image and volume commands share: sizes, ages, tables."""

from __future__ import annotations

import sys

from mydocker.flags import Command
from mydocker.lazy import lazy_module

datetime = lazy_module("datetime")
re = lazy_module("re")
cli_table = lazy_module("mydocker.cli.table")
api = lazy_module("mydocker.engine.api")

command = (
    Command("images", "List images", usage="images [OPTIONS] [REPOSITORY[:TAG]]", max_args=1)
    .flag("-q", "--quiet", help="only show image IDs")
    .flag("-a", "--all", help="show all images (by default, build steps' intermediate images are hidden)")
    .flag("--no-trunc", help="do not truncate output")
    .flag("--digests", help="show the manifest digests")
    .flag("--format", kind="str", metavar="FORMAT", help="table TEMPLATE, json, or a Go template")
    .flag("-f", "--filter", kind="list", metavar="KEY=VALUE",
          help="label=KEY[=VALUE], dangling=true|false, reference=PATTERN, before=IMAGE, since=IMAGE")
)
HEADERS = {"Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST", "ID": "IMAGE ID",
           "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS",
           "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE", "VirtualSize": "VIRTUAL SIZE"}


def human_size(size: float, precision: int = 3) -> str:
    return api.human_size(size, precision)


def ago(timestamp: str) -> str:
    """"3 minutes ago" for an RFC 3339 time, as Docker prints CREATED."""
    if not timestamp:
        return "N/A"
    text = re.sub(r"(\.\d{6})\d+", r"\1", timestamp)  # Go writes nanoseconds; Python reads micro
    try:
        then = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    if then.tzinfo is None:
        then = then.replace(tzinfo=datetime.timezone.utc)
    seconds = (datetime.datetime.now(datetime.timezone.utc) - then).total_seconds()
    for unit, length in (("year", 31536000), ("month", 2592000), ("week", 604800), ("day", 86400),
                         ("hour", 3600), ("minute", 60)):
        if seconds >= 2 * length:
            return f"{int(seconds // length)} {unit}s ago"
        if seconds >= length:
            return f"{'an' if unit == 'hour' else 'a'} {unit} ago"
    return "Less than a second ago" if seconds < 1 else f"{int(seconds)} seconds ago"


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Columns as Docker's tabwriter pads them."""
    return cli_table.tabwrite(["\t".join(line) for line in [headers, *rows]])


def handle(engine, opts, args: list[str]) -> int:
    filters = api.parse_object_filters(opts.filter, api.IMAGE_FILTERS)
    if args:  # `images REPOSITORY[:TAG]`: one more reference filter, as the docker CLI sends it
        filters.setdefault("reference", []).append(args[0])
    rows = engine.images.filtered(filters, all_images=opts.all)
    if opts.quiet:
        ids = [r["ID"] if opts.no_trunc else r["ID"].partition(":")[2][:12] for r in rows]
        sys.stdout.write("".join(f"{i}\n" for i in dict.fromkeys(ids)))
        return 0
    if opts.format:
        sys.stdout.write(cli_table.render(opts.format, [_fields(r, opts.no_trunc) for r in rows], HEADERS))
        return 0
    headers = ["REPOSITORY", "TAG", *(["DIGEST"] if opts.digests else []), "IMAGE ID", "CREATED", "SIZE"]
    out = [[r["Repository"], r["Tag"], *([r["Manifest"]] if opts.digests else []),
            r["ID"] if opts.no_trunc else r["ID"].partition(":")[2][:12], ago(r["Created"]), human_size(r["Size"])]
           for r in rows]
    sys.stdout.write(table(headers, out))
    return 0


def _fields(row: dict, no_trunc: bool) -> dict:
    """The names `images --format` offers, as Docker fills them."""
    created = row["Created"]
    try:
        when = datetime.datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", created).replace("Z", "+00:00"))
        created_at = when.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")
    except ValueError:
        created_at = created
    size = human_size(row["Size"])
    return {"Repository": row["Repository"], "Tag": row["Tag"], "Digest": row.get("Manifest") or "<none>",
            "ID": row["ID"] if no_trunc else row["ID"].partition(":")[2][:12], "CreatedSince": ago(created),
            "CreatedAt": created_at, "Size": size, "VirtualSize": size, "SharedSize": "N/A", "UniqueSize": "N/A",
            "Containers": "N/A"}

"""`mydocker history IMAGE`: IMAGE CREATED CREATED BY SIZE COMMENT, newest first."""

from __future__ import annotations

import sys

from mydocker.flags import Command
from mydocker.lazy import lazy_module

images = lazy_module("mydocker.cli.images")

command = (
    Command("history", "Show the history of an image", usage="history [OPTIONS] IMAGE", min_args=1, max_args=1)
    .flag("-H", "--human", help="print sizes and dates in human readable format (the default)")
    .flag("--no-trunc", help="do not truncate output")
    .flag("-q", "--quiet", help="only show image IDs")
)


def handle(engine, opts, args: list[str]) -> int:
    rows = engine.images.history(args[0])
    ident = (lambda i: i if opts.no_trunc or i == "<missing>" else i.partition(":")[2][:12])
    if opts.quiet:
        sys.stdout.write("".join(f"{ident(r['ID'])}\n" for r in rows))
        return 0
    trunc = (lambda t: t if opts.no_trunc or len(t) <= 45 else t[:44] + "…")
    out = [[ident(r["ID"]), images.ago(r["Created"]), trunc(r["CreatedBy"]), images.human_size(r["Size"]), r["Comment"]]
           for r in rows]
    sys.stdout.write(images.table(["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"], out))
    return 0

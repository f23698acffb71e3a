"""`mydocker save [-o FILE] IMAGE...`: an archive podman, skopeo, Docker and mydocker load."""

from __future__ import annotations

import os
import sys

from mydocker.flags import Command
from mydocker.errors import InvalidArgument

command = (
    Command("save", "Save one or more images to a tar archive (streamed to STDOUT by default)",
            usage="save [OPTIONS] IMAGE [IMAGE...]", min_args=1)
    .flag("-o", "--output", kind="str", metavar="FILE", help="write to a file instead of STDOUT")
    .flag("--format", kind="str", metavar="FORMAT", default="docker",
          help="docker (OCI layout + manifest.json, as Docker 25+), oci-archive or docker-archive")
)


def handle(engine, opts, args: list[str]) -> int:
    if not opts.output:
        if sys.stdout.isatty():
            raise InvalidArgument("refusing to write an archive to a terminal: use -o FILE or redirect STDOUT")
        sys.stdout.flush()
        with os.fdopen(os.dup(1), "wb") as out:
            engine.images.save(args, out, opts.format)
        return 0
    tmp = f"{opts.output}.mydocker-tmp"
    try:
        with open(tmp, "wb") as out:
            engine.images.save(args, out, opts.format)
        os.rename(tmp, opts.output)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return 0

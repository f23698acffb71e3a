"""`mydocker export CONTAINER`: the container's whole filesystem as a flat tar."""

from __future__ import annotations

import os
import sys

from mydocker.flags import Command
from mydocker.errors import InvalidArgument

command = (
    Command("export", "Export a container's filesystem as a tar archive",
            usage="export [OPTIONS] CONTAINER", min_args=1, max_args=1)
    .flag("-o", "--output", kind="str", metavar="FILE", help="write to a file instead of STDOUT")
)


def handle(engine, opts, args: list[str]) -> int:
    if opts.output:
        tmp = f"{opts.output}.mydocker-tmp"
        try:
            with open(tmp, "wb") as out:
                engine.containers.export(args[0], out)
            os.rename(tmp, opts.output)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return 0
    if sys.stdout.isatty():
        raise InvalidArgument("refusing to write a tar to a terminal: use -o FILE or redirect STDOUT")
    sys.stdout.flush()
    with os.fdopen(os.dup(1), "wb") as out:
        engine.containers.export(args[0], out)
    return 0

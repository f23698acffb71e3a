"""`mydocker load [-i FILE]`: docker-archive or OCI-layout tars (plain or compressed)."""

from __future__ import annotations

import sys

from mydocker.flags import Command
from mydocker.errors import InvalidArgument, NotFound

command = (
    Command("load", "Load an image from a tar archive or STDIN", usage="load [OPTIONS]", max_args=0)
    .flag("-i", "--input", kind="str", metavar="FILE", help="read from a file instead of STDIN")
    .flag("-q", "--quiet", help="suppress the load output")
)


def handle(engine, opts, args: list[str]) -> int:
    if opts.input:
        try:
            stream = open(opts.input, "rb")
        except FileNotFoundError:
            raise NotFound(f"archive {opts.input} does not exist: check the path given to -i") from None
    else:
        if sys.stdin.isatty():
            raise InvalidArgument("requested load from STDIN, but STDIN is a terminal: use -i FILE or a pipe")
        stream = sys.stdin.buffer
    with stream:
        lines = engine.images.load(stream)
    if not opts.quiet:
        sys.stdout.write("".join(f"{line}\n" for line in lines))
    return 0

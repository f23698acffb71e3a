"""`mydocker import FILE|- [REPOSITORY[:TAG]]`: a flat rootfs tar becomes a one-layer image."""

from __future__ import annotations

import sys

from mydocker.flags import Command
from mydocker.errors import NotFound

command = (
    Command("import", "Import the contents from a tarball to create a filesystem image",
            usage="import [OPTIONS] file|- [REPOSITORY[:TAG]]", min_args=1, max_args=2)
    .flag("-c", "--change", kind="list", metavar="LINE", help="apply a Dockerfile instruction (CMD, ENV, ...)")
    .flag("-m", "--message", kind="str", metavar="TEXT", help="commit message for the imported image")
)


def handle(engine, opts, args: list[str]) -> int:
    if args[0] == "-":
        stream = sys.stdin.buffer
    else:
        try:
            stream = open(args[0], "rb")
        except FileNotFoundError:
            raise NotFound(f"{args[0]} does not exist: give a tar file or - for STDIN") from None
    with stream:
        image_id = engine.images.import_(stream, args[1] if len(args) > 1 else None, opts.change,
                                         opts.message or "")
    print(image_id)
    return 0

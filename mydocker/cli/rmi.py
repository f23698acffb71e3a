"""`mydocker rmi IMAGE...` (also `image rm`)."""

from __future__ import annotations

import sys

from mydocker.flags import Command
from mydocker.errors import MyDockerError

command = (
    Command("rmi", "Remove one or more images", usage="rmi [OPTIONS] IMAGE [IMAGE...]", min_args=1)
    .flag("-f", "--force", help="untag even if a container uses the image or it has several names")
)


def handle(engine, opts, args: list[str]) -> int:
    failed = None
    for name in args:
        try:
            lines = engine.images.remove(name, force=opts.force)
        except MyDockerError as e:  # Docker goes on with the other images, then fails
            print(f"mydocker: {e}", file=sys.stderr)
            failed = e
            continue
        sys.stdout.write("".join(f"{line}\n" for line in lines))
    return 1 if failed else 0  # Docker's CLI: 1 when any of them failed

"""`mydocker tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]`."""

from __future__ import annotations

from mydocker.flags import Command

command = Command("tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
                  usage="tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", min_args=2, max_args=2)


def handle(engine, opts, args: list[str]) -> int:
    engine.images.tag(args[0], args[1])
    return 0

"""`mydocker port CONTAINER [PRIVATE_PORT[/PROTO]]`: the container's published ports."""

from __future__ import annotations

import sys

from mydocker.flags import Command
from mydocker.errors import NotFound

command = Command("port", "List port mappings or a specific mapping for the container",
                  usage="port CONTAINER [PRIVATE_PORT[/PROTO]]", min_args=1, max_args=2)


def handle(engine, opts, args: list[str]) -> int:
    mappings = engine.containers.port(args[0])
    if len(args) == 2:
        wanted = args[1] if "/" in args[1] else f"{args[1]}/tcp"
        hits = [m for m in mappings if m[0] == wanted]
        if not hits:
            raise NotFound(f"no public port {wanted!r} published for {args[0]}: see `mydocker port {args[0]}`")
        sys.stdout.write("".join(f"{ip}:{port}\n" for _p, ip, port in hits))
        return 0
    sys.stdout.write("".join(f"{private} -> {ip}:{port}\n" for private, ip, port in mappings))
    return 0

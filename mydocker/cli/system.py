"""`mydocker system COMMAND`: `service`, the Docker Engine API for the docker CLI, docker-py, compose;
`df`, disk usage; `events`."""

from __future__ import annotations

import sys

from mydocker.flags import Command
from mydocker.cli.image import group
from mydocker.errors import InvalidArgument
from mydocker.lazy import lazy_module

image = lazy_module("mydocker.cli.image")
server = lazy_module("mydocker.apiserver.server")
cli_images = lazy_module("mydocker.cli.images")
table = lazy_module("mydocker.cli.table")

SUBCOMMANDS = {
    "service": ("mydocker.cli.system", "Serve the Docker Engine API (docker CLI, docker-py) until killed"),
    "df": ("mydocker.cli.system", "Show mydocker disk usage"),
    "events": ("mydocker.cli.events", "Get real time events from the server"),
}

command = group("system", SUBCOMMANDS)

service_command = (
    Command("system service", "Serve the Docker Engine API (docker CLI, docker-py) until killed",
            usage="system service [OPTIONS] [URI]", max_args=1)
    .flag("-t", "--time", kind="int", metavar="SECONDS", default=5,
          help="exit after SECONDS without a connection (0: never; default 5)")
)


def handle(engine, opts, args: list[str]) -> int:
    return image.dispatch(engine, args, SUBCOMMANDS, "system", {"service": (service_command, handle_service),
                                                           "df": (df_command, handle_df)})


def handle_service(engine, opts, args: list[str]) -> int:
    if opts.time < 0:
        raise InvalidArgument(f"invalid --time {opts.time}: give seconds, or 0 to serve until killed")
    # the engine handle is only built here (nothing opened): each connection's worker opens it after the fork
    uri = args[0] if args else f"unix://{engine.system.service_socket()}"  # root's, or the user's own
    return server.serve(uri, lambda: engine, idle=opts.time)


df_command = Command("system df", "Show mydocker disk usage", usage="system df", max_args=0)


def handle_df(engine, opts, args: list[str]) -> int:
    """Docker's summary table: per type, how many, how many in use, their size, what removing the
    unused would free."""
    usage = engine.system.df()
    images = {row["ID"]: row for row in usage["images"]}
    used_images = {i for i, row in images.items() if row["Containers"]}
    image_size = sum(row["Size"] for row in images.values())
    unused = sum(row["Size"] for i, row in images.items() if i not in used_images)
    containers = usage["containers"]
    running = [size for rec, size in containers if rec.status in ("running", "paused")]
    container_size = sum(size for _, size in containers)
    volumes = usage["volumes"]
    volume_size = sum(v["Size"] for v in volumes)
    unused_volumes = sum(v["Size"] for v in volumes if not v["RefCount"])

    def size(n: int) -> str:
        return cli_images.human_size(n, 4)  # `docker system df` shows 4 digits (go-units HumanSize)

    def share(part: int, whole: int) -> str:
        return f"{size(part)} ({part * 100 // whole}%)" if whole else size(part)  # no share of nothing

    rows = ["TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE",
            f"Images\t{len(images)}\t{len(used_images)}\t{size(image_size)}\t{share(unused, image_size)}",
            f"Containers\t{len(containers)}\t{len(running)}\t{size(container_size)}\t"
            f"{share(container_size - sum(running), container_size)}",
            f"Local Volumes\t{len(volumes)}\t{sum(1 for v in volumes if v['RefCount'])}\t{size(volume_size)}\t"
            f"{share(unused_volumes, volume_size)}",
            "Build Cache\t0\t0\t0B\t0B"]
    sys.stdout.write(table.tabwrite(rows))
    return 0

"""`mydocker system COMMAND`: `service`, the Docker Engine API for the docker CLI, docker-py, compose."""

from __future__ import annotations

from mydocker.flags import Command
from mydocker.cli.image import group

SUBCOMMANDS = {
    "service": ("mydocker.cli.system", "Serve the Docker Engine API (docker CLI, docker-py) until killed"),
}

command = group("system", SUBCOMMANDS)

service_command = (
    Command("system service", "Serve the Docker Engine API (docker CLI, docker-py) until killed",
            usage="system service [OPTIONS] [URI]", max_args=1)
    .flag("-t", "--time", kind="int", metavar="SECONDS", default=5,
          help="exit after SECONDS without a connection (0: never; default 5)")
)


def handle(engine, opts, args: list[str]) -> int:
    from mydocker.cli.image import dispatch
    return dispatch(engine, args, SUBCOMMANDS, "system", {"service": (service_command, handle_service)})


def handle_service(engine, opts, args: list[str]) -> int:
    from mydocker.apiserver.server import DEFAULT_URI, serve
    from mydocker.errors import InvalidArgument
    if opts.time < 0:
        raise InvalidArgument(f"invalid --time {opts.time}: give seconds, or 0 to serve until killed")
    # the engine handle is only built here (nothing opened): each connection's worker opens it after the fork
    return serve(args[0] if args else DEFAULT_URI, lambda: engine, idle=opts.time)

"""`mydocker volume COMMAND`: create, ls, inspect, rm, prune."""

from __future__ import annotations

import sys

from mydocker.flags import Command
from mydocker.cli.image import group
from mydocker.errors import InvalidArgument, MyDockerError, NotFound
from mydocker.lazy import lazy_module

image = lazy_module("mydocker.cli.image")
api = lazy_module("mydocker.engine.api")
images = lazy_module("mydocker.cli.images")
inspect = lazy_module("mydocker.cli.inspect")

SUBCOMMANDS = {
    "create": ("mydocker.cli.volume", "Create a volume"),
    "ls": ("mydocker.cli.volume", "List volumes"),
    "inspect": ("mydocker.cli.volume", "Display detailed information on one or more volumes"),
    "rm": ("mydocker.cli.volume", "Remove one or more volumes"),
    "prune": ("mydocker.cli.volume", "Remove unused anonymous volumes"),
}

command = group("volume", SUBCOMMANDS)

create_command = (
    Command("volume create", "Create a volume", usage="volume create [OPTIONS] [VOLUME]", max_args=1)
    .flag("--name", kind="str", metavar="NAME", help="the volume's name")
    .flag("-l", "--label", kind="list", metavar="K=V", help="set metadata on the volume")
    .flag("-d", "--driver", kind="str", metavar="NAME", default="local", help="only local is supported")
)
ls_command = (
    Command("volume ls", "List volumes", usage="volume ls [OPTIONS]", max_args=0)
    .flag("-q", "--quiet", help="only display volume names")
    .flag("-f", "--filter", kind="list", metavar="KEY=VALUE", help="label=KEY[=VALUE] or name=")
)
inspect_command = (
    Command("volume inspect", "Display detailed information on one or more volumes",
            usage="volume inspect VOLUME [VOLUME...]", min_args=1)
    .flag("-f", "--format", kind="str", metavar="FORMAT", help="format the output using a Go template, or json")
)
rm_command = (
    Command("volume rm", "Remove one or more volumes", usage="volume rm [OPTIONS] VOLUME [VOLUME...]", min_args=1)
    .flag("-f", "--force", help="do not fail on a volume that does not exist")
)
prune_command = (
    Command("volume prune", "Remove unused anonymous volumes", usage="volume prune [OPTIONS]", max_args=0)
    .flag("-a", "--all", help="remove named volumes too")
    .flag("-f", "--force", help="do not prompt for confirmation")
)


def handle(engine, opts, args: list[str]) -> int:
    return image.dispatch(engine, args, SUBCOMMANDS, "volume", {
        "create": (create_command, handle_create), "ls": (ls_command, handle_ls),
        "inspect": (inspect_command, handle_inspect), "rm": (rm_command, handle_rm),
        "prune": (prune_command, handle_prune)})


def handle_create(engine, opts, args: list[str]) -> int:
    if opts.driver != "local":
        raise InvalidArgument(f"volume driver {opts.driver!r} is not available: only local is")
    if args and opts.name and args[0] != opts.name:
        raise InvalidArgument(f"conflicting names: {args[0]} and --name {opts.name}: give one")
    print(engine.volumes.create(args[0] if args else opts.name, labels=api.parse_labels(opts.label)))
    return 0


def handle_ls(engine, opts, args: list[str]) -> int:
    volumes = engine.volumes.list(api.parse_object_filters(opts.filter, ("label", "name", "dangling", "driver")))
    if opts.quiet:
        sys.stdout.write("".join(f"{v['Name']}\n" for v in volumes))
    else:
        sys.stdout.write(images.table(["DRIVER", "VOLUME NAME"], [[v["Driver"], v["Name"]] for v in volumes]))
    return 0


def handle_inspect(engine, opts, args: list[str]) -> int:
    docs, missing = [], []
    for name in args:
        try:
            doc = engine.volumes.inspect(name)
        except NotFound:
            missing.append(name)
            continue
        doc.pop("Anonymous", None)
        doc.pop("UsedBy", None)
        docs.append(doc)
    inspect.write_documents(docs, opts.format)
    if missing:
        raise NotFound(f"no such volume: {', '.join(missing)}")
    return 0


def handle_rm(engine, opts, args: list[str]) -> int:
    failed = None
    for name in args:
        try:
            engine.volumes.remove(name, force=opts.force)
            print(name)
        except MyDockerError as e:
            print(f"mydocker: {e}", file=sys.stderr)
            failed = e
    return 1 if failed else 0  # Docker's CLI: 1 when any of them failed


def handle_prune(engine, opts, args: list[str]) -> int:
    if not opts.force and sys.stdin.isatty():
        sys.stdout.write("WARNING! This will remove anonymous local volumes not used by at least one container.\n"
                         "Are you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    removed = engine.volumes.prune(all_volumes=opts.all)
    if removed:
        sys.stdout.write("Deleted Volumes:\n" + "".join(f"{n}\n" for n in removed))
    return 0

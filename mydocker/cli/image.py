"""`mydocker image COMMAND`: ls, rm, prune, inspect, tag, history, save, load, import."""

from __future__ import annotations

import sys

from mydocker.flags import Command, UsageError, check_args, parse
from mydocker.errors import NotFound
from mydocker.lazy import lazy_module

importlib = lazy_module("importlib")
main = lazy_module("mydocker.cli.main")
inspect = lazy_module("mydocker.cli.inspect")

SUBCOMMANDS = {
    "ls": ("mydocker.cli.images", "List images"),
    "rm": ("mydocker.cli.rmi", "Remove one or more images"),
    "prune": ("mydocker.cli.image", "Remove unused images"),
    "inspect": ("mydocker.cli.image", "Display detailed information on one or more images"),
    "tag": ("mydocker.cli.tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"),
    "history": ("mydocker.cli.history", "Show the history of an image"),
    "save": ("mydocker.cli.save", "Save one or more images to a tar archive"),
    "load": ("mydocker.cli.load", "Load an image from a tar archive or STDIN"),
    "import": ("mydocker.cli.import_", "Import the contents from a tarball to create a filesystem image"),
}


def group(noun: str, subcommands: dict) -> Command:
    """`mydocker NOUN COMMAND`: the management command listing `subcommands` (name -> (module, summary))."""
    cmd = Command(noun, f"Manage {noun}s", usage=f"{noun} COMMAND", interspersed=False)
    for name, (_module, summary) in subcommands.items():
        cmd.subcommands[name] = Command(name, summary)
    return cmd


command = group("image", SUBCOMMANDS)

prune_command = (
    Command("image prune", "Remove unused images", usage="image prune [OPTIONS]", max_args=0)
    .flag("-a", "--all", help="remove all images no container uses, not just untagged ones")
    .flag("-f", "--force", help="do not prompt for confirmation")
)
inspect_command = (
    Command("image inspect", "Display detailed information on one or more images",
            usage="image inspect [OPTIONS] IMAGE [IMAGE...]", min_args=1)
    .flag("-f", "--format", kind="str", metavar="FORMAT", help="format the output using a Go template, or json")
)


def dispatch(engine, args: list[str], subcommands: dict, noun: str, local: dict) -> int:
    """Run `noun SUB ...`: SUB's command and handler live in the module `subcommands` names."""
    if not args:
        sys.stdout.write(group(noun, subcommands).help_text(main.PROG))
        return 0
    sub, rest = args[0], args[1:]
    if sub not in subcommands:
        raise UsageError(f"unknown command: {noun} {sub}. See '{main.PROG} {noun} --help'.")
    module_name = subcommands[sub][0]
    if sub in local:
        cmd, handler = local[sub]
    else:
        module = importlib.import_module(module_name)
        cmd, handler = module.command, module.handle
    opts, positionals = parse(cmd, rest, main.PROG)
    if opts.get("help"):
        sys.stdout.write(cmd.help_text(main.PROG))
        return 0
    check_args(cmd, positionals, main.PROG)
    return handler(engine, opts, positionals)



def handle(engine, opts, args: list[str]) -> int:
    return dispatch(engine, args, SUBCOMMANDS, "image",
                    {"prune": (prune_command, handle_prune), "inspect": (inspect_command, handle_inspect)})


def handle_prune(engine, opts, args: list[str]) -> int:
    if not opts.force and sys.stdin.isatty():
        what = "all images without at least one container associated to them" if opts.all else "all dangling images"
        sys.stdout.write(f"WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    lines = engine.images.prune(all_images=opts.all)
    if lines:
        sys.stdout.write("Deleted Images:\n" + "".join(f"{line}\n" for line in lines))
    return 0


def handle_inspect(engine, opts, args: list[str]) -> int:
    docs, missing = [], []
    for name in args:
        try:
            docs.append(engine.images.inspect(name))
        except NotFound:
            missing.append(name)
    inspect.write_documents(docs, opts.format)
    if missing:
        raise NotFound(f"no such image: {', '.join(missing)}")
    return 0

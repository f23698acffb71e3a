"""`mydocker`: parse, call the engine, map errors to Docker's exit codes (125 engine, 126, 127).

Only the module of the command being run is imported: start-up time is a feature.
"""

from __future__ import annotations

import importlib
import os
import sys

from mydocker.cli.flags import Command, UsageError, check_args, parse
from mydocker.errors import MyDockerError

PROG = "mydocker"
VERSION = "0.1.0"

# name -> (module holding `command` and `handle`, summary for the top-level help)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("mydocker.cli.run", "Create and run a new container from an image"),
}


def root_command() -> Command:
    cmd = Command("", "A container engine in Python.", usage="[OPTIONS] COMMAND", interspersed=False)
    cmd.flag("--root", kind="str", metavar="DIR", default=os.environ.get("MYDOCKER_ROOT", "/var/lib/mydocker"),
             help="engine state directory (default /var/lib/mydocker)")
    cmd.flag("--runroot", kind="str", metavar="DIR", default=os.environ.get("MYDOCKER_RUNROOT", "/run/mydocker"),
             help="runtime state directory (default /run/mydocker)")
    cmd.flag("-v", "--version", help="print the version and exit")
    for name, (_module, summary) in COMMANDS.items():
        cmd.subcommands[name] = Command(name, summary)
    return cmd


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        top = root_command()
        glob, rest = parse(top, argv, PROG)
        if glob.version:
            print(f"mydocker version {VERSION}")
            return 0
        if not rest or glob.get("help"):
            sys.stdout.write(top.help_text(PROG))
            return 0 if glob.get("help") or not argv else 125
        name, args = rest[0], rest[1:]
        if name not in COMMANDS:
            raise UsageError(f"unknown command: {name!r}. See '{PROG} --help'.")
        module = importlib.import_module(COMMANDS[name][0])
        cmd: Command = module.command
        opts, positionals = parse(cmd, args, PROG)
        if opts.get("help"):
            sys.stdout.write(cmd.help_text(PROG))
            return 0
        check_args(cmd, positionals, PROG)
        from mydocker.engine.engine import Engine
        return module.handle(Engine(root=glob.root, runroot=glob.runroot), opts, positionals)
    except MyDockerError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except OSError as e:
        print(f"{PROG}: {e.strerror or e}{f': {e.filename}' if e.filename else ''}", file=sys.stderr)
        return 125


def run_main() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run_main()

"""`mydocker`: parse, call the engine, map errors to Docker's exit codes (125 engine, 126, 127)."""

from __future__ import annotations

import os
import sys

from mydocker.errors import MyDockerError

COMMANDS = ("run",)


def build_parser():
    from mydocker.cli import run
    from mydocker.cli.parser import new_parser
    parser = new_parser("mydocker", "A container engine in Python.")
    parser.add_argument("--root", default=os.environ.get("MYDOCKER_ROOT", "/var/lib/mydocker"),
                        help="engine state directory (default /var/lib/mydocker)")
    parser.add_argument("--runroot", default=os.environ.get("MYDOCKER_RUNROOT", "/run/mydocker"),
                        help="runtime state directory (default /run/mydocker)")
    sub = parser.add_subparsers(dest="command_name", metavar="COMMAND", parser_class=type(parser))
    run.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args, extra = build_parser().parse_known_args(argv)
        if extra:
            from mydocker.cli.parser import UsageError
            where = f"mydocker {args.command_name}" if getattr(args, "command_name", None) else "mydocker"
            raise UsageError(f"unknown flag or argument: {extra[0]}. See '{where} --help'.")
        if not getattr(args, "handler", None):
            build_parser().print_help()
            return 0 if not argv else 125
        from mydocker.engine.engine import Engine
        return args.handler(Engine(root=args.root, runroot=args.runroot), args)
    except MyDockerError as e:
        print(f"mydocker: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except OSError as e:
        print(f"mydocker: {e.strerror or e}{f': {e.filename}' if e.filename else ''}", file=sys.stderr)
        return 125


def run_main() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run_main()

"""A small command-line parser with Docker's (pflag's) manners, shared by `mydocker` and `mydocker-runtime`.

Why not argparse: it loads gettext, locale and shutil on every start (docs/startup.md), and its
intermixed positionals are not Docker's. What this does:
  -t -i / -ti, --name x / --name=x, -e K=V / -eK=V, repeated list flags, `--` ends the flags,
  and for `run`/`exec` flags stop at the first positional (everything after is the command).
Errors are one line (UsageError; FlagError for a flag the parser refuses, which Docker's CLI exits
125 for).
"""

from __future__ import annotations

from mydocker.errors import InvalidArgument
from mydocker.recordclass import factory, record


class UsageError(InvalidArgument):
    pass


class FlagError(UsageError):
    """An unknown flag, a flag without its value, or a value of the wrong kind."""


@record
class Flag:
    names: tuple          # e.g. ("-e", "--env")
    kind: str = "bool"    # bool | str | int | list
    help: str = ""
    metavar: str = ""
    default: object = None

    @property
    def dest(self) -> str:
        long = next((n for n in self.names if n.startswith("--")), self.names[0])
        return long.lstrip("-").replace("-", "_")


@record
class Command:
    name: str
    summary: str
    usage: str = ""                 # after the command name, e.g. "[OPTIONS] IMAGE [COMMAND] [ARG...]"
    flags: list = factory(list)
    min_args: int = 0
    max_args: int | None = None
    interspersed: bool = True       # False: flags end at the first positional (run, exec)
    handler: object = None
    subcommands: dict = factory(dict)

    def flag(self, *names: str, kind: str = "bool", help: str = "", metavar: str = "", default=None) -> Command:
        self.flags.append(Flag(names, kind, help, metavar, default))
        return self

    def help_text(self, prog: str) -> str:
        lines = [f"Usage:  {prog} {self.usage or '[OPTIONS]'}".rstrip(), "", self.summary]
        if self.subcommands:
            lines += ["", "Commands:"]
            lines += [f"  {name:<12}{cmd.summary}" for name, cmd in self.subcommands.items()]
        if self.flags:
            lines += ["", "Options:"]
            for f in self.flags:
                shorts = [n for n in f.names if not n.startswith("--")]
                longs = [n for n in f.names if n.startswith("--")]
                text = ", ".join(shorts + longs) + (f" {f.metavar or f.kind}" if f.kind != "bool" else "")
                lines.append(f"  {text:<28}{f.help}")
        return "\n".join(lines) + "\n"


class Options(dict):
    """Parsed flag values, readable as attributes: opts.name, opts.env."""

    def __getattr__(self, key: str):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


def parse(cmd: Command, argv: list[str], prog: str) -> tuple[Options, list[str]]:
    by_name = {n: f for f in cmd.flags for n in f.names}
    opts = Options({f.dest: ([] if f.kind == "list" else (False if f.kind == "bool" else f.default))
                    for f in cmd.flags})
    args: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        i += 1
        if token == "--":
            args += argv[i:]
            break
        if token == "--help" or (token == "-h" and "-h" not in by_name):
            opts["help"] = True
            continue
        if not token.startswith("-") or token == "-":
            args.append(token)
            if not cmd.interspersed:
                args += argv[i:]
                break
            continue
        if token.startswith("--"):
            name, eq, value = token.partition("=")
            flag = _lookup(by_name, name, cmd, prog)
            if flag.kind == "bool":
                if eq:
                    opts[flag.dest] = _bool(value, name, cmd, prog)
                else:
                    opts[flag.dest] = True
                continue
            if not eq:
                value, i = _next_value(argv, i, name, cmd, prog)
            _store(opts, flag, value, name, cmd, prog)
            continue
        # short flags, possibly combined: -ti, -e K=V, -eK=V, -e=K=V
        j = 1
        while j < len(token):
            name = "-" + token[j]
            flag = _lookup(by_name, name, cmd, prog)
            j += 1
            if flag.kind == "bool":
                opts[flag.dest] = True
                continue
            value = token[j:].removeprefix("=")
            if not value:
                value, i = _next_value(argv, i, name, cmd, prog)
            _store(opts, flag, value, name, cmd, prog)
            break
    return opts, args


def check_args(cmd: Command, args: list[str], prog: str) -> None:
    if len(args) < cmd.min_args:
        what = "argument" if cmd.min_args == 1 else "arguments"
        raise UsageError(f"'{prog} {cmd.name}' requires at least {cmd.min_args} {what}. "
                         f"See '{prog} {cmd.name} --help'.")
    if cmd.max_args is not None and len(args) > cmd.max_args:
        raise UsageError(f"'{prog} {cmd.name}' accepts at most {cmd.max_args} argument"
                         f"{'s' if cmd.max_args != 1 else ''}, got {len(args)}: {' '.join(args)}. "
                         f"See '{prog} {cmd.name} --help'.")


def _next_value(argv: list[str], i: int, name: str, cmd: Command, prog: str) -> tuple[str, int]:
    """The separate argument of a flag (`--name x`, `-e K=V`) and the index after it."""
    if i >= len(argv):
        raise FlagError(f"flag needs an argument: {name}. See '{prog} {cmd.name} --help'.")
    return argv[i], i + 1


def _lookup(by_name: dict, name: str, cmd: Command, prog: str) -> Flag:
    flag = by_name.get(name)
    if flag is None:
        where = f"{prog} {cmd.name}".strip()
        raise FlagError(f"unknown flag: {name}. See '{where} --help'.")
    return flag


def _bool(value: str, name: str, cmd: Command, prog: str) -> bool:
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise FlagError(f"invalid value {value!r} for {name}: use true or false")


def _store(opts: Options, flag: Flag, value: str, name: str, cmd: Command, prog: str) -> None:
    if flag.kind == "list":
        opts[flag.dest].append(value)
    elif flag.kind == "int":
        try:
            opts[flag.dest] = int(value)
        except ValueError:
            raise FlagError(f"invalid value {value!r} for {name}: a whole number is needed") from None
    else:
        opts[flag.dest] = value

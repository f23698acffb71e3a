"""`mydocker login`: check credentials against a registry and store them like Docker."""

from __future__ import annotations

import sys

from mydocker.flags import Command
from mydocker.lazy import lazy_module

flags = lazy_module("mydocker.flags")
pull = lazy_module("mydocker.cli.pull")
getpass = lazy_module("getpass")

command = (
    Command("login", "Log in to a registry", usage="login [OPTIONS] [SERVER]", max_args=1)
    .flag("-u", "--username", kind="str", metavar="USER", help="user name")
    .flag("-p", "--password", kind="str", metavar="PASSWORD", help="password (prefer --password-stdin)")
    .flag("--password-stdin", help="read the password from standard input")
    .flag("--tls-verify", kind="str", metavar="BOOL",
          help="false: allow plain HTTP and unverified TLS for this registry")
)


def handle(engine, opts, args: list[str]) -> int:
    user, password = opts.username, opts.password
    if opts.password_stdin:
        if password:
            raise flags.UsageError("--password and --password-stdin are mutually exclusive: use one")
        if not user:
            raise flags.UsageError("--password-stdin needs --username: give the user name with -u")
        password = sys.stdin.read().rstrip("\r\n")
    if not user:
        user = _ask("Username: ")
    if not password:
        if not sys.stdin.isatty():
            raise flags.UsageError("no password given: use --password-stdin or run on a terminal")
        password = getpass.getpass("Password: ")
    if not user or not password:
        raise flags.UsageError("a user name and a password are needed to log in")
    if opts.password:
        print("WARNING! Using --password via the CLI is insecure. Use --password-stdin.", file=sys.stderr)
    path = engine.images.login(args[0] if args else "", user, password, tls_verify=pull.tls_verify(opts))
    print(f"Login Succeeded (credentials stored in {path})")
    return 0


def _ask(prompt: str) -> str:
    if not sys.stdin.isatty():
        raise flags.UsageError("no user name given: use -u/--username")
    return input(prompt).strip()

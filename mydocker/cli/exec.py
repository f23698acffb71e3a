"""`mydocker exec`: run a command in a running container (its namespaces and cgroup)."""

from __future__ import annotations

import sys

from mydocker.flags import Command
from mydocker.lazy import lazy_module

terminal = lazy_module("mydocker.cli.terminal")
api = lazy_module("mydocker.engine.api")

command = (
    Command("exec", "Execute a command in a running container", usage="exec [OPTIONS] CONTAINER COMMAND [ARG...]",
            min_args=2, interspersed=False)
    .flag("-i", "--interactive", help="keep stdin open")
    .flag("-t", "--tty", help="allocate a pseudo-terminal")
    .flag("-d", "--detach", help="run the command in the background")
    .flag("-e", "--env", kind="list", metavar="K=V", help="set an environment variable")
    .flag("-u", "--user", kind="str", metavar="USER", help="user[:group] or uid[:gid]")
    .flag("-w", "--workdir", kind="str", metavar="DIR", help="working directory inside the container")
    .flag("--privileged", help="accepted for compatibility: the process gets the container's privileges")
    .flag("--detach-keys", kind="str", metavar="KEYS", help="the keys that detach from a -it exec (ctrl-p,ctrl-q)")
)


def handle(engine, opts, args: list[str]) -> int:
    if terminal.stdin_not_a_terminal(opts):
        return 1
    streams = terminal.terminal_streams()
    streams.on_detach = lambda: False  # detached: a child of ours holds the exec's console, we return
    code = engine.containers.exec(args[0], api.ExecOptions(args[1:], env=opts.env, user=opts.user, workdir=opts.workdir,
                                                           tty=opts.tty, interactive=opts.interactive,
                                                           detach=opts.detach, detach_keys=opts.detach_keys), streams)
    if code == api.DETACHED:
        print("read escape sequence", file=sys.stderr)  # the docker CLI's words, and its exit code
        return 1
    return code

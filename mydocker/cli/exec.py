"""`mydocker exec`: run a command in a running container (its namespaces and cgroup)."""

from __future__ import annotations

from mydocker.flags import Command

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
)


def handle(engine, opts, args: list[str]) -> int:
    from mydocker.cli.terminal import stdin_not_a_terminal, terminal_streams
    if stdin_not_a_terminal(opts):
        return 1
    from mydocker.engine.api import ExecOptions
    return engine.containers.exec(args[0], ExecOptions(args[1:], env=opts.env, user=opts.user, workdir=opts.workdir,
                                                       tty=opts.tty, interactive=opts.interactive,
                                                       detach=opts.detach), terminal_streams())

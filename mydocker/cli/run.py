"""`mydocker run`."""

from __future__ import annotations

from mydocker.cli.flags import Command

command = (
    Command("run", "Create and run a new container from an image",
            usage="run [OPTIONS] IMAGE [COMMAND] [ARG...]", min_args=1, interspersed=False)
    .flag("-i", "--interactive", help="keep stdin open")
    .flag("-t", "--tty", help="allocate a pseudo-terminal")
    .flag("--rm", help="remove the container when it exits")
    .flag("--name", kind="str", metavar="NAME", help="name the container")
    .flag("-e", "--env", kind="list", metavar="K=V", help="set an environment variable")
    .flag("-h", "--hostname", kind="str", metavar="NAME", help="container host name")
    .flag("-w", "--workdir", kind="str", metavar="DIR", help="working directory inside the container")
    .flag("-u", "--user", kind="str", metavar="USER", help="user[:group] or uid[:gid]")
    .flag("--entrypoint", kind="str", metavar="CMD", help="override the image's entrypoint")
)


def handle(engine, opts, args: list[str]) -> int:
    from mydocker.engine.options import RunOptions
    run_opts = RunOptions(image=args[0], command=args[1:], name=opts.name, env=opts.env, tty=opts.tty,
                          interactive=opts.interactive, remove=opts.rm, hostname=opts.hostname,
                          workdir=opts.workdir, user=opts.user, entrypoint=opts.entrypoint)
    return engine.containers.run(run_opts)

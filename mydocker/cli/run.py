"""`mydocker run`."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="run a command in a new container", allow_abbrev=False, add_help=False,
                       description="Run a command in a new container.")
    p.add_argument("-i", "--interactive", action="store_true", help="keep stdin open")
    p.add_argument("-t", "--tty", action="store_true", help="allocate a pseudo-terminal")
    p.add_argument("--rm", action="store_true", help="remove the container when it exits")
    p.add_argument("--name", help="name the container")
    p.add_argument("-e", "--env", action="append", default=[], metavar="K=V", help="set an environment variable")
    p.add_argument("-h", "--hostname", help="container host name")
    p.add_argument("-w", "--workdir", help="working directory inside the container")
    p.add_argument("-u", "--user", help="user[:group] or uid[:gid]")
    p.add_argument("--entrypoint", help="override the image's entrypoint")
    p.add_argument("--help", action="help", help="show this help")
    p.add_argument("image", help="the image to run")
    p.add_argument("command", nargs=argparse.REMAINDER, help="command and arguments")
    p.set_defaults(handler=run)


def run(engine, args) -> int:
    from mydocker.engine.options import RunOptions
    opts = RunOptions(image=args.image, command=args.command, name=args.name, env=args.env, tty=args.tty,
                      interactive=args.interactive, remove=args.rm, hostname=args.hostname,
                      workdir=args.workdir, user=args.user, entrypoint=args.entrypoint)
    return engine.containers.run(opts)

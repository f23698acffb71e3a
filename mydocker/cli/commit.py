"""`mydocker commit CONTAINER [REPOSITORY[:TAG]]`: the container's changes become a new image."""

from __future__ import annotations

from mydocker.flags import Command
from mydocker.lazy import lazy_module

api = lazy_module("mydocker.engine.api")

command = (
    Command("commit", "Create a new image from a container's changes",
            usage="commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]", min_args=1, max_args=2)
    .flag("-a", "--author", kind="str", metavar="NAME", help='author (e.g. "Jane <jane@example.com>")')
    .flag("-c", "--change", kind="list", metavar="LINE", help="apply a Dockerfile instruction (CMD, ENV, WORKDIR, ...)")
    .flag("-m", "--message", kind="str", metavar="TEXT", help="commit message")
    .flag("-p", "--pause", kind="str", metavar="BOOL", help="accepted for compatibility")
)


def handle(engine, opts, args: list[str]) -> int:
    print(engine.containers.commit(args[0], api.CommitOptions(args[1] if len(args) > 1 else None, opts.change,
                                                              message=opts.message or "", author=opts.author or "")))
    return 0

"""`mydocker build [OPTIONS] PATH`: build an image from a Dockerfile and a context directory."""

from __future__ import annotations

import sys

from mydocker.flags import Command
from mydocker.lazy import lazy_module

api = lazy_module("mydocker.engine.api")

command = (
    Command("build", "Build an image from a Dockerfile", usage="build [OPTIONS] PATH | -", min_args=1, max_args=1)
    .flag("-t", "--tag", kind="list", metavar="NAME[:TAG]", help="name (and optionally tag) the image")
    .flag("-f", "--file", kind="str", metavar="PATH", help="the Dockerfile (default PATH/Dockerfile; - reads stdin)")
    .flag("--build-arg", kind="list", metavar="K=V", help="set a build-time variable")
    .flag("--no-cache", help="do not use the cache when building")
    .flag("-q", "--quiet", help="print only the image ID")
    .flag("--network", kind="str", metavar="NET", help="network for RUN: bridge (default), none, host or a network")
    .flag("--label", kind="list", metavar="K=V", help="set metadata on the image")
)


def handle(engine, opts, args: list[str]) -> int:
    stdin = sys.stdin.buffer.read() if "-" in (args[0], opts.file) else None  # build -, -f -
    image_id = engine.images.build(api.BuildOptions(context=args[0], dockerfile=opts.file, tags=opts.tag,
                                                    build_args=opts.build_arg, no_cache=opts.no_cache, quiet=opts.quiet,
                                                    network=opts.network, stdin=stdin,
                                                    labels=api.parse_labels(opts.label)),
                                   sys.stdout, api.Streams(None, 1, 2))
    if opts.quiet:
        print(image_id)
    return 0

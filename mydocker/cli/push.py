"""`mydocker push`."""

from __future__ import annotations

from mydocker.flags import Command
from mydocker.lazy import lazy_module

cli_progress = lazy_module("mydocker.cli.progress")
pull = lazy_module("mydocker.cli.pull")

command = (
    Command("push", "Upload an image to a registry", usage="push [OPTIONS] NAME[:TAG]", min_args=1, max_args=1)
    .flag("-q", "--quiet", help="print nothing but errors")
    .flag("--tls-verify", kind="str", metavar="BOOL",
          help="false: allow plain HTTP and unverified TLS for this registry")
)


def handle(engine, opts, args: list[str]) -> int:
    progress = None if opts.quiet else cli_progress.Progress()
    engine.images.push(args[0], tls_verify=pull.tls_verify(opts), progress=progress)
    return 0

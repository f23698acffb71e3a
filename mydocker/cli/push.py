"""`mydocker push`."""

from __future__ import annotations

from mydocker.flags import Command

command = (
    Command("push", "Upload an image to a registry", usage="push [OPTIONS] NAME[:TAG]", min_args=1, max_args=1)
    .flag("-q", "--quiet", help="print nothing but errors")
    .flag("--tls-verify", kind="str", metavar="BOOL",
          help="false: allow plain HTTP and unverified TLS for this registry")
)


def handle(engine, opts, args: list[str]) -> int:
    from mydocker.cli.progress import Progress
    from mydocker.cli.pull import tls_verify
    progress = None if opts.quiet else Progress()
    engine.images.push(args[0], tls_verify=tls_verify(opts), progress=progress)
    return 0

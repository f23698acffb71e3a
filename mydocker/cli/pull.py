"""`mydocker pull`."""

from __future__ import annotations

from mydocker.flags import Command
from mydocker.lazy import lazy_module

flags = lazy_module("mydocker.flags")
cli_progress = lazy_module("mydocker.cli.progress")
api = lazy_module("mydocker.engine.api")

command = (
    Command("pull", "Download an image from a registry", usage="pull [OPTIONS] NAME[:TAG|@DIGEST]",
            min_args=1, max_args=1)
    .flag("--platform", kind="str", metavar="OS/ARCH", help="pull this platform of a multi-platform image")
    .flag("-q", "--quiet", help="print only the image name")
    .flag("--tls-verify", kind="str", metavar="BOOL",
          help="false: allow plain HTTP and unverified TLS for this registry")
)


def tls_verify(opts) -> bool | None:
    value = opts.tls_verify
    if value is None:
        return None
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise flags.FlagError(f"invalid value {value!r} for --tls-verify: use true or false")


def handle(engine, opts, args: list[str]) -> int:
    progress = None if opts.quiet else cli_progress.Progress()
    report = engine.images.pull(args[0], api.PullOptions(platform=opts.platform, tls_verify=tls_verify(opts)), progress)
    print(report.reference)   # Docker's last line, and all of it with -q
    return 0

"""`mydocker pull`."""

from __future__ import annotations

from mydocker.flags import Command

command = (
    Command("pull", "Download an image from a registry", usage="pull [OPTIONS] NAME[:TAG|@DIGEST]",
            min_args=1, max_args=1)
    .flag("--platform", kind="str", metavar="OS/ARCH", help="pull this platform of a multi-platform image")
    .flag("-q", "--quiet", help="print only the image name")
    .flag("--tls-verify", kind="str", metavar="BOOL",
          help="false: allow plain HTTP and unverified TLS for this registry")
)


def tls_verify(opts) -> bool | None:
    from mydocker.flags import UsageError
    value = opts.tls_verify
    if value is None:
        return None
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise UsageError(f"invalid value {value!r} for --tls-verify: use true or false")


def handle(engine, opts, args: list[str]) -> int:
    from mydocker.cli.progress import Progress
    from mydocker.engine.api import PullOptions
    progress = None if opts.quiet else Progress()
    report = engine.images.pull(args[0], PullOptions(platform=opts.platform, tls_verify=tls_verify(opts)), progress)
    print(report.reference)   # Docker's last line, and all of it with -q
    return 0

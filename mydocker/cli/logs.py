"""`mydocker logs`: a container's output from its json-file log, stdout and stderr kept apart."""

from __future__ import annotations

import sys
import time

from mydocker.flags import Command
from mydocker.errors import InvalidArgument
from mydocker.lazy import lazy_module

re = lazy_module("re")
api = lazy_module("mydocker.engine.api")

command = (
    Command("logs", "Fetch the logs of a container", usage="logs [OPTIONS] CONTAINER", min_args=1, max_args=1)
    .flag("-f", "--follow", help="follow log output until the container exits")
    .flag("-n", "--tail", kind="str", metavar="N", default="all", help="number of lines to show from the end")
    .flag("-t", "--timestamps", help="show timestamps")
    .flag("--since", kind="str", metavar="TIME", help="show logs since a timestamp (RFC 3339) or a relative time (42m)")
    .flag("--until", kind="str", metavar="TIME", help="show logs before a timestamp or a relative time")
    .flag("--details", help="accepted for compatibility; no extra attributes are logged")
)


def parse_when(value: str | None, flag: str) -> int | None:
    """Docker's --since/--until: RFC 3339, a Unix time (1700000000.5) or a duration ago (10s, 5m, 2h)."""
    if value is None:
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)", value)
    if m:
        unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}[m.group(2)]
        return time.time_ns() - int(float(m.group(1)) * unit * 1e9)
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return int(float(value) * 1e9)
    try:
        if re.fullmatch(r"\d{4}-\d\d-\d\d", value):
            value += "T00:00:00Z"
        return api.parse_time(value)
    except ValueError:
        raise InvalidArgument(f"invalid value {value!r} for {flag}: use an RFC 3339 time "
                              "(2024-05-01T10:00:00Z), a Unix time, or a duration such as 10m") from None


def handle(engine, opts, args: list[str]) -> int:
    tail = None
    if opts.tail != "all":
        if not opts.tail.lstrip("-").isdigit():
            raise InvalidArgument(f"invalid value {opts.tail!r} for --tail: give a number of lines or all")
        tail = int(opts.tail) if int(opts.tail) >= 0 else None
    since, until = parse_when(opts.since, "--since"), parse_when(opts.until, "--until")
    out = {"stdout": sys.stdout.buffer, "stderr": sys.stderr.buffer}

    def write(stream: str, data: bytes) -> None:
        out[stream].write(data)
        out[stream].flush()

    try:
        engine.containers.logs(args[0], api.LogsOptions(follow=opts.follow, since=since, until=until, tail=tail,
                                                        timestamps=opts.timestamps), write)
    except BrokenPipeError:
        pass
    return 0

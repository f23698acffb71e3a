"""`mydocker events`: the engine's events (engine/events.py), as `docker events` prints them."""

from __future__ import annotations

import sys
import time

from mydocker.flags import Command
from mydocker.errors import InvalidArgument
from mydocker.lazy import lazy_module

api = lazy_module("mydocker.engine.api")
jsonio = lazy_module("mydocker.jsonio")
gotemplate = lazy_module("mydocker.cli.gotemplate")

command = (
    Command("events", "Get real time events from the server", usage="events [OPTIONS]", max_args=0)
    .flag("-f", "--filter", kind="list", metavar="KEY=VALUE", help="filter: type, container, event, image, label")
    .flag("--since", kind="str", metavar="TIME", help="show events since a time (Unix seconds or RFC 3339)")
    .flag("--until", kind="str", metavar="TIME", help="stream events until this time")
    .flag("--format", kind="str", metavar="TEMPLATE", help="a Go template per event, or json")
)


def _time_ns(text: str | None, flag: str) -> int | None:
    """Unix seconds (with a fraction), an RFC 3339 time, or a duration before now (10m, 1h)."""
    if not text:
        return None
    seconds, dot, frac = text.partition(".")
    if seconds.isdigit() and (not dot or frac.isdigit()):
        return int(seconds) * 1_000_000_000 + int((frac or "0")[:9].ljust(9, "0"))
    units = {"s": 1, "m": 60, "h": 3600}
    if text[:-1].isdigit() and text[-1] in units:
        return time.time_ns() - int(text[:-1]) * units[text[-1]] * 1_000_000_000
    try:
        return api.parse_time(text)
    except ValueError:
        raise InvalidArgument(f"invalid {flag} {text!r}: Unix seconds, an RFC 3339 time or a duration (10m)") from None


def line(doc: dict) -> str:
    """Docker's default line: time, type, action, actor id, (attributes sorted)."""
    ns = doc.get("timeNano", 0)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000)) + f".{ns % 1_000_000_000:09d}Z"
    attrs = (doc.get("Actor") or {}).get("Attributes") or {}
    text = ", ".join(f"{k}={v}" for k, v in sorted(attrs.items()))
    actor = (doc.get("Actor") or {}).get("ID", "")
    return f"{stamp} {doc.get('Type')} {doc.get('Action')} {actor}" + (f" ({text})" if text else "")


def handle(engine, opts, args: list[str]) -> int:
    filters: dict[str, list[str]] = {}
    for item in opts.filter or []:
        key, _, value = item.partition("=")
        filters.setdefault(key, []).append(value)
    since, until = _time_ns(opts.since, "--since"), _time_ns(opts.until, "--until")
    if opts.format == "json":
        render = jsonio.dumps
    elif opts.format:

        def render(doc: dict) -> str:
            return gotemplate.render(opts.format, doc)
    else:
        render = line

    def write(doc: dict) -> None:
        sys.stdout.write(render(doc) + "\n")
        sys.stdout.flush()

    try:
        engine.system.events(since, until, filters, write, follow=until is None or until > time.time_ns())
    except (KeyboardInterrupt, BrokenPipeError):  # ^C, or a reader such as `head` that had enough
        return 0
    return 0

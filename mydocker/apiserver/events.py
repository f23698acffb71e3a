"""GET /events: the engine's event log (engine/events.py) streamed as Docker streams it, one JSON
document per line; `since`/`until` in Unix seconds (or RFC 3339), `filters` as Docker's JSON.
Each handler takes a handlers.Context (handlers imports this module for its ROUTES)."""

from __future__ import annotations

import json
import time

from mydocker.apiserver.http import HTTPError


def _time_ns(value: str | None) -> int | None:
    """Docker's since/until: Unix seconds with an optional fraction, or an RFC 3339 time."""
    if value in (None, ""):
        return None
    seconds, dot, frac = value.partition(".")
    if seconds.lstrip("-").isdigit() and (not dot or frac.isdigit()):
        return int(seconds) * 1_000_000_000 + int((frac or "0")[:9].ljust(9, "0"))
    from mydocker.engine.api import parse_time
    try:
        return parse_time(value)
    except ValueError:
        raise HTTPError(400, f"invalid time {value!r}: Unix seconds or an RFC 3339 time were expected") from None


def system_events(ctx) -> None:
    req = ctx.req
    since, until = _time_ns(req.arg("since")), _time_ns(req.arg("until"))
    filters = _filters(req.arg("filters"))
    system = ctx.api.system
    out = ctx.chunked("application/json")
    if until is None and since is None:
        until = None
    system.events(since, until, filters, lambda doc: out.write(json.dumps(doc).encode() + b"\n"),
                  follow=until is None or until > time.time_ns())
    out.close()


def _filters(text: str | None) -> dict[str, list[str]]:
    """Docker's filters JSON: {"key": ["v"]} or the older {"key": {"v": true}}."""
    if not text:
        return {}
    try:
        raw = json.loads(text)
    except ValueError:
        raise HTTPError(400, f"invalid filters {text!r}: JSON was expected") from None
    if not isinstance(raw, dict):
        raise HTTPError(400, "invalid filters: a JSON object was expected")
    return {k: list(v) if isinstance(v, (list, dict)) else [str(v)] for k, v in raw.items()}

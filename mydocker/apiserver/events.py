"""GET /events: the engine's event log (engine/events.py) streamed as Docker streams it, one JSON
document per line; `since`/`until` in Unix seconds (or RFC 3339), `filters` as Docker's JSON."""

from __future__ import annotations

import json
import time

from mydocker.apiserver.handlers import Context, _filters, table
from mydocker.apiserver.http import HTTPError
from mydocker.lazy import lazy_module

api = lazy_module("mydocker.engine.api")
select = lazy_module("select")
socket = lazy_module("socket")


def _time_ns(value: str | None) -> int | None:
    """Docker's since/until: Unix seconds with an optional fraction, or an RFC 3339 time."""
    if value in (None, ""):
        return None
    seconds, dot, frac = value.partition(".")
    if seconds.lstrip("-").isdigit() and (not dot or frac.isdigit()):
        return int(seconds) * 1_000_000_000 + int((frac or "0")[:9].ljust(9, "0"))
    try:
        return api.parse_time(value)
    except ValueError:
        raise HTTPError(400, f"invalid time {value!r}: Unix seconds or an RFC 3339 time were expected") from None


def system_events(ctx: Context) -> None:
    req = ctx.req
    since, until = _time_ns(req.arg("since")), _time_ns(req.arg("until"))
    filters = _filters(req.arg("filters"))
    out = []

    def ready() -> None:  # the filters are good: the stream starts (Docker sends its head at once)
        out.append(ctx.chunked("application/json"))

    ctx.api.system.events(since, until, filters, lambda doc: out[0].write(json.dumps(doc).encode() + b"\n"),
                          follow=until is None or until > time.time_ns(), ready=ready, alive=lambda: _connected(ctx))
    out[0].close()


def _connected(ctx: Context) -> bool:
    """False once the client closed its end (readable with nothing to read). A client may not send
    anything more on a streaming request, so there is nothing to read while it is there."""
    sock = ctx.conn.sock
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return True
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


ROUTES = table([
    (("GET",), "/events", system_events),
])

"""Looking at a container through the API: GET /containers/{id}/stats, top, changes, export. The
readings are the engine's (engine/stats.py, ContainerService.changes); here Docker's answers."""

from __future__ import annotations

import json
import time

from mydocker.apiserver.handlers import _ID, Context, table
from mydocker.lazy import lazy_module

shlex = lazy_module("shlex")

_STATS_INTERVAL = 1.0   # Docker's collector reads every second
_ONE_SHOT_GAP = 0.5     # stream=false: a second reading this long after the first, for precpu_stats


def container_stats(ctx: Context) -> None:
    """stream (default): a document every second until the container stops or the client goes;
    stream=false: one document with precpu_stats filled; one-shot=true with it: no precpu wait."""
    req, containers = ctx.req, ctx.api.containers
    ref = req.params["id"]
    first = containers.stats_document(ref)  # a 404 before the head goes out
    if not req.flag("stream", default=True):
        if not req.flag("one-shot"):
            time.sleep(_ONE_SHOT_GAP)
            first = containers.stats_document(ref, first)
        ctx.json(200, first)
        return
    out = ctx.chunked("application/json")
    doc = first
    while True:
        out.write(json.dumps(doc).encode() + b"\n")
        if doc["cpu_stats"].get("system_cpu_usage") is None:  # not running: Docker's zeros, then the end
            break
        time.sleep(_STATS_INTERVAL)
        doc = containers.stats_document(ref, doc)
    out.close()


def container_top(ctx: Context) -> None:
    args = shlex.split(ctx.req.arg("ps_args") or "")
    header, lines = ctx.api.containers.top(ctx.req.params["id"], args)
    titles = header.split()
    rows = [_cells(line, len(titles)) for line in lines]
    ctx.json(200, {"Titles": titles, "Processes": rows})


def _cells(line: str, columns: int) -> list[str]:
    """A ps line in `columns` cells: the last (the command) keeps its spaces."""
    parts = line.split(None, columns - 1)
    return parts + [""] * (columns - len(parts))


def container_changes(ctx: Context) -> None:
    changes = ctx.api.containers.changes(ctx.req.params["id"])
    ctx.json(200, changes or None)  # Docker answers null for no changes


def container_export(ctx: Context) -> None:
    ref = ctx.req.params["id"]
    ctx.api.containers.inspect(ref)  # a 404 before the head goes out
    out = ctx.chunked("application/x-tar")
    tar = ChunkedFile(out)
    ctx.api.containers.export(ref, tar)
    tar.flush()
    out.close()


class ChunkedFile:
    """A binary file over a chunked answer: tar's 512-byte blocks sent in 64 KiB chunks."""

    def __init__(self, writer) -> None:
        self.writer, self.buffer = writer, bytearray()

    def write(self, data) -> int:
        self.buffer += data
        if len(self.buffer) >= 64 * 1024:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self.buffer:
            self.writer.write(bytes(self.buffer))
            self.buffer.clear()


ROUTES = table([
    (("GET",), f"/containers/{_ID}/stats", container_stats),
    (("GET",), f"/containers/{_ID}/top", container_top),
    (("GET",), f"/containers/{_ID}/changes", container_changes),
    (("GET",), f"/containers/{_ID}/export", container_export),
])

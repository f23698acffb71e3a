"""`docker cp`'s endpoints: HEAD/GET/PUT /containers/{id}/archive?path=. The engine resolves the path
inside the container's root filesystem (engine/archive.py); here only Docker's request and answer."""

from __future__ import annotations

import io
import json

from mydocker.apiserver.handlers import Context
from mydocker.apiserver.http import HTTPError

STAT_HEADER = "X-Docker-Container-Path-Stat"


def _path(ctx: Context) -> str:
    path = ctx.req.arg("path")
    if not path:
        raise HTTPError(400, "bad parameter: path cannot be empty")
    return path


def archive_head(ctx: Context) -> None:
    """A HEAD answer has no body, errors included (a body would be read as the next response)."""
    from mydocker.apiserver.handlers import _message, status_of
    from mydocker.errors import MyDockerError
    try:
        info = ctx.api.containers.archive_stat(ctx.req.params["id"], _path(ctx))
    except (MyDockerError, HTTPError) as e:
        ctx.answered = True
        status = e.status if isinstance(e, HTTPError) else status_of(e)
        ctx.conn.send(status, json.dumps({"message": _message(ctx.req, e)}).encode(), ctx.headers(), head_only=True)
        return
    ctx.answered = True
    ctx.conn.send(200, b"", {**ctx.headers(), STAT_HEADER: info.header()}, head_only=True)


def archive_get(ctx: Context) -> None:
    out: list[_ChunkedFile] = []

    def answer(info):  # the stat is known: the head goes out before the tar
        ctx.answered = True
        out.append(_ChunkedFile(ctx.conn.start_chunked(200, {**ctx.headers(), STAT_HEADER: info.header()},
                                                       "application/x-tar")))
        return out[0]

    ctx.api.containers.archive_get(ctx.req.params["id"], _path(ctx), None, on_stat=answer)
    out[0].flush()
    out[0].writer.close()


def archive_put(ctx: Context) -> None:
    req = ctx.req
    body = getattr(req, "upload", None) or io.BytesIO(req.body)
    ctx.api.containers.archive_put(req.params["id"], _path(ctx), body,
                                   no_overwrite_dir_non_dir=req.flag("noOverwriteDirNonDir"),
                                   copy_owner=req.flag("copyUIDGID"))
    ctx.answered = True
    ctx.conn.send(200, b"", ctx.headers())


class _ChunkedFile:
    """A binary file over the chunked answer, buffered (tarfile writes 512-byte blocks)."""

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

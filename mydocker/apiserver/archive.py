"""`docker cp`'s endpoints: HEAD/GET/PUT /containers/{id}/archive?path=. The engine resolves the path
inside the container's root filesystem (engine/archive.py); here only Docker's request and answer."""

from __future__ import annotations

import io

from mydocker.apiserver.handlers import _ID, Context, table
from mydocker.apiserver.http import HTTPError
from mydocker.apiserver.observe import ChunkedFile

STAT_HEADER = "X-Docker-Container-Path-Stat"


def _path(ctx) -> str:
    path = ctx.req.arg("path")
    if not path:
        raise HTTPError(400, "bad parameter: path cannot be empty")
    return path


def archive_head(ctx: Context) -> None:
    info = ctx.api.containers.archive_stat(ctx.req.params["id"], _path(ctx))
    ctx.answered = True
    ctx.conn.send(200, b"", {**ctx.headers(), STAT_HEADER: info.header()}, head_only=True)


def archive_get(ctx: Context) -> None:
    out: list[ChunkedFile] = []

    def answer(info):  # the stat is known: the head goes out before the tar
        ctx.answered = True
        out.append(ChunkedFile(ctx.conn.start_chunked(200, {**ctx.headers(), STAT_HEADER: info.header()},
                                                       "application/x-tar")))
        return out[0]

    ctx.api.containers.archive_get(ctx.req.params["id"], _path(ctx), None, on_stat=answer)
    out[0].flush()
    out[0].writer.close()


def archive_put(ctx: Context) -> None:
    req = ctx.req
    body = req.upload or io.BytesIO(req.body)  # spooled to a file (http.UPLOAD_PATH)
    ctx.api.containers.archive_put(req.params["id"], _path(ctx), body,
                                   no_overwrite_dir_non_dir=req.flag("noOverwriteDirNonDir"),
                                   copy_owner=req.flag("copyUIDGID"))
    ctx.answered = True
    ctx.conn.send(200, b"", ctx.headers())


ROUTES = table([
    (("HEAD",), f"/containers/{_ID}/archive", archive_head),
    (("GET",), f"/containers/{_ID}/archive", archive_get),
    (("PUT",), f"/containers/{_ID}/archive", archive_put),
])

"""POST /containers/{id}/pause and /unpause: the engine freezes the container's cgroup through the
runtime."""

from __future__ import annotations

from mydocker.apiserver.handlers import _ID, Context, table


def container_pause(ctx: Context) -> None:
    ctx.api.containers.pause(ctx.req.params["id"])
    ctx.empty(204)


def container_unpause(ctx: Context) -> None:
    ctx.api.containers.unpause(ctx.req.params["id"])
    ctx.empty(204)


ROUTES = table([
    (("POST",), f"/containers/{_ID}/pause", container_pause),
    (("POST",), f"/containers/{_ID}/unpause", container_unpause),
])

"""POST /containers/{id}/pause and /unpause: the engine freezes the container's cgroup through the
runtime. Each handler takes a handlers.Context (handlers imports this module for its ROUTES)."""

from __future__ import annotations


def container_pause(ctx) -> None:
    ctx.api.containers.pause(ctx.req.params["id"])
    ctx.empty(204)


def container_unpause(ctx) -> None:
    ctx.api.containers.unpause(ctx.req.params["id"])
    ctx.empty(204)

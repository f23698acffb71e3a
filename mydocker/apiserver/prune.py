"""POST /containers/prune (`docker container prune`) and POST /build/prune (`docker builder prune`):
the two steps of `docker system prune` that the container and image groups do not answer."""

from __future__ import annotations

from mydocker.apiserver.handlers import Context, _filters, table
from mydocker.errors import NotSupported


def container_prune(ctx: Context) -> None:
    filters = _filters(ctx.req.arg("filters"))
    if filters:
        raise NotSupported(f"container prune filters ({', '.join(sorted(filters))}) are not supported by mydocker "
                           "yet: prune without filters, or remove the containers by name")
    report = ctx.api.containers.prune()
    ctx.json(200, {"ContainersDeleted": report.deleted or None, "SpaceReclaimed": report.space_reclaimed})


def build_prune(ctx: Context) -> None:
    """The build cache's steps are forgotten (the images they made are images: image prune's)."""
    filters = _filters(ctx.req.arg("filters"))
    if filters:
        raise NotSupported(f"build cache prune filters ({', '.join(sorted(filters))}) are not supported by "
                           "mydocker yet: prune without filters")
    ctx.json(200, {"CachesDeleted": ctx.api.images.prune_build_cache() or None, "SpaceReclaimed": 0})


ROUTES = table([
    (("POST",), "/containers/prune", container_prune),
    (("POST",), "/build/prune", build_prune),
])

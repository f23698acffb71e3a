"""The Docker Engine API's /volumes endpoints over the engine interface (engine/api.py): list, inspect,
create, remove, prune. Docker's shapes and messages; no engine logic here."""

from __future__ import annotations

from mydocker.apiserver.handlers import Context, checked_filters, table
from mydocker.apiserver.http import HTTPError
from mydocker.errors import Conflict, NotFound, NotSupported

_LIST_FILTERS = ("name", "label", "dangling", "driver")
_PRUNE_FILTERS = ("label", "all")


def volume_doc(doc: dict) -> dict:
    """The engine's volume document as Docker's Volume (its own fields, Anonymous and UsedBy, left out)."""
    return {"CreatedAt": doc["CreatedAt"], "Driver": doc["Driver"], "Labels": doc["Labels"],
            "Mountpoint": doc["Mountpoint"], "Name": doc["Name"], "Options": doc["Options"], "Scope": doc["Scope"]}


def _inspect(ctx: Context, name: str) -> dict:
    try:
        return ctx.api.volumes.inspect(name)
    except NotFound:
        raise HTTPError(404, f"get {name}: no such volume") from None


def volume_list(ctx: Context) -> None:
    volumes = ctx.api.volumes.list(checked_filters(ctx, _LIST_FILTERS))
    ctx.json(200, {"Volumes": [volume_doc(v) for v in volumes], "Warnings": []})


def volume_inspect(ctx: Context) -> None:
    ctx.json(200, volume_doc(_inspect(ctx, ctx.req.params["name"])))


def volume_create(ctx: Context) -> None:
    body = ctx.req.json(default={})
    if not isinstance(body, dict):
        raise HTTPError(400, "invalid volume config: a JSON object was expected")
    name = body.get("Name") or None
    if name is not None and not isinstance(name, str):
        raise HTTPError(400, "invalid Name: a string was expected")
    if body.get("Driver") not in (None, "", "local"):
        raise NotSupported(f"volume driver {body['Driver']!r} is not supported by mydocker: use local")
    if body.get("DriverOpts"):
        raise NotSupported(f"volume driver options ({', '.join(sorted(body['DriverOpts']))}) are not supported by "
                           "mydocker yet: create the volume without them")
    labels = body.get("Labels") or {}
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise HTTPError(400, "invalid Labels: an object of strings was expected")
    name = ctx.api.volumes.create(name, labels=labels)
    ctx.json(201, volume_doc(_inspect(ctx, name)))


def volume_remove(ctx: Context) -> None:
    name = ctx.req.params["name"]
    force = ctx.req.flag("force")
    if not force:
        _inspect(ctx, name)
    try:
        ctx.api.volumes.remove(name, force=force)
    except Conflict:
        users = " ".join(_inspect(ctx, name)["UsedBy"])
        raise HTTPError(409, f"remove {name}: volume is in use - [{users}]") from None
    ctx.empty()


def volume_prune(ctx: Context) -> None:
    filters = checked_filters(ctx, _PRUNE_FILTERS)
    # API < 1.42 (the docker CLI 20.10): prune took the named volumes too, and dockerd still does so
    # for those clients; 1.42 and later: the anonymous ones unless all=true
    everything = filters.get("all", ["true" if (ctx.req.api_version or (99, 0)) < (1, 42) else "false"])
    if any(v not in ("true", "false", "1", "0") for v in everything):
        raise HTTPError(400, f"invalid filter 'all={everything[0]}': use all=true or all=false")
    deleted = ctx.api.volumes.prune(all_volumes=everything[-1] in ("true", "1"), labels=filters.get("label"))
    ctx.json(200, {"VolumesDeleted": deleted, "SpaceReclaimed": 0})  # the engine does not measure what it frees


_NAME = r"(?P<name>[^/]+)"
ROUTES = table([
    (("GET",), "/volumes", volume_list),
    (("POST",), "/volumes/create", volume_create),
    (("POST",), "/volumes/prune", volume_prune),
    (("GET",), f"/volumes/{_NAME}", volume_inspect),
    (("DELETE",), f"/volumes/{_NAME}", volume_remove),
])

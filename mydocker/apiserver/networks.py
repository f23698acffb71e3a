"""The Docker Engine API's /networks endpoints over the engine interface (engine/api.py): list, inspect,
create, connect, disconnect, remove, prune. Docker's shapes and messages; no engine logic here."""

from __future__ import annotations

from mydocker.apiserver.handlers import _ID, Context, checked_filters, table
from mydocker.apiserver.http import HTTPError
from mydocker.errors import Conflict, InvalidArgument, NotFound, NotSupported
from mydocker.lazy import lazy_module

api = lazy_module("mydocker.engine.api")

_LIST_FILTERS = ("name", "id", "label", "driver", "type", "scope")
_PRUNE_FILTERS = ("label",)
_PREDEFINED_TYPES = {"builtin": True, "custom": False}


def _inspect(ctx: Context, ref: str) -> dict:
    try:
        return ctx.api.networks.inspect(ref)
    except NotFound:
        raise HTTPError(404, f"network {ref} not found") from None


def network_list(ctx: Context) -> None:
    filters = checked_filters(ctx, _LIST_FILTERS)
    kinds = filters.pop("type", [])
    if any(k not in _PREDEFINED_TYPES for k in kinds):
        raise HTTPError(400, f"invalid filter: 'type'='{kinds[0]}': use builtin or custom")
    scopes = filters.pop("scope", [])
    report = ctx.api.networks.list(filters)
    docs = []
    for net in report.networks:
        doc = _inspect(ctx, net.id)
        doc["Containers"] = {}  # Docker's list leaves them out; inspect has them
        builtin = doc["Name"] in ("bridge", "host", "none")
        if kinds and not any(_PREDEFINED_TYPES[k] == builtin for k in kinds):
            continue
        if scopes and doc["Scope"] not in scopes:
            continue
        docs.append(doc)
    ctx.json(200, docs)


def network_inspect(ctx: Context) -> None:
    ctx.json(200, _inspect(ctx, ctx.req.params["id"]))


def network_create(ctx: Context) -> None:
    body = ctx.req.json(default=None)
    if not isinstance(body, dict):
        raise HTTPError(400, "invalid network config: a JSON object was expected")
    name = body.get("Name")
    if not isinstance(name, str) or not name:
        raise HTTPError(400, "invalid network config: Name is required")
    if body.get("EnableIPv6"):
        raise NotSupported("EnableIPv6 is not supported by mydocker yet: create the network without it")
    if body.get("Options"):
        raise NotSupported(f"network options ({', '.join(sorted(body['Options']))}) are not supported by mydocker "
                           "yet: create the network without them")
    ipam = body.get("IPAM") or {}
    if not isinstance(ipam, dict) or not isinstance(ipam.get("Config") or [], list):
        raise HTTPError(400, "invalid IPAM: an object with a Config list was expected")
    if ipam.get("Driver") not in (None, "", "default"):
        raise NotSupported(f"IPAM driver {ipam['Driver']!r} is not supported by mydocker: use default")
    pools = [p for p in ipam.get("Config") or [] if p]
    if len(pools) > 1 or any(not isinstance(p, dict) or {k for k, v in p.items() if v} - {"Subnet", "Gateway"}
                             for p in pools):
        raise NotSupported("mydocker takes one IPAM pool with Subnet and Gateway (no IPRange or "
                           "AuxiliaryAddresses): create the network with one")
    pool = pools[0] if pools else {}
    labels = body.get("Labels") or {}
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise HTTPError(400, "invalid Labels: an object of strings was expected")
    opts = api.NetworkCreateOptions(name=name, driver=body.get("Driver") or "bridge", subnet=pool.get("Subnet") or None,
                                    gateway=pool.get("Gateway") or None, internal=bool(body.get("Internal")),
                                    labels=labels)
    try:
        net = ctx.api.networks.create(opts)
    except Conflict:
        try:
            ctx.api.networks.inspect(name)
        except NotFound:
            raise  # some other conflict (a reserved name, a subnet in use): the engine's message
        raise HTTPError(409, f"network with name {name} already exists") from None
    ctx.json(201, {"Id": net.id, "Warning": ""})


def _container_and_config(ctx: Context) -> tuple[str, dict]:
    body = ctx.req.json(default=None)
    if not isinstance(body, dict) or not isinstance(body.get("Container"), str) or not body["Container"]:
        raise HTTPError(400, "invalid request: Container (a name or id) is required")
    config = body.get("EndpointConfig") or {}
    if not isinstance(config, dict):
        raise HTTPError(400, "invalid EndpointConfig: an object was expected")
    return body["Container"], config


def network_connect(ctx: Context) -> None:
    ref = ctx.req.params["id"]
    container, config = _container_and_config(ctx)
    aliases = config.get("Aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise HTTPError(400, "invalid EndpointConfig.Aliases: a list of strings was expected")
    ip = ((config.get("IPAMConfig") or {}).get("IPv4Address")) or None
    if config.get("Links") or (config.get("IPAMConfig") or {}).get("IPv6Address"):
        raise NotSupported("links and IPv6 addresses are not supported by mydocker yet: connect without them")
    _inspect(ctx, ref)
    ctx.api.networks.connect(ref, container, ip=ip, aliases=aliases)
    ctx.empty(200)


def network_disconnect(ctx: Context) -> None:
    ref = ctx.req.params["id"]
    container, _config = _container_and_config(ctx)
    _inspect(ctx, ref)
    try:
        ctx.api.networks.disconnect(ref, container)
    except NotFound as e:
        if str(e).lower().startswith("no such container"):
            raise HTTPError(404, f"No such container: {container}") from None
        raise InvalidArgument(str(e)) from None  # not connected to it: a bad request, not a missing object
    ctx.empty(200)


def network_remove(ctx: Context) -> None:
    ref = ctx.req.params["id"]
    if ref not in ("bridge", "host", "none"):
        _inspect(ctx, ref)
    ctx.api.networks.remove(ref)
    ctx.empty()


def network_prune(ctx: Context) -> None:
    filters = checked_filters(ctx, _PRUNE_FILTERS)
    ctx.json(200, {"NetworksDeleted": ctx.api.networks.prune(labels=filters.get("label"))})


ROUTES = table([
    (("GET",), "/networks", network_list),
    (("POST",), "/networks/create", network_create),
    (("POST",), "/networks/prune", network_prune),
    (("GET",), f"/networks/{_ID}", network_inspect),
    (("POST",), f"/networks/{_ID}/connect", network_connect),
    (("POST",), f"/networks/{_ID}/disconnect", network_disconnect),
    (("DELETE",), f"/networks/{_ID}", network_remove),
])

"""The Docker Engine API's endpoints over the engine interface (engine/api.py), in the manner of
podman's pkg/api/handlers/compat: each handler reads the request, calls the engine's verbs and writes
Docker's answer. No engine logic lives here; errors map to Docker's statuses.
"""

from __future__ import annotations

import json
import re
import socket
import os

from mydocker.apiserver.http import Connection, HTTPError, Request
from mydocker.errors import (
    Conflict, Forbidden, InvalidArgument, MyDockerError, NoSuchImage, NotFound, NotSupported, describe,
)
from mydocker.lazy import lazy_module

convert = lazy_module("mydocker.apiserver.convert")
engine_api = lazy_module("mydocker.engine.api")
traceback = lazy_module("traceback")

API_VERSION = "1.50"      # the docker CLI 28's; docker-py 7 asks for 1.44 or less
MIN_API_VERSION = "1.24"
_VERSIONED = re.compile(r"^/v(\d+)\.(\d+)(/.*)$")
MULTIPLEXED = "application/vnd.docker.multiplexed-stream"
RAW = "application/vnd.docker.raw-stream"
_STREAM_TYPES = {"stdin": 0, "stdout": 1, "stderr": 2}


def status_of(error: Exception) -> int:
    if isinstance(error, InvalidArgument):
        return 400
    if isinstance(error, Forbidden):  # a pre-defined network
        return 403
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Conflict):
        return 409
    if isinstance(error, NotSupported):
        return 501
    return 500


class Context:
    """One request: the connection to answer on, and the engine (opened on first use)."""

    def __init__(self, conn: Connection, req: Request, engine) -> None:
        self.conn, self.req, self._engine = conn, req, engine
        self.answered = False   # a response (or its head) went out: an error can only end the connection
        self.hijacked = False   # the connection is a raw stream now: it ends with this request

    @property
    def api(self):
        return self._engine()

    def headers(self) -> dict[str, str]:
        return {"Api-Version": API_VERSION, "Docker-Experimental": "false", "Ostype": "linux",
                "Server": "mydocker (linux)"}

    def json(self, status: int, doc) -> None:
        self.answered = True
        # a HEAD answer has no body, errors included: a client would read it as the next response
        self.conn.send(status, json.dumps(doc).encode() + b"\n", self.headers(), head_only=self.req.method == "HEAD")

    def empty(self, status: int = 204) -> None:
        self.answered = True
        self.conn.send(status, headers=self.headers())

    def chunked(self, content_type: str):
        self.answered = True
        return self.conn.start_chunked(200, self.headers(), content_type)


# --- system ----------------------------------------------------------------------------------

def ping(ctx: Context) -> None:
    ctx.answered = True
    headers = {**ctx.headers(), "Builder-Version": "1", "Cache-Control": "no-cache, no-store, must-revalidate",
               "Pragma": "no-cache"}
    ctx.conn.send(200, b"OK", headers, content_type="text/plain; charset=utf-8", head_only=ctx.req.method == "HEAD")


def version(ctx: Context) -> None:
    v = ctx.api.system.version()
    arch = _GO_ARCH.get(v["Arch"], v["Arch"])
    details = {"ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION, "Os": v["Os"], "Arch": arch,
               "KernelVersion": v["KernelVersion"], "GitCommit": "", "GoVersion": f"python{v['PythonVersion']}"}
    ctx.json(200, {"Platform": {"Name": "mydocker"},
                   "Components": [{"Name": "Engine", "Version": v["Version"], "Details": details}],
                   "Version": v["Version"], "BuildTime": "", "Experimental": False, **details})


_GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "armv7l": "arm"}  # Docker names them as Go does


def info(ctx: Context) -> None:
    doc = ctx.api.system.info()
    if isinstance(doc.get("FirewallBackend"), str):  # Docker's is an object
        doc["FirewallBackend"] = {"Driver": doc["FirewallBackend"], "Info": [["Table", doc.get("FirewallTable", "")]]}
    ctx.json(200, {"ID": "", "Name": os.uname().nodename, "OSType": "linux", "DefaultRuntime": "mydocker-runtime",
                   "Runtimes": {"mydocker-runtime": {"path": "mydocker-runtime"}}, "LoggingDriver": "json-file",
                   "CgroupDriver": "cgroupfs", **doc})


# --- containers ------------------------------------------------------------------------------

def container_create(ctx: Context) -> None:
    opts = convert.run_options(ctx.req.json(default=None), ctx.req.arg("name"))
    try:
        container_id = ctx.api.containers.create(opts)
    except NoSuchImage:
        raise HTTPError(404, f"No such image: {_with_tag(opts.image)}") from None
    ctx.json(201, {"Id": container_id, "Warnings": []})


def _with_tag(name: str) -> str:
    return name if ":" in name.rsplit("/", 1)[-1] or "@" in name else f"{name}:latest"


def container_list(ctx: Context) -> None:
    limit = ctx.req.int_arg("limit", -1)
    opts = engine_api.ListOptions(all=ctx.req.flag("all"), filters=_filters(ctx.req.arg("filters")),
                                  last=limit if limit and limit > 0 else -1)
    containers = ctx.api.containers
    records = containers.list(opts)
    attached = containers.attachments(records)  # the endpoints read once, for the fields and the entries
    fields = containers.summaries(records, no_trunc=True, attached=attached)
    entries = [convert.container_summary(r, f, _ports(containers, r), attached[r.id]) for r, f in zip(records, fields)]
    if ctx.req.flag("size"):
        sizes = containers.sizes(records)
        for entry in entries:
            entry["SizeRw"], entry["SizeRootFs"] = sizes[entry["Id"]]
    ctx.json(200, entries)


def _ports(containers, rec) -> list:
    if rec.status not in ("running", "paused"):
        return []
    try:
        return containers.port(rec.id)
    except MyDockerError:
        return []


def _filters(text: str | None) -> dict[str, list[str]]:
    """Docker's filters parameter: {"status": ["exited"]}, or the old {"status": {"exited": true}}."""
    if not text:
        return {}
    try:
        doc = json.loads(text)
    except ValueError:
        raise HTTPError(400, f"invalid filters: {text!r} is not JSON") from None
    if not isinstance(doc, dict):
        raise HTTPError(400, "invalid filters: a JSON object was expected")
    out = {}
    for key, values in doc.items():
        if isinstance(values, dict):
            values = [k for k, on in values.items() if on]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise HTTPError(400, f"invalid filters: {key} needs a list of strings")
        out[key] = values
    return out


def checked_filters(ctx: Context, allowed: tuple[str, ...]) -> dict[str, list[str]]:
    """The request's filters, 400 for a key outside `allowed` (as dockerd names it)."""
    filters = _filters(ctx.req.arg("filters"))
    unknown = sorted(set(filters) - set(allowed))
    if unknown:
        raise HTTPError(400, f"invalid filter '{unknown[0]}'")
    return filters


def container_inspect(ctx: Context) -> None:
    doc = ctx.api.containers.inspect(ctx.req.params["id"])
    if ctx.req.api_version and ctx.req.api_version < (1, 44):
        convert.with_short_id_aliases(doc)
    ctx.json(200, doc)


def _state(ctx: Context) -> dict:
    return ctx.api.containers.brief(ctx.req.params["id"])["State"]


def container_start(ctx: Context) -> None:
    state = _state(ctx)
    if state["Running"] and not state["Paused"]:  # a paused one: the engine's Conflict (Docker's 409)
        return ctx.empty(304)
    ctx.api.containers.start(ctx.req.params["id"])
    ctx.empty()


def container_stop(ctx: Context) -> None:
    if not _state(ctx)["Running"]:
        return ctx.empty(304)
    timeout = ctx.req.int_arg("t", ctx.req.int_arg("timeout"))
    opts = engine_api.StopOptions(timeout=timeout, signal=ctx.req.arg("signal") or None)
    ctx.api.containers.stop(ctx.req.params["id"], opts)
    ctx.empty()


def container_restart(ctx: Context) -> None:
    ctx.api.containers.restart(ctx.req.params["id"], ctx.req.int_arg("t", ctx.req.int_arg("timeout")))
    ctx.empty()


def container_kill(ctx: Context) -> None:
    ctx.api.containers.kill(ctx.req.params["id"], ctx.req.arg("signal") or "KILL")
    ctx.empty()


def container_remove(ctx: Context) -> None:
    opts = engine_api.RemoveOptions(force=ctx.req.flag("force"), volumes=ctx.req.flag("v"))
    ctx.api.containers.remove(ctx.req.params["id"], opts)
    ctx.empty()


def container_rename(ctx: Context) -> None:
    """docker rename; docker-compose renames a container it recreates out of the way first."""
    name = ctx.req.arg("name") or ""
    if not name:
        raise HTTPError(400, "Neither old nor new names may be empty")
    ctx.api.containers.rename(ctx.req.params["id"], name)
    ctx.empty()


def container_update(ctx: Context) -> None:
    body = ctx.req.json(default={})
    if not isinstance(body, dict):
        raise InvalidArgument("invalid update config: a JSON object was expected")
    ctx.api.containers.update(ctx.req.params["id"], convert.update_options(body))
    ctx.json(200, {"Warnings": []})


def container_wait(ctx: Context) -> None:
    """The head goes out at once (the client knows the wait is in place), the status at the exit."""
    condition = ctx.req.arg("condition") or "not-running"
    if condition not in ("not-running", "next-exit", "removed"):
        raise HTTPError(400, f"invalid condition {condition!r}: use not-running, next-exit or removed")
    ref = ctx.api.containers.brief(ctx.req.params["id"])["Id"]  # a 404 before the head
    out = ctx.chunked("application/json")
    try:
        doc = {"StatusCode": ctx.api.containers.wait(ref, condition), "Error": None}
    except MyDockerError as e:
        doc = {"StatusCode": 255, "Error": {"Message": str(e)}}
    out.write(json.dumps(doc).encode() + b"\n")
    out.close()


def _writer(send, tty: bool):
    """write(stream, data) as the client reads it: raw with a tty, else Docker's 8-byte frames."""
    if tty:
        return lambda _stream, data: send(data)
    return lambda stream, data: send(bytes([_STREAM_TYPES[stream], 0, 0, 0]) + len(data).to_bytes(4, "big") + data)


def container_logs(ctx: Context) -> None:
    req = ctx.req
    streams = {s for s in ("stdout", "stderr") if req.flag(s)}
    if not streams:
        raise HTTPError(400, "Bad parameters: you must choose at least one stream")
    doc = ctx.api.containers.brief(req.params["id"])
    tail = req.arg("tail", "all")
    if tail not in ("all", "") and not tail.lstrip("-").isdigit():
        raise HTTPError(400, f"invalid tail {tail!r}: a number or all")
    opts = engine_api.LogsOptions(follow=req.flag("follow"), since=_seconds(req.arg("since")),
                                  until=_seconds(req.arg("until")),
                                  tail=None if tail in ("all", "") or int(tail) < 0 else int(tail),
                                  timestamps=req.flag("timestamps"))
    tty = bool(doc["Config"].get("Tty"))
    answer = []  # the head goes out once the log has been read, as dockerd's: docker-py's run follows
    # the logs, then waits and removes the container, and only then reads the answer

    def open_answer() -> None:
        out = ctx.chunked(RAW if tty else MULTIPLEXED)
        answer[:] = [out, _writer(out.write, tty)]

    ctx.api.containers.logs(doc["Id"], opts, lambda stream, data: stream in streams and answer[1](stream, data),
                            ready=open_answer)
    if not answer:  # the log was never read (a container removed meanwhile): an empty answer
        open_answer()
    answer[0].close()


def _seconds(value: str | None) -> int | None:
    """since/until: Unix seconds, with a fraction ("1700000000.5"); 0 is none."""
    if value in (None, "", "0"):
        return None
    try:
        seconds, _, frac = value.partition(".")
        return int(seconds) * 1_000_000_000 + int((frac or "0")[:9].ljust(9, "0"))
    except ValueError:
        raise HTTPError(400, f"invalid time {value!r}: Unix seconds were expected") from None


def container_attach(ctx: Context) -> None:
    """Hijacked: 101 (or 200 for a client that asks no upgrade), then the raw stream until the
    container's next exit; with stdin=1 the client's bytes go to the container's input."""
    req = ctx.req
    doc = ctx.api.containers.brief(req.params["id"])  # a 404 before the hijack
    detach_keys = req.arg("detachKeys")
    ctx.api.containers.check_detach_keys(detach_keys)  # a 400 before the hijack
    streams = {s for s in ("stdout", "stderr") if req.flag(s)}
    tty = bool(doc["Config"].get("Tty"))
    content_type = RAW if tty else MULTIPLEXED
    ctx.answered = ctx.hijacked = True
    if "upgrade" in req.headers.get("connection", "").lower():
        sock = ctx.conn.upgrade(ctx.headers(), content_type)
    else:
        ctx.conn._head(200, {**ctx.headers(), "Content-Type": content_type})
        sock = ctx.conn.sock
    sock.setblocking(True)  # the input relay reads its fd
    write = _writer(sock.sendall, tty)

    def selected(stream: str, data: bytes) -> None:
        if stream in streams:
            write(stream, data)

    if req.flag("logs"):
        ctx.api.containers.logs(doc["Id"], engine_api.LogsOptions(), selected)
    if req.flag("stream"):
        ctx.api.containers.attach(doc["Id"], selected, stdin=sock.fileno() if req.flag("stdin") else None,
                                  detach_keys=detach_keys)  # detached: the stream ends, the container runs on
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


# --- images ----------------------------------------------------------------------------------

def image_list(ctx: Context) -> None:
    rows = ctx.api.images.filtered(_filters(ctx.req.arg("filters")), all_images=ctx.req.flag("all"))
    ctx.json(200, convert.image_summaries(rows))


def image_inspect(ctx: Context) -> None:
    name = ctx.req.params["name"]
    try:
        doc = ctx.api.images.inspect(name)
    except NotFound:
        raise HTTPError(404, f"No such image: {name}") from None
    # Docker left ContainerConfig out at API 1.45; docker-compose 1.29 reads it when it recreates a
    # container (KeyError against Docker 25+ too), whatever version it negotiated
    compose_v1 = ctx.req.headers.get("user-agent", "").startswith("docker-compose/1.")
    if (ctx.req.api_version or (99, 0)) < (1, 45) or compose_v1:
        doc = {**doc, "Container": "", "ContainerConfig": doc.get("Config") or {}}
    ctx.json(200, doc)


# --- routing ---------------------------------------------------------------------------------


Route = tuple[tuple[str, ...], re.Pattern, object]


def table(entries: list[tuple[tuple[str, ...], str, object]]) -> list[Route]:
    """A group's routes, (methods, path pattern, handler), with the patterns compiled. Each group
    module (images.py, ...) has its own; routes.py puts them together."""
    return [(methods, re.compile(f"^{pattern}$"), handler) for methods, pattern, handler in entries]


_ID = r"(?P<id>[^/]+)"
ROUTES = table([
    (("GET", "HEAD"), "/_ping", ping),
    (("GET",), "/version", version),
    (("GET",), "/info", info),
    (("POST",), "/containers/create", container_create),
    (("GET",), "/containers/json", container_list),
    (("GET",), f"/containers/{_ID}/json", container_inspect),
    (("POST",), f"/containers/{_ID}/start", container_start),
    (("POST",), f"/containers/{_ID}/stop", container_stop),
    (("POST",), f"/containers/{_ID}/restart", container_restart),
    (("POST",), f"/containers/{_ID}/kill", container_kill),
    (("POST",), f"/containers/{_ID}/wait", container_wait),
    (("POST",), f"/containers/{_ID}/attach", container_attach),
    (("GET",), f"/containers/{_ID}/logs", container_logs),
    (("DELETE",), f"/containers/{_ID}", container_remove),
    (("GET",), "/images/json", image_list),
    (("GET",), "/images/(?P<name>.+)/json", image_inspect),
    (("POST",), f"/containers/{_ID}/rename", container_rename),
    (("POST",), f"/containers/{_ID}/update", container_update),
])


def route(req: Request, routes: list[Route]):
    """The handler for a request (its path params set), after the version prefix is checked."""
    m = _VERSIONED.match(req.path)
    if m:
        asked = (int(m.group(1)), int(m.group(2)))
        if asked > _version_tuple(API_VERSION):
            raise HTTPError(400, f"client version {m.group(1)}.{m.group(2)} is too new. "
                                 f"Maximum supported API version is {API_VERSION}")
        if asked < _version_tuple(MIN_API_VERSION):
            raise HTTPError(400, f"client version {m.group(1)}.{m.group(2)} is too old. "
                                 f"Minimum supported API version is {MIN_API_VERSION}, please upgrade your client")
        req.path = m.group(3)
        req.api_version = asked
    allowed = False
    for methods, pattern, handler in routes:
        match = pattern.match(req.path)
        if match:
            if req.method in methods:
                req.params = match.groupdict()
                return handler
            allowed = True
    if allowed:
        raise HTTPError(405, f"method {req.method} is not allowed on {req.path}")
    raise HTTPError(404, "page not found")


def _version_tuple(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


def _message(req: Request, error: Exception) -> str:
    """Docker's wording for a missing container; the engine's own message otherwise."""
    if isinstance(error, NotFound) and "id" in req.params and not isinstance(error, NoSuchImage) \
            and str(error).lower().startswith("no such container"):
        return f"No such container: {req.params['id']}"
    if isinstance(error, (MyDockerError, HTTPError)):
        return str(error)
    return describe(error)


def serve_connection(sock: socket.socket, open_engine, routes: list[Route]) -> None:
    """Requests one after another until the client closes, asks to close, or the connection is hijacked."""
    conn = Connection(sock)
    engine = None

    def get_engine():
        nonlocal engine
        if engine is None:
            engine = open_engine()
        return engine

    while True:
        try:
            req = conn.read_request()
        except HTTPError as e:
            conn.send_json(e.status, {"message": str(e)}, {"Connection": "close"})
            return
        except (OSError, ValueError):  # gone, timed out between requests
            return
        if req is None:
            return
        ctx = Context(conn, req, get_engine)
        try:
            route(req, routes)(ctx)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client went away mid-answer: nothing of ours is half-done
        except Exception as e:  # noqa: BLE001 - every error is an answer, not a crash
            status = e.status if isinstance(e, HTTPError) else status_of(e)
            if status == 500 and not isinstance(e, MyDockerError):
                traceback.print_exc()
            if ctx.answered:
                return  # the head went out: ending the connection is all that is left to say
            ctx.json(status, {"message": _message(req, e)})
        if ctx.hijacked or not req.keep_alive:
            return

"""The Docker Engine API's image endpoints beyond list/inspect/pull: build, tag, remove, history, push,
prune, save (get), load, import (create?fromSrc), commit and /auth. Each reads the request, calls the
engine interface and writes Docker's answer; progress goes out as Docker's JSON lines.
"""

from __future__ import annotations

import json
import os
import re
import tempfile

from mydocker.apiserver.handlers import Context, _filters, _with_tag, table
from mydocker.apiserver.http import HTTPError
from mydocker.errors import MyDockerError, NotFound, NotSupported, Unauthorized
from mydocker.lazy import lazy_module

api = lazy_module("mydocker.engine.api")
convert = lazy_module("mydocker.apiserver.convert")
base64 = lazy_module("base64")


def _lines(ctx: Context):
    """The chunked JSON stream and a function writing one document to it."""
    out = ctx.chunked("application/json")
    return out, lambda doc: out.write(json.dumps(doc).encode() + b"\r\n")


def _progress(line):
    """The engine's progress(layer, status, current, total) callback as Docker's JSON lines."""
    def progress(layer: str, status: str, current=None, total=None) -> None:
        doc = {"status": status, "id": layer[:12]} if layer else {"status": status}
        if total:
            doc["progressDetail"] = {"current": current or 0, "total": total}
        line(doc)
    return progress


def _error(line, error: Exception) -> None:
    """An error after the head: said in the stream, as Docker says it."""
    line({"errorDetail": {"message": str(error)}, "error": str(error)})


def _image(ctx: Context, name: str) -> dict:
    """The image's inspect document; Docker's 404 wording."""
    try:
        return ctx.api.images.inspect(name)
    except NotFound:
        raise HTTPError(404, f"No such image: {name}") from None


def _json_arg(ctx: Context, name: str, kind: type):
    text = ctx.req.arg(name)
    if not text:
        return kind()
    try:
        value = json.loads(text)
    except ValueError:
        raise HTTPError(400, f"invalid {name}: {text!r} is not JSON") from None
    if not isinstance(value, kind):
        raise HTTPError(400, f"invalid {name}: a JSON {'object' if kind is dict else 'list'} was expected")
    return value


# --- build -----------------------------------------------------------------------------------


class _BuildOutput:
    """The builder's text file: each line it writes goes out as {"stream": ...}, after whatever RUN
    wrote to `run_output` since (RUN's output reaches the client step by step, no thread needed:
    the builder forks containers)."""

    def __init__(self, line, run_output, quiet: bool) -> None:
        self.line, self.run_output, self.sent, self.quiet = line, run_output, 0, quiet

    def drain(self) -> None:
        size = os.fstat(self.run_output.fileno()).st_size
        if size > self.sent and not self.quiet:  # build -q: the image id only
            data = os.pread(self.run_output.fileno(), size - self.sent, self.sent)
            self.sent = size
            self.line({"stream": data.decode("utf-8", "replace")})

    def write(self, text: str) -> None:
        self.drain()
        if text:
            self.line({"stream": text})

    def flush(self) -> None:
        pass


def build(ctx: Context) -> None:
    """POST /build: the body is the context tar (plain or compressed); the classic builder's stream."""
    req = ctx.req
    for name in ("target", "platform", "extrahosts", "cachefrom"):
        if req.arg(name) not in (None, "", "[]"):
            raise NotSupported(f"build's {name} is not supported by mydocker yet: build without it")
    labels = _json_arg(ctx, "labels", dict)
    if not all(isinstance(v, str) for v in labels.values()):
        raise HTTPError(400, "invalid labels: a JSON object of strings was expected")
    build_args = [f"{k}={v}" for k, v in _json_arg(ctx, "buildargs", dict).items() if v is not None]
    network = req.arg("networkmode") or None
    opts = api.BuildOptions(context="-", dockerfile=req.arg("dockerfile") or None, tags=req.query.get("t", []),
                            build_args=build_args, no_cache=req.flag("nocache"), quiet=req.flag("q"),
                            network=None if network == "default" else network, labels=labels,
                            stdin=req.upload.read() if req.upload else b"")
    if not opts.stdin:
        raise HTTPError(400, "the build context is empty: send the context as a tar in the body")
    for tag in opts.tags:
        ctx.api.images.canonical(tag)  # a bad name is a 400 before the stream
    out, line = _lines(ctx)
    with tempfile.TemporaryFile() as run_output:
        steps = _BuildOutput(line, run_output, opts.quiet)
        fd = run_output.fileno()
        try:
            image_id = ctx.api.images.build(opts, steps, api.Streams(None, fd, fd, sig_proxy=False))
            steps.drain()
            line({"aux": {"ID": image_id}})
            if opts.quiet:
                line({"stream": image_id + "\n"})
        except MyDockerError as e:
            steps.drain()
            _error(line, e)
    out.close()


def create(ctx: Context) -> None:
    """POST /images/create: an import (fromSrc), else a pull: JSON progress lines; an error after the
    head is said as Docker says it, in the stream."""
    req = ctx.req
    if req.arg("fromSrc") is not None:
        return import_(ctx)
    name = req.arg("fromImage") or ""
    if not name:
        raise HTTPError(400, "fromImage is required: the image to pull")
    tag = req.arg("tag") or ""
    if tag:
        name = f"{name}@{tag}" if tag.startswith("sha256:") else f"{name}:{tag}"
    out, line = _lines(ctx)
    progress = _progress(line)

    try:
        ctx.api.images.inspect(name)  # here already (busybox is made from the host): nothing to fetch
        line({"status": f"Status: Image is up to date for {_with_tag(name)}"})
    except NotFound:
        try:
            line({"status": f"Pulling from {name}"})
            report = ctx.api.images.pull(name, progress=progress)
            line({"status": f"Digest: {report.digest}"} if getattr(report, "digest", "") else {"status": "Pulled"})
            line({"status": f"Status: Downloaded newer image for {_with_tag(name)}"})
        except MyDockerError as e:
            line({"errorDetail": {"message": str(e)}, "error": str(e)})
    out.close()


# --- tag, remove, history, prune -------------------------------------------------------------


def tag(ctx: Context) -> None:
    name, repo, tag_ = ctx.req.params["name"], ctx.req.arg("repo") or "", ctx.req.arg("tag") or ""
    if not repo:
        raise HTTPError(400, "repo is required: the repository to tag the image as")
    _image(ctx, name)
    ctx.api.images.tag(name, f"{repo}:{tag_}" if tag_ else repo)
    ctx.empty(201)


def remove(ctx: Context) -> None:
    """DELETE /images/{name}: Docker's [{"Untagged": ...}, {"Deleted": ...}]. (noprune: the engine
    never deletes a parent image with its child.)"""
    name = ctx.req.params["name"]
    _image(ctx, name)
    lines = ctx.api.images.remove(name, force=ctx.req.flag("force"))
    ctx.json(200, [_deletion(text) for text in lines])


def _deletion(text: str) -> dict:
    """"Untagged: app:latest" -> {"Untagged": "app:latest"} (either case: prune says it lower-case)."""
    key, _, value = text.partition(": ")
    return {key.capitalize(): value}


def history(ctx: Context) -> None:
    name = ctx.req.params["name"]
    doc = _image(ctx, name)
    rows = ctx.api.images.history(name)
    ctx.json(200, [{"Id": row["ID"], "Created": convert._epoch(row["Created"]), "CreatedBy": row["CreatedBy"],
                    "Tags": doc["RepoTags"] if i == 0 else None, "Size": row["Size"], "Comment": row["Comment"]}
                   for i, row in enumerate(rows)])


def prune(ctx: Context) -> None:
    """POST /images/prune: dangling images (dangling=false: every image no container uses)."""
    filters = _filters(ctx.req.arg("filters"))
    unknown = set(filters) - {"dangling"}
    if unknown:
        raise NotSupported(f"image prune filters {', '.join(sorted(unknown))} are not supported by mydocker yet: "
                           "use dangling")
    dangling = [v.lower() for v in filters.get("dangling", ["true"])]
    if any(v not in ("true", "1", "false", "0") for v in dangling):
        raise HTTPError(400, f"invalid filter 'dangling={dangling[0]}': use true or false")
    report = ctx.api.images.prune_report(all_images=any(v in ("false", "0") for v in dangling))
    ctx.json(200, {"ImagesDeleted": [_deletion(text) for text in report.deleted] or None,
                   "SpaceReclaimed": report.space_reclaimed})


# --- push, auth ------------------------------------------------------------------------------


def push(ctx: Context) -> None:
    """POST /images/{name}/push: with the client's credentials (X-Registry-Auth), else the engine's."""
    name, tag_ = ctx.req.params["name"], ctx.req.arg("tag") or ""
    credentials = _registry_auth(ctx.req.headers.get("x-registry-auth", ""))
    ref = f"{name}:{tag_}" if tag_ else _with_tag(name)
    _image(ctx, ref)
    out, line = _lines(ctx)
    progress = _progress(line)

    try:
        digest = ctx.api.images.push(ref, progress=progress, credentials=credentials)
        line({"progressDetail": {}, "aux": {"Tag": ref.rsplit(":", 1)[-1], "Digest": digest}})
    except MyDockerError as e:
        _error(line, e)
    out.close()


def _registry_auth(header: str) -> tuple[str, str] | None:
    """X-Registry-Auth: base64url of {"username", "password", ...}; (user, password), or None if empty."""
    if not header.strip():
        return None
    try:
        doc = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except ValueError:
        raise HTTPError(400, "invalid X-Registry-Auth: base64url of a JSON object was expected") from None
    if not isinstance(doc, dict):
        raise HTTPError(400, "invalid X-Registry-Auth: base64url of a JSON object was expected")
    user, password = doc.get("username") or "", doc.get("password") or ""
    return (user, password) if user else None


def auth(ctx: Context) -> None:
    """POST /auth: check the credentials against the registry; the client keeps them (as dockerd, the
    service stores nothing) and sends them with each push."""
    doc = ctx.req.json(default=None)
    if not isinstance(doc, dict):
        raise HTTPError(400, "invalid auth config: a JSON object was expected")
    user, password = doc.get("username") or "", doc.get("password") or ""
    server = doc.get("serveraddress") or "docker.io"
    try:
        ctx.api.images.login(server, user, password, store=False)
    except Unauthorized as e:
        raise HTTPError(401, str(e)) from None
    ctx.json(200, {"Status": "Login Succeeded", "IdentityToken": ""})


# --- save, load, import, commit --------------------------------------------------------------


class _Sink:
    """A binary file over the chunked response (save's tar)."""

    def __init__(self, out) -> None:
        self.out, self.position = out, 0

    def write(self, data: bytes) -> int:
        self.out.write(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass


def save(ctx: Context) -> None:
    """GET /images/{name}/get and GET /images/get?names=...: `docker save`'s tar."""
    names = [ctx.req.params["name"]] if ctx.req.params.get("name") else ctx.req.query.get("names", [])
    if not names:
        raise HTTPError(400, "names is required: the images to save")
    for name in names:
        _image(ctx, name)  # a 404 before the head
    out = ctx.chunked("application/x-tar")
    ctx.api.images.save(names, _Sink(out))
    out.close()


def load(ctx: Context) -> None:
    """POST /images/load: `docker load`; Docker's {"stream": "Loaded image: ..."} lines."""
    if ctx.req.upload is None:
        raise HTTPError(400, "the archive is missing: send the tar in the body")
    try:
        lines = ctx.api.images.load(ctx.req.upload)
    except MyDockerError as e:
        raise HTTPError(400 if not isinstance(e, NotSupported) else 501, str(e)) from None
    out, line = _lines(ctx)
    for text in lines:
        line({"stream": text + "\n"})
    out.close()


def import_(ctx: Context) -> None:
    """POST /images/create?fromSrc=-: an image of one layer from the body's rootfs tar."""
    req = ctx.req
    if req.arg("fromSrc") != "-":
        raise NotSupported("importing from a URL is not supported by mydocker yet: "
                           "download it and import with fromSrc=-")
    repo, tag_ = req.arg("repo") or "", req.arg("tag") or ""
    name = (f"{repo}:{tag_}" if tag_ else repo) or None
    if name:
        ctx.api.images.canonical(name)
    image_id = ctx.api.images.import_(req.upload, name, req.query.get("changes", []), req.arg("message") or "")
    out, line = _lines(ctx)
    line({"status": image_id})
    out.close()


# the Config fields a commit's body may set, as the Dockerfile instruction that sets each
_COMMIT_CONFIG = {"Cmd": "CMD", "Entrypoint": "ENTRYPOINT", "WorkingDir": "WORKDIR", "User": "USER"}


def commit(ctx: Context) -> None:
    """POST /commit: a new image from a container; Config's fields become changes."""
    req = ctx.req
    container = req.arg("container") or ""
    if not container:
        raise HTTPError(400, "container is required: the container to commit")
    repo, tag_ = req.arg("repo") or "", req.arg("tag") or ""
    changes = list(req.query.get("changes", []))
    config = req.json(default=None) or {}
    if not isinstance(config, dict):
        raise HTTPError(400, "invalid Config: a JSON object was expected")
    for key, value in config.items():
        if value in (None, "", [], {}):
            continue
        if key in _COMMIT_CONFIG:
            changes.append(f"{_COMMIT_CONFIG[key]} {json.dumps(value) if isinstance(value, list) else value}")
        elif key == "Env" and isinstance(value, list):
            changes += [f"ENV {e.partition('=')[0]}={json.dumps(e.partition('=')[2])}" for e in value]
        elif key == "Labels" and isinstance(value, dict):
            changes += [f"LABEL {json.dumps(k)}={json.dumps(v)}" for k, v in value.items()]
        else:
            raise NotSupported(f"commit's Config.{key} is not supported by mydocker yet: use changes")
    name = (f"{repo}:{tag_}" if tag_ else repo) or None
    if name:
        ctx.api.images.canonical(name)
    try:
        ctx.api.containers.inspect(container)
    except NotFound:
        raise HTTPError(404, f"No such container: {container}") from None
    image_id = ctx.api.containers.commit(container, api.CommitOptions(reference=name, changes=changes,
                                                                      message=req.arg("comment") or "",
                                                                      author=req.arg("author") or ""))
    ctx.json(201, {"Id": image_id})




_NAME = r"(?P<name>.+)"
ROUTES = table([
    (("POST",), "/images/create", create),
    (("POST",), "/build", build),
    (("POST",), "/commit", commit),
    (("POST",), "/auth", auth),
    (("POST",), "/images/load", load),
    (("POST",), "/images/prune", prune),
    (("GET",), "/images/get", save),
    (("GET",), f"/images/{_NAME}/get", save),
    (("GET",), f"/images/{_NAME}/history", history),
    (("POST",), f"/images/{_NAME}/tag", tag),
    (("POST",), f"/images/{_NAME}/push", push),
    (("DELETE",), f"/images/{_NAME}", remove),
])

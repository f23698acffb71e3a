"""Pull an image into the ImageStore: resolve the manifest (choosing a platform from an index), fetch
the config, then the missing layers in parallel worker processes.

Nothing is visible until everything is in the store: the caller tags the image only after `pull`
returns, so an interrupted pull leaves blobs (and resumable `.partial-*` files) but no image.
"""

from __future__ import annotations

import json

from mydocker.errors import InvalidArgument, RuntimeFailure
from mydocker.image.registry import media
from mydocker.image.registry.client import RegistryClient, check_digest, reject_schema1
from mydocker.image.store import MAX_JSON
from mydocker.lazy import lazy_module
from mydocker.recordclass import record

blobs = lazy_module("mydocker.image.registry.blobs")
sources = lazy_module("mydocker.image.registry.sources")
workers = lazy_module("mydocker.image.registry.workers")

MAX_PARALLEL = 3   # Docker's max-concurrent-downloads


class RefusedImage(InvalidArgument):
    """A layer of the image cannot be applied, so the image is refused. `blobs` and `diff_ids` name
    what the pull may have put into the store for it: the engine deletes what no other image needs."""

    def __init__(self, message: str, blobs: list[str], diff_ids: list[str]) -> None:
        super().__init__(message)
        self.blobs, self.diff_ids = blobs, diff_ids


@record
class Pulled:
    manifest_digest: str
    manifest_size: int
    media_type: str
    fetched: int            # layers downloaded (the rest were already in the store)


def short(digest: str) -> str:
    return digest.partition(":")[2][:12]


def resolve(client: RegistryClient, reference, platform: tuple[str, str, str], explicit: bool,
            progress) -> tuple[bytes, str, str]:
    """(manifest bytes, media type, digest) of the image manifest for the platform."""
    name = reference.familiar
    ref = reference.digest or reference.tag
    data, content_type, header_digest = client.get_manifest(ref, media.ACCEPT)
    digest = check_digest(data, reference.digest or "", f"manifest of {name}")
    if header_digest and header_digest.startswith("sha256:") and header_digest != digest and not reference.digest:
        raise RuntimeFailure(f"manifest of {name} does not match the digest the registry announced "
                             f"({header_digest}, got {digest})")
    manifest = _json(data, name)
    kind = media.media_type(manifest, content_type)
    reject_schema1(kind, name)
    if kind in media.INDEXES:
        desc = media.select(manifest, platform, name)
        data, content_type, _ = client.get_manifest(desc["digest"], media.ACCEPT)
        digest = check_digest(data, desc["digest"], f"manifest {desc['digest']} of {name}")
        manifest = _json(data, name)
        kind = media.media_type(manifest, desc.get("mediaType", content_type))
        reject_schema1(kind, name)
    if kind not in media.MANIFESTS:
        raise InvalidArgument(f"{name} is a {kind}, not a container image")
    return data, kind, digest


def pull(store, reference, *, platform: str | None = None, tls_verify: bool | None = None,
         insecure_registries=(), progress=None, parallel: int = MAX_PARALLEL) -> Pulled:
    """Fetch `reference` (a mydocker.image.reference.Reference) into `store`.

    progress(id, status, current=0, total=0) receives Docker-style events: id "" for whole-image lines.
    """
    progress = progress or (lambda *a, **k: None)
    wanted = media.parse_platform(platform)
    client = RegistryClient(reference.domain, reference.path, tls_verify=tls_verify,
                            insecure_registries=insecure_registries)
    store.ensure()
    data, kind, digest = resolve(client, reference, wanted, bool(platform), progress)
    # Like Docker, only once the registry has the image: a failed lookup stays a one-line error.
    progress("", f"{reference.tag or reference.digest}: Pulling from {reference.familiar_repository}")
    manifest = _json(data, reference.familiar)
    config_desc = manifest.get("config") or {}
    layers = manifest.get("layers") or []
    config_bytes = _config(store, client, config_desc)
    config = _json(config_bytes, reference.familiar)
    got = media.config_platform(config)
    if platform and got[:2] != wanted[:2]:
        raise InvalidArgument(f"{reference.familiar} is for {media.format_platform(*got)}, not "
                              f"{media.format_platform(*wanted)}: drop --platform or choose another image")
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    if len(diff_ids) != len(layers):
        raise RuntimeFailure(f"{reference.familiar}: the manifest lists {len(layers)} layers but the config "
                             f"{len(diff_ids)}: the image is broken")
    jobs, seen = [], set()
    for desc, diff_id in zip(layers, diff_ids):
        if desc.get("urls") and not desc.get("digest"):
            raise InvalidArgument(f"{reference.familiar} has a foreign layer, which mydocker cannot fetch")
        lid = short(desc["digest"])
        if store.has_blob(desc["digest"]) and store.has_layer(diff_id) or desc["digest"] in seen:
            progress(lid, "Already exists")
            continue
        seen.add(desc["digest"])
        progress(lid, "Pulling fs layer")
        jobs.append((desc["digest"], int(desc.get("size", 0)), diff_id))
    if jobs:
        try:
            _fetch_layers(store, client, jobs, progress, parallel)
        except InvalidArgument as e:  # the content itself was refused: retrying cannot help
            for layer_digest, _size, _diff_id in jobs:  # the other layers' workers were killed mid-way
                blobs.discard_partial(store, layer_digest)
            raise RefusedImage(str(e), [config_desc["digest"], *(d["digest"] for d in layers)], diff_ids) from None
    # last: the manifest itself (the caller then tags it)
    if check_digest(data, digest, "manifest") != store.put_bytes(data):
        raise RuntimeFailure("the image store changed the manifest's bytes")
    sources.remember(store, [d["digest"] for d in layers] + [config_desc["digest"]], reference.repository)
    progress("", f"Digest: {digest}")
    return Pulled(digest, len(data), kind, len(jobs))


def _config(store, client: RegistryClient, desc: dict) -> bytes:
    digest = desc.get("digest", "")
    if not digest:
        raise RuntimeFailure("the manifest has no config descriptor: the image is broken")
    if store.has_blob(digest):
        with open(store.blob_path(digest), "rb") as f:
            return f.read()
    resp = client.get_blob(digest)
    data = resp.read(MAX_JSON)
    check_digest(data, digest, f"config blob {digest}")
    store.put_bytes(data)
    return data


def _fetch_layers(store, client: RegistryClient, jobs: list, progress, parallel: int) -> None:
    client.ping()   # authenticate once in the parent; workers inherit the token

    def work(job, emit):
        digest, size, diff_id = job
        client.transport.forget_connections()
        final = blobs.fetch_layer(client, store, digest, size, diff_id,
                            lambda status, current, total: emit([status, current, total]))
        emit([final, size, size])
        return final

    def on_event(index: int, event) -> None:
        status, current, total = event
        progress(short(jobs[index][0]), status, current, total)

    for index in range(len(jobs)):
        progress(short(jobs[index][0]), "Waiting")
    workers.run(jobs, work, on_event, parallel=min(parallel, len(jobs)))


def _json(data: bytes, name: str) -> dict:
    try:
        value = json.loads(data)
    except ValueError:
        raise RuntimeFailure(f"{name}: the registry sent a manifest or config that is not JSON") from None
    if not isinstance(value, dict):
        raise RuntimeFailure(f"{name}: the registry sent a manifest or config that is not a JSON object")
    return value

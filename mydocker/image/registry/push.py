"""Push an image from the ImageStore: for each blob HEAD first (skip what the registry has), then a
cross-repository mount when a repository of the same registry is known to hold it, else an upload
(monolithic up to `chunk_size`, chunked PATCHes above it); the manifest goes last, under the tag.
The manifest is pushed byte for byte, so the image keeps its digest.
"""

from __future__ import annotations

import json
import os

from mydocker.errors import InvalidArgument, RuntimeFailure
from mydocker.image.registry import media, sources
from mydocker.image.registry.client import RegistryClient
from mydocker.image.registry.pull import short

CHUNK_SIZE = 64 << 20    # blobs above this go up in chunks of this size


def push(store, reference, manifest_digest: str, *, tls_verify: bool | None = None, insecure_registries=(),
         progress=None, chunk_size: int = CHUNK_SIZE) -> str:
    progress = progress or (lambda *a, **k: None)
    if reference.digest:
        raise InvalidArgument(f"cannot push to {reference.familiar}: push to a tag, not a digest")
    client = RegistryClient(reference.domain, reference.path, actions="pull,push", tls_verify=tls_verify,
                            insecure_registries=insecure_registries)
    with open(store.blob_path(manifest_digest), "rb") as f:
        data = f.read()
    manifest = json.loads(data)
    kind = media.media_type(manifest)
    if kind not in media.MANIFESTS:
        raise InvalidArgument(f"{reference.familiar} is a {kind}: only single-platform images can be pushed")
    progress("", f"The push refers to repository [{reference.repository}]")
    blobs = list(reversed(manifest.get("layers") or [])) + [manifest["config"]]
    quiet = lambda *a, **k: None  # noqa: E731 - Docker shows layers, not the config
    for desc in blobs:
        _push_blob(store, client, reference, desc, progress if desc in manifest.get("layers", []) else quiet,
                   chunk_size)
    pushed = client.put_manifest(reference.tag, data, kind)
    if pushed and pushed != manifest_digest:
        raise RuntimeFailure(f"the registry stored the manifest as {pushed}, not {manifest_digest}")
    sources.remember(store, [d["digest"] for d in blobs], reference.repository)
    progress("", f"{reference.tag}: digest: {manifest_digest} size: {len(data)}")
    return manifest_digest


def _push_blob(store, client: RegistryClient, reference, desc: dict, progress, chunk_size: int) -> None:
    digest, lid = desc["digest"], short(desc["digest"])
    path = store.blob_path(digest)
    if not os.path.exists(path):
        raise RuntimeFailure(f"blob {digest} of {reference.familiar} is missing from the image store: "
                             "pull or load the image again")
    size = os.path.getsize(path)
    if client.has_blob(digest):
        progress(lid, "Layer already exists")
        return
    source = sources.mount_source(store, digest, reference.domain, reference.path)
    mounted, location = client.start_upload(mount=digest, source=source) if source else client.start_upload()
    if mounted:
        progress(lid, f"Mounted from {source}")
        return
    progress(lid, "Preparing")
    with open(path, "rb") as f:
        if size <= chunk_size:
            progress(lid, "Pushing", 0, size)
            client.finish_upload(location, digest, f, size)
        else:
            done = 0
            while chunk := f.read(chunk_size):
                location = client.upload_chunk(location, chunk, done)
                done += len(chunk)
                progress(lid, "Pushing", done, size)
            client.finish_upload(location, digest)
    progress(lid, "Pushed", size, size)

"""Push an image from the ImageStore: for each blob HEAD first (skip what the registry has), then a
cross-repository mount when a repository of the same registry is known to hold it, else an upload
(monolithic up to `chunk_size`, chunked PATCHes above it); the manifest goes last, under the tag.

Layers kept uncompressed (built, committed, imported, the busybox image) go up gzipped, as Docker
pushes them: the pushed manifest names the gzip blobs (the config, and so the image id and the diff
ids, are the same), and push returns its digest. The gzip is deterministic (no name, mtime 0), so a
layer compresses to the same blob every time; which blob is remembered (compressed.json in the
store), so pushing it again to a registry that has it costs a HEAD, not a compression. A manifest
whose layers are all compressed already is pushed byte for byte and keeps its digest.
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
         progress=None, chunk_size: int = CHUNK_SIZE, credentials: tuple[str, str] | None = None) -> str:
    """`credentials`: the caller's (the API's X-Registry-Auth); None: those `login` stored."""
    progress = progress or (lambda *a, **k: None)
    if reference.digest:
        raise InvalidArgument(f"cannot push to {reference.familiar}: push to a tag, not a digest")
    client = RegistryClient(reference.domain, reference.path, actions="pull,push", tls_verify=tls_verify,
                            insecure_registries=insecure_registries, credentials=credentials or True)
    with open(store.blob_path(manifest_digest), "rb") as f:
        data = f.read()
    manifest = json.loads(data)
    kind = media.media_type(manifest)
    if kind not in media.MANIFESTS:
        raise InvalidArgument(f"{reference.familiar} is a {kind}: only single-platform images can be pushed")
    progress("", f"The push refers to repository [{reference.repository}]")
    layers = []
    for desc in reversed(manifest.get("layers") or []):
        gzip_type = _GZIP_OF.get(desc.get("mediaType", ""))
        if gzip_type is None:  # compressed already (or foreign): as it is
            _push_blob(store, client, reference, desc, progress, chunk_size)
            layers.insert(0, desc)
            continue
        known = _compressed(store).get(desc["digest"])
        if known and client.has_blob(known[0]):
            progress(short(known[0]), "Layer already exists")
            layers.insert(0, {**desc, "mediaType": gzip_type, "digest": known[0], "size": known[1]})
            continue
        gz, made = _gzip_blob(store, desc["digest"])
        try:
            layers.insert(0, {**desc, "mediaType": gzip_type, "digest": gz[0], "size": gz[1]})
            _push_blob(store, client, reference, layers[0], progress, chunk_size)
        finally:
            if made:  # the local image keeps its uncompressed blob; the gzip one was for the registry
                store.remove_blob(gz[0])
    # Docker shows layers only
    _push_blob(store, client, reference, manifest["config"], lambda *a, **k: None, chunk_size)
    if layers != (manifest.get("layers") or []):
        import hashlib
        data = json.dumps({**manifest, "layers": layers}, separators=(",", ":")).encode()
        manifest_digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs = [*layers, manifest["config"]]
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


_GZIP_OF = {"application/vnd.oci.image.layer.v1.tar": "application/vnd.oci.image.layer.v1.tar+gzip",
            "application/vnd.docker.image.rootfs.diff.tar": "application/vnd.docker.image.rootfs.diff.tar.gzip"}
_COMPRESSED = "compressed.json"   # in the store: uncompressed layer digest -> [gzip digest, size]


def _compressed(store) -> dict:
    try:
        with open(os.path.join(store.root, _COMPRESSED)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _gzip_blob(store, digest: str) -> tuple[tuple[str, int], bool]:
    """((digest, size) of the layer gzipped, into the store as a blob; whether this call made it)."""
    import gzip
    import shutil
    from mydocker.image.diff import HashingWriter
    from mydocker.linux.fs import remove_tree
    scratch = store.temp_dir(".gzip-")
    try:
        path = os.path.join(scratch, "layer.gz")
        with open(store.blob_path(digest), "rb") as src, open(path, "wb") as raw:
            out = HashingWriter(raw)
            with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz:  # deterministic bytes
                shutil.copyfileobj(src, gz, 1 << 20)
        result = (out.digest, out.size)
        made = not os.path.exists(store.blob_path(result[0]))
        if made:
            os.rename(path, store.blob_path(result[0]))
    finally:
        remove_tree(scratch)
    known = _compressed(store)
    known[digest] = list(result)
    tmp = os.path.join(store.root, f"{_COMPRESSED}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        json.dump(known, f)
    os.rename(tmp, os.path.join(store.root, _COMPRESSED))  # a lost entry only costs a compression later
    return result, made

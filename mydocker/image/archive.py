"""Image archives: write and read the docker-archive and OCI-layout tar formats.

`save` writes what `docker save` writes since Docker 25 by default: an OCI image layout
(oci-layout, index.json, blobs/sha256/...) that also carries docker-archive's manifest.json and
repositories, so Docker, podman, skopeo and mydocker all load it. Blobs are written byte for byte,
so digests survive a round trip.

`load` reads either format (and the legacy `<id>/layer.tar` docker-archive, symlinked layers
included), from a file or a stream, hashing every file as it is copied into the store.
"""

from __future__ import annotations

import json
import os
import tarfile

from mydocker.errors import InvalidArgument
from mydocker.image.store import (MAX_JSON, MEDIA_CONFIG, MEDIA_LAYER, MEDIA_LAYER_GZIP, MEDIA_MANIFEST, ImageStore,
                                  encode_json)
from mydocker.lazy import lazy_module

hashlib = lazy_module("hashlib")
io = lazy_module("io")
reference = lazy_module("mydocker.image.reference")
shutil = lazy_module("shutil")

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
FORMATS = ("docker", "oci-archive", "docker-archive")
_SMALL = 4 << 20  # files this small are kept in memory too (JSON documents; a larger one is read back)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    tar.addfile(info)


def save(store: ImageStore, images: list[tuple[str, list[str]]], out, fmt: str = "docker") -> None:
    """Write `images` [(manifest digest, [canonical names])] to the binary stream `out`."""
    if fmt not in FORMATS:
        raise InvalidArgument(f"unknown archive format {fmt!r}: use one of {', '.join(FORMATS)}")
    index, docker_manifest, repositories, blobs = [], [], {}, []
    for digest, names in images:
        manifest = store.read_json(digest)
        config_digest = manifest["config"]["digest"]
        blobs += [digest, config_digest, *(layer["digest"] for layer in manifest["layers"])]
        size = os.path.getsize(store.blob_path(digest))
        for name in names or [None]:
            desc = {"mediaType": manifest.get("mediaType", MEDIA_MANIFEST), "digest": digest, "size": size}
            if name:
                ref = reference.parse(name)
                desc["annotations"] = {CONTAINERD_NAME: name, REF_NAME: ref.tag or ""}
            index.append(desc)
        tags = [reference.parse(n).familiar for n in names]
        docker_manifest.append({"Config": _blob_name(config_digest), "RepoTags": tags or None,
                                "Layers": [_blob_name(layer["digest"]) for layer in manifest["layers"]]})
        for name in names:
            ref = reference.parse(name)
            repositories.setdefault(ref.familiar_repository, {})[ref.tag] = config_digest.partition(":")[2]
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, bufsize=1 << 20) as tar:
        tar.copybufsize = 1 << 20
        _add_dir(tar, "blobs")
        _add_dir(tar, "blobs/sha256")
        for digest in dict.fromkeys(blobs):
            path = store.blob_path(digest)
            info = tarfile.TarInfo(_blob_name(digest))
            info.size, info.mode = os.path.getsize(path), 0o444
            with open(path, "rb") as f:
                tar.addfile(info, f)
        if fmt in ("docker", "oci-archive"):
            _add_bytes(tar, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
            _add_bytes(tar, "index.json", json.dumps({"schemaVersion": 2, "mediaType": MEDIA_INDEX,
                                                      "manifests": index}).encode())
        if fmt in ("docker", "docker-archive"):
            _add_bytes(tar, "manifest.json", json.dumps(docker_manifest).encode())
            if repositories:
                _add_bytes(tar, "repositories", json.dumps(repositories).encode())


def _blob_name(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    return f"blobs/{algo}/{hexpart}"


class _Files:
    """The archive's regular files, each copied once into the store's scratch dir and hashed."""

    def __init__(self, scratch: str) -> None:
        self.scratch = scratch
        self.files: dict[str, tuple[str, str, int]] = {}   # name -> (path, digest, size)
        self.small: dict[str, bytes] = {}
        self.links: dict[str, str] = {}
        self.stored: list[str] = []   # blobs this load put into the store (removed if it fails)

    def store(self, store: ImageStore, path: str, digest: str) -> None:
        """Move a checked file into the store under its digest, unless the store has it."""
        target = store.blob_path(digest)
        if not os.path.exists(target):
            os.rename(path, target)
            self.stored.append(digest)

    def store_json(self, store: ImageStore, document: dict) -> tuple[str, int]:
        """store.put_json, remembering a blob that is new."""
        data = encode_json(document)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if not store.has_blob(digest):
            self.stored.append(digest)
        return store.put_bytes(data), len(data)

    def unstore(self, store: ImageStore) -> None:
        """The load failed: take back the blobs it added."""
        for digest in self.stored:
            store.remove_blob(digest)

    def add(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        name = os.path.normpath(member.name.lstrip("/"))
        if member.issym() or member.islnk():
            target = member.linkname if member.islnk() else os.path.join(os.path.dirname(name), member.linkname)
            self.links[name] = os.path.normpath(target.lstrip("/"))
            return
        if not member.isreg():
            return
        path = os.path.join(self.scratch, str(len(self.files)))
        h = hashlib.sha256()
        src = tar.extractfile(member)
        keep = member.size <= _SMALL
        chunks = []
        with open(path, "wb") as out:
            while chunk := src.read(1 << 20):
                h.update(chunk)
                out.write(chunk)
                if keep:
                    chunks.append(chunk)
        self.files[name] = (path, "sha256:" + h.hexdigest(), member.size)
        if keep:
            self.small[name] = b"".join(chunks)

    def resolve(self, name: str) -> str:
        name = os.path.normpath(name.lstrip("/"))
        for _ in range(16):
            if name not in self.links:
                break
            name = self.links[name]
        if name not in self.files:
            raise InvalidArgument(f"the archive names {name!r} but does not contain it: the archive is "
                                  "incomplete or not an image archive")
        return name

    def json(self, name: str) -> dict | list:
        name = self.resolve(name)
        data = self.small.get(name)
        if data is None:
            path, _digest, size = self.files[name]
            if size > MAX_JSON:
                raise InvalidArgument(f"{name!r} in the archive is {size} bytes, past the {MAX_JSON >> 20} MiB "
                                      "that an image's index, manifest or config may take: the archive is "
                                      "damaged or not an image")
            with open(path, "rb") as f:
                data = f.read()
        try:
            return json.loads(data)
        except ValueError:
            raise InvalidArgument(f"{name!r} in the archive is not valid JSON: the archive is damaged") from None

    def blob(self, digest: str) -> tuple[str, str, int]:
        """A blob by digest, checked against its content."""
        name = self.resolve(_blob_name(digest))
        path, actual, size = self.files[name]
        if actual != digest:
            raise InvalidArgument(f"blob {digest} in the archive has digest {actual}: the archive is damaged")
        return path, actual, size


def _layer_media(path: str) -> str:
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:2] == b"\x1f\x8b":
        return MEDIA_LAYER_GZIP
    if head == b"\x28\xb5\x2f\xfd":
        return MEDIA_LAYER_ZSTD
    return MEDIA_LAYER


def load(store: ImageStore, stream) -> list[tuple[str, int, list[str]]]:
    """Read an image archive from `stream` into the store: [(manifest digest, size, [names])]."""
    scratch = store.temp_dir(".load-")
    try:
        files = _Files(scratch)
        try:
            with tarfile.open(fileobj=stream, mode="r|*", bufsize=1 << 20) as tar:
                for member in tar:
                    files.add(tar, member)
        except tarfile.TarError as e:
            raise InvalidArgument(f"the input is not a readable image archive ({e}): give a tar written "
                                  "by save, docker save, podman save or skopeo") from None
        try:
            if "index.json" in files.files:
                return _load_oci(store, files)
            if "manifest.json" in files.files:
                return _load_docker(store, files)
        except BaseException:
            files.unstore(store)
            raise
        raise InvalidArgument("the archive has neither index.json (OCI layout) nor manifest.json "
                              "(docker-archive): it is not an image archive")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _docker_tags(files: _Files) -> dict[str, list[str]]:
    """config digest -> canonical names, from a docker-archive manifest.json if present."""
    if "manifest.json" not in files.files:
        return {}
    out: dict[str, list[str]] = {}
    for entry in files.json("manifest.json"):
        _path, digest, _size = files.files[files.resolve(entry["Config"])]
        out.setdefault(digest, []).extend(str(reference.parse(t)) for t in entry.get("RepoTags") or [])
    return out


def _load_oci(store: ImageStore, files: _Files) -> list[tuple[str, int, list[str]]]:
    index = files.json("index.json")
    found: list[tuple[dict, list[str]]] = []

    def walk(descs: list[dict], names: list[str]) -> None:
        for desc in descs:
            annotations = desc.get("annotations") or {}
            name = annotations.get(CONTAINERD_NAME) or annotations.get(REF_NAME)
            here = list(names)
            if name and (":" in name or "/" in name or "@" in name):
                here.append(str(reference.parse(name)))
            platform = desc.get("platform") or {}
            if platform and (platform.get("os", "linux") != "linux" or platform.get("architecture") not in
                             (None, _arch())):
                continue
            document = files.json(_blob_name(desc["digest"]))
            files.blob(desc["digest"])
            if "manifests" in document:
                walk(document["manifests"], here)
            else:
                found.append((desc, here))

    walk(index.get("manifests") or [], [])
    if not found:
        raise InvalidArgument(f"the archive's index.json lists no image for linux/{_arch()}")
    docker_tags = _docker_tags(files)
    loaded = []
    for desc, names in found:
        manifest = files.json(_blob_name(desc["digest"]))
        needed = [manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])]
        for digest in needed:
            path, _d, _s = files.blob(digest)
            files.store(store, path, digest)
        path, digest, size = files.blob(desc["digest"])
        files.store(store, path, digest)
        names = names or docker_tags.get(manifest["config"]["digest"], [])
        loaded.append((digest, size, list(dict.fromkeys(names))))
    return loaded


def _arch() -> str:
    machine = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def _load_docker(store: ImageStore, files: _Files) -> list[tuple[str, int, list[str]]]:
    loaded = []
    for entry in files.json("manifest.json"):
        config_path, config_digest, config_size = files.files[files.resolve(entry["Config"])]
        config = files.json(entry["Config"])
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        if len(diff_ids) != len(entry.get("Layers") or []):
            raise InvalidArgument(f"the archive's image {entry['Config']} lists {len(entry.get('Layers') or [])} "
                                  f"layers but its config {len(diff_ids)}: the archive is damaged")
        layers = []
        for layer_name, diff_id in zip(entry["Layers"], diff_ids):
            path, digest, size = files.files[files.resolve(layer_name)]
            media = _layer_media(path)
            if media == MEDIA_LAYER and digest != diff_id:
                raise InvalidArgument(f"layer {layer_name} has digest {digest} but the config expects "
                                      f"{diff_id}: the archive is damaged")
            layers.append({"mediaType": media, "digest": digest, "size": size})
            files.store(store, path, digest)
        files.store(store, config_path, config_digest)
        manifest = {"schemaVersion": 2, "mediaType": MEDIA_MANIFEST,
                    "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest, "size": config_size},
                    "layers": layers}
        digest, size = files.store_json(store, manifest)
        names = [str(reference.parse(t)) for t in entry.get("RepoTags") or []]
        loaded.append((digest, size, names))
    return loaded

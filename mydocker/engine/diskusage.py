"""`system df`: what images, containers and volumes hold on disk, as Docker counts it."""

from __future__ import annotations

import os
from mydocker.errors import MyDockerError
from mydocker.lazy import lazy_module

snapshot = lazy_module("mydocker.image.snapshot")
engine_inspect = lazy_module("mydocker.engine.inspect")


def tree_size(path: str) -> int:
    """Bytes of the regular files under `path` (each inode once), not following symlinks or mounts."""
    total, seen = 0, set()
    try:
        device = os.lstat(path).st_dev
    except OSError:
        return 0
    for top, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if _same_device(os.path.join(top, d), device)]
        for name in files:
            try:
                st = os.lstat(os.path.join(top, name))
            except OSError:
                continue
            if st.st_nlink > 1:
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512 if st.st_blocks else st.st_size
    return total


def _same_device(path: str, device: int) -> bool:
    try:
        return os.lstat(path).st_dev == device
    except OSError:
        return False


def container_sizes(engine, records: list) -> dict[str, tuple[int, int]]:
    """Container id -> (bytes in its writable layer, those plus its image's): Docker's SizeRw, SizeRootFs."""
    image_sizes = {row["Manifest"]: row["Size"] for row in engine.images.list(all_images=True)}
    out = {}
    for rec in records:
        size_rw = tree_size(snapshot.writable_dir(engine.containers.paths.container_dir(rec.id)))
        out[rec.id] = (size_rw, size_rw + image_sizes.get(rec.image_id, 0))
    return out


def usage(engine) -> dict:
    """{"images": the image rows (all of them) with "Containers" and "SharedSize" (bytes of its layers
    other images have too), "layers_size" (each layer once), "containers": [(record, bytes of its
    writable layer)], "mounts": container id -> its Docker Mounts, "volumes": volume documents with
    "Size" and "RefCount"}."""
    records = engine.records.containers()
    using: dict[str, int] = {}
    for rec in records:
        using[rec.image_id] = using.get(rec.image_id, 0) + 1
    rows = engine.images.list(all_images=True)
    layers_of = {row["ID"]: _layers(engine.images.store, row["Manifest"]) for row in rows}
    holders: dict[str, int] = {}
    for layers in layers_of.values():
        for digest in layers:
            holders[digest] = holders.get(digest, 0) + 1
    for row in rows:
        row["Containers"] = using.get(row.get("Manifest"), 0)
        row["SharedSize"] = sum(size for digest, size in layers_of[row["ID"]].items() if holders[digest] > 1)
    layers_size = sum({d: size for layers in layers_of.values() for d, size in layers.items()}.values())
    containers, mounts = [], {}
    for rec in records:
        directory = engine.containers.paths.container_dir(rec.id)
        containers.append((rec, tree_size(snapshot.writable_dir(directory))))
        mounts[rec.id] = engine_inspect.mounts_of(rec, directory)
    volumes = []
    for doc in engine.volumes.list():
        volumes.append(dict(doc, Size=tree_size(doc["Mountpoint"]), RefCount=len(doc.get("UsedBy") or [])))
    return {"images": rows, "layers_size": layers_size, "containers": containers, "mounts": mounts,
            "volumes": volumes}


def _layers(store, manifest_digest: str) -> dict[str, int]:
    """The image's layers: digest -> size (none if its manifest is gone)."""
    try:
        return {layer["digest"]: layer.get("size", 0) for layer in store.read_json(manifest_digest).get("layers", [])}
    except (OSError, ValueError, KeyError, MyDockerError):
        return {}

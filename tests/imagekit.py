"""Build layer tars and images in tests without a registry: entries described as small tuples."""

from __future__ import annotations

import io
import json
import os
import tarfile


def layer_tar(entries: list[tuple], path: str | None = None) -> bytes:
    """A layer tar from entries:
       ("file", name, text, mode=0o644, uid=0, gid=0, xattrs={}) ("dir", name, mode=0o755)
       ("symlink", name, target) ("hardlink", name, target) ("char", name, major, minor)
       ("whiteout", name) ("opaque", dirname)
    """
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for kind, name, *rest in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            data = None
            if kind == "file":
                text = rest[0]
                data = text if isinstance(text, bytes) else text.encode()
                info.size = len(data)
                info.mode = rest[1] if len(rest) > 1 else 0o644
                info.uid = rest[2] if len(rest) > 2 else 0
                info.gid = rest[3] if len(rest) > 3 else 0
                if len(rest) > 4:
                    info.pax_headers = {f"SCHILY.xattr.{k}": v.decode("utf-8", "surrogateescape")
                                        for k, v in rest[4].items()}
            elif kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, rest[0] if rest else 0o755
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, rest[0]
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, rest[0]
            elif kind == "char":
                info.type, info.devmajor, info.devminor, info.mode = tarfile.CHRTYPE, rest[0], rest[1], 0o666
            elif kind == "whiteout":
                head, base = os.path.split(name)
                info.name = os.path.join(head, ".wh." + base)
            elif kind == "opaque":
                info.name = os.path.join(name, ".wh..wh..opq")
            else:
                raise ValueError(kind)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    raw = buf.getvalue()
    if path:
        with open(path, "wb") as f:
            f.write(raw)
    return raw


def docker_archive(layers: list[bytes], tags: list[str], cmd: list[str] | None = None,
                   labels: dict[str, str] | None = None) -> bytes:
    """A legacy docker-archive (`<id>/layer.tar`, `<config>.json`) holding one image."""
    import hashlib
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    config = {"architecture": "amd64", "os": "linux",
              "config": {"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": cmd or ["sh"],
                         **({"Labels": labels} if labels else {})},
              "rootfs": {"type": "layers", "diff_ids": diff_ids},
              "history": [{"created_by": f"layer {i}"} for i in range(len(layers))]}
    config_bytes = json.dumps(config).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        names = []
        for diff_id, layer in zip(diff_ids, layers):
            names.append(f"{diff_id[7:]}/layer.tar")
            add(names[-1], layer)
        add(config_name, config_bytes)
        add("manifest.json", json.dumps([{"Config": config_name, "RepoTags": tags, "Layers": names}]).encode())
    return buf.getvalue()

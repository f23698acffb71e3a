"""The `busybox` image, built offline from the host's busybox-static.

It goes into the store in the same form a pulled image has: one layer tar, an OCI config and a
manifest, so nothing downstream treats it specially.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import tempfile

from mydocker.errors import NotFound
from mydocker.image.store import MEDIA_CONFIG, MEDIA_LAYER, MEDIA_MANIFEST, ImageStore

HOST_BUSYBOX = ("/bin/busybox", "/usr/bin/busybox")
ENV_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_ETC = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
                  "bin:x:2:2:bin:/bin:/bin/false\nsys:x:3:3:sys:/dev:/bin/false\n"
                  "www-data:x:33:33:www-data:/var/www:/bin/false\n"
                  "nobody:x:65534:65534:nobody:/home:/bin/false\n",
    "etc/group": "root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\ntty:x:5:\nwww-data:x:33:\n"
                 "users:x:100:\nnogroup:x:65534:\n",
    "etc/shadow": "root:*:10933:0:99999:7:::\nnobody:*:10933:0:99999:7:::\n",
}
_DIRS = {"bin": 0o755, "dev": 0o755, "etc": 0o755, "home": 0o755, "proc": 0o555, "root": 0o700,
         "sys": 0o555, "tmp": 0o1777, "usr": 0o755, "usr/bin": 0o755, "usr/sbin": 0o755,
         "var": 0o755, "var/spool": 0o755, "var/www": 0o755}


def find_host_busybox() -> str:
    for path in HOST_BUSYBOX:
        if os.path.isfile(path) and _is_static(path):
            return path
    raise NotFound("image busybox needs the host's static busybox: install it with "
                   "'apt-get install busybox-static'")


def _is_static(path: str) -> bool:
    """A static ELF has no PT_INTERP program header."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:
            return False
        phoff = int.from_bytes(head[32:40], "little")
        phentsize = int.from_bytes(head[54:56], "little")
        phnum = int.from_bytes(head[56:58], "little")
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    return all(int.from_bytes(table[i:i + 4], "little") != 3 for i in range(0, len(table), phentsize))


def build_layer(busybox: str, out) -> None:
    """Write the busybox root filesystem as a tar (deterministic for one busybox binary)."""
    mtime = int(os.stat(busybox).st_mtime)
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, mode in _DIRS.items():
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, mode, mtime
            tar.addfile(info)
        with open(busybox, "rb") as f:
            info = tarfile.TarInfo("bin/busybox")
            info.size, info.mode, info.mtime = os.fstat(f.fileno()).st_size, 0o755, mtime
            tar.addfile(info, f)
        for applet in sorted(set(applets) - {"busybox"}):  # busybox lists itself
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname, info.mode, info.mtime = tarfile.LNKTYPE, "bin/busybox", 0o755, mtime
            tar.addfile(info)
        for name, text in _ETC.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o600 if name.endswith("shadow") else 0o644, mtime
            tar.addfile(info, io.BytesIO(data))


def build_image(store: ImageStore) -> tuple[str, int]:
    """Put the busybox image into the store; return (manifest digest, manifest size)."""
    busybox = find_host_busybox()
    store.ensure()
    fd, tmp = tempfile.mkstemp(prefix=".busybox-", dir=store.blobs)
    try:
        with os.fdopen(fd, "wb") as out:
            build_layer(busybox, out)
        layer_digest, layer_size = store.put_file(tmp)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    version = subprocess.run([busybox], capture_output=True, text=True).stdout.split("\n", 1)[0]
    config = {
        "architecture": "amd64" if os.uname().machine == "x86_64" else os.uname().machine,
        "os": "linux",
        "config": {"Env": [ENV_PATH], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created_by": f"mydocker: {version or 'busybox'} from the host's {busybox}"}],
    }
    config_digest, config_size = store.put_json(config)
    manifest = {
        "schemaVersion": 2, "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": MEDIA_LAYER, "digest": layer_digest, "size": layer_size}],
    }
    return store.put_json(manifest)

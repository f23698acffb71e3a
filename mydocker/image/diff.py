"""Write directories as layer tars: a container's upper dir (commit) or a whole rootfs (export).

Overlay's whiteouts in an upper dir (0/0 character devices, `trusted.overlay.opaque=y`) become the
OCI forms `.wh.<name>` and `.wh..wh..opq`. Ownership, modes, hard links, symlinks, devices and
xattrs (as PAX `SCHILY.xattr.*`) are kept; entries are sorted so one tree gives one digest.
"""

from __future__ import annotations

import os
import stat
import tarfile

from mydocker.image.layer import OPAQUE, OPAQUE_XATTR, WHITEOUT
from mydocker.lazy import lazy_module

hashlib = lazy_module("hashlib")

_XATTR_PAX = "SCHILY.xattr."


class HashingWriter:
    """A write-only file that hashes (sha256) and counts what passes through it."""

    def __init__(self, out) -> None:
        self.out = out
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data) -> int:
        self.hash.update(data)
        self.size += len(data)
        return self.out.write(data)

    @property
    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


def _xattrs(path: str) -> dict[str, str]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for name in names:
        if name.startswith("trusted.overlay.") or name.startswith("system."):
            continue  # overlay's bookkeeping and ACLs-as-xattrs are not layer content
        try:
            out[_XATTR_PAX + name] = os.getxattr(path, name, follow_symlinks=False).decode("utf-8", "surrogateescape")
        except OSError:
            continue
    return out


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def write_tree(tar: tarfile.TarFile, root: str, overlay_upper: bool) -> None:
    """Add everything under `root` (not root itself) to `tar`, in sorted order."""
    mtime_of_whiteouts = 0

    def add(path: str, arcname: str) -> None:
        info = tar.gettarinfo(path, arcname)
        if info is None:
            return  # a socket: not layer content
        info.uname = info.gname = ""
        xattrs = _xattrs(path)
        if xattrs:
            info.pax_headers = xattrs
        if info.isreg():
            with open(path, "rb") as f:
                tar.addfile(info, f)
        else:
            tar.addfile(info)

    def walk(directory: str, prefix: str) -> None:
        with os.scandir(directory) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            path = entry.path
            arcname = prefix + entry.name
            st = entry.stat(follow_symlinks=False)
            if overlay_upper and _is_whiteout(st):
                info = tarfile.TarInfo(prefix + WHITEOUT + entry.name)
                info.mtime = mtime_of_whiteouts
                tar.addfile(info)
                continue
            add(path, arcname)
            if stat.S_ISDIR(st.st_mode):
                if overlay_upper and _opaque(path):
                    info = tarfile.TarInfo(arcname + "/" + OPAQUE)
                    info.mtime = mtime_of_whiteouts
                    tar.addfile(info)
                walk(path, arcname + "/")

    walk(root, "")


def write_layer(root: str, out, overlay_upper: bool) -> None:
    """Write `root` as an uncompressed layer tar to the binary file `out`."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, bufsize=1 << 20) as tar:
        tar.copybufsize = 1 << 20
        write_tree(tar, root, overlay_upper)

"""Resolve a path inside a root directory the way the container will see it.

Symlinks are followed with the root as "/", so a destination such as /data -> ../../etc can
never lead outside the rootfs (CVE-2021-30465 class). Missing components are kept lexically.
"""

from __future__ import annotations

import os

_MAX_LINKS = 255


def secure_join(root: str, unsafe: str) -> str:
    """Return root/unsafe with every symlink resolved inside root."""
    root = root.rstrip("/") or "/"
    parts = [p for p in unsafe.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            target = os.readlink(candidate)
        except OSError:  # not a link, or missing: keep the name as it is
            resolved.append(part)
            continue
        links += 1
        if links > _MAX_LINKS:
            raise OSError(40, "too many levels of symbolic links", os.path.join("/", *resolved, part))
        if target.startswith("/"):
            resolved = []
        parts = [p for p in target.split("/") if p not in ("", ".")] + parts
    return os.path.join(root, *resolved)

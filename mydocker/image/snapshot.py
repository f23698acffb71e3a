"""Container root filesystems as overlay mounts: image layers below, a writable layer on top."""

from __future__ import annotations

import os

from mydocker.linux import syscalls as sc


def prepare(lowers: list[str], container_dir: str) -> str:
    """Mount <container_dir>/rootfs with `lowers` (bottom to top) under <container_dir>/{upper,work}."""
    upper, work, target = (os.path.join(container_dir, d) for d in ("upper", "work", "rootfs"))
    for path in (upper, work, target):
        os.makedirs(path, exist_ok=True)
    # overlay lists the topmost lower first
    options = f"lowerdir={':'.join(reversed(lowers))},upperdir={upper},workdir={work}"
    sc.mount("overlay", target, "overlay", 0, options)
    return target


def release(container_dir: str) -> None:
    """Unmount the container's rootfs if mounted; idempotent."""
    target = os.path.join(container_dir, "rootfs")
    try:
        sc.umount2(target, sc.MNT_DETACH)
    except OSError as e:
        if e.errno not in (22, 2):  # EINVAL: not a mount point; ENOENT: never made
            raise

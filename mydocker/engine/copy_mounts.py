"""A stopped container's binds and volumes, mounted into its root filesystem for a copy (`docker cp`,
GET/PUT /archive) and unmounted after it: Docker mounts them for the copy too, so a copy sees and
writes what the container would see at that path, not the directory the volume covers.

Destinations are resolved inside the root filesystem (openat2 RESOLVE_IN_ROOT) and the bind is made on
the fd resolved, so a symlink in the image cannot move a mount onto the host. The mounts are private
(nothing propagates to the host's peers) and sit below the rootfs mount: unmounting the rootfs (the
container's teardown) takes any a crash left behind.
"""

from __future__ import annotations

import os

from mydocker.linux import syscalls as sc

_IN_ROOT = sc.RESOLVE_IN_ROOT | sc.RESOLVE_NO_MAGICLINKS


def mount_all(root_fd: int, mounts: list[dict]) -> list[str]:
    """Bind each of Docker's Mounts entries (Source on Destination; read-only unless RW) into the root
    filesystem `root_fd`, outer paths first; the host paths mounted on. A destination the container
    never made is skipped (nothing there to see)."""
    done: list[str] = []
    try:
        for m in sorted(mounts, key=lambda m: os.path.normpath(m["Destination"]).count("/")):
            try:
                fd = sc.openat2(root_fd, m["Destination"], os.O_PATH | os.O_CLOEXEC, _IN_ROOT)
            except FileNotFoundError:
                continue
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
                sc.mount(m["Source"], f"/proc/self/fd/{fd}", None, sc.MS_BIND | sc.MS_REC)
            finally:
                os.close(fd)
            done.append(target)
            sc.mount(None, target, None, sc.MS_PRIVATE | sc.MS_REC)
            if not m.get("RW", True):
                sc.mount_setattr(target, sc.MOUNT_ATTR_RDONLY)
    except BaseException:
        unmount_all(done)
        raise
    return done


def unmount_all(targets: list[str]) -> None:
    """Undo mount_all (inner paths first); one already gone is fine."""
    for target in reversed(targets):
        try:
            sc.umount2(target, sc.MNT_DETACH)
        except OSError:
            pass

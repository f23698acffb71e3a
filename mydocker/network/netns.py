"""Named network namespaces: a bind mount of nsfs at a path, as `ip netns add` does.

The engine creates the namespace, wires it, and hands its path to the runtime (config.json
`linux.namespaces[].path`), as CNI does. It switches its own netns only for an instant and only
in this single-threaded process: setns(2) changes the calling thread alone.
"""

from __future__ import annotations

import errno
import os
from contextlib import contextmanager
from collections.abc import Iterator

from mydocker.linux import syscalls as sc


def create(path: str) -> None:
    """A new, empty network namespace pinned at `path` (which must not exist)."""
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444))
    try:
        with _restore_netns():
            sc.unshare(sc.CLONE_NEWNET)
            sc.mount("/proc/thread-self/ns/net", path, None, sc.MS_BIND)
    except BaseException:
        remove(path)
        raise


def remove(path: str) -> None:
    """Unpin and delete; the kernel frees the namespace (and its veth ends) with the last user."""
    try:
        sc.umount2(path, sc.MNT_DETACH)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOENT):
            raise
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def is_pinned(path: str) -> bool:
    """True if `path` is a live namespace mount (not just the empty file left by a crash)."""
    try:
        return os.stat(path).st_dev != os.stat(os.path.dirname(path)).st_dev
    except OSError:
        return False


@contextmanager
def entered(path: str) -> Iterator[None]:
    """Run the body inside the namespace at `path` (sockets made there stay there), then come back."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with _restore_netns():
            sc.setns(fd, sc.CLONE_NEWNET, path)
            yield
    finally:
        os.close(fd)


@contextmanager
def _restore_netns() -> Iterator[None]:
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        yield
    finally:
        try:
            sc.setns(home, sc.CLONE_NEWNET, "the original network namespace")
        finally:
            os.close(home)

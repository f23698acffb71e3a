"""inotify(7) through libc: a `Watch` that sleeps until a file or directory it watches changes, or
a timeout passes. Waiters that poll files written by another process (a container's log, the events
log) wake when the write happens instead of at their next poll; the rootless network stack's keeper
selects on a Watch's fd (non-blocking) to learn that its netns's pin was deleted.
"""

from __future__ import annotations

import errno
import os
import select
import time

from mydocker.linux import libc as ctypes

_libc = ctypes.CDLL()

IN_MODIFY = 0x2
IN_CLOSE_WRITE = 0x8
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
CHANGES = IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_TO  # of a directory: also its files' writes


class Watch:
    """An inotify descriptor watching `paths` (a missing one is skipped: the timeout still wakes the
    caller). Closing it makes the kernel wait for an RCU grace period (0.1 ms usually, up to 25 ms
    measured here): a waiter that answers someone keeps its Watch open and leaves the close to its
    process's exit."""

    def __init__(self, paths: list[str] = (), mask: int = CHANGES) -> None:
        self.mask = mask
        self.fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"inotify_init1: {os.strerror(err)}")
        try:
            for path in paths:
                self.add(path)
        except OSError:
            self.close()
            raise

    def add(self, path: str) -> None:
        """Watch `path` too (again: nothing new); a missing path is skipped."""
        if _libc.inotify_add_watch(self.fd, os.fsencode(path), self.mask) < 0:
            err = ctypes.get_errno()
            if err not in (2, 20):  # ENOENT, ENOTDIR: nothing to watch there (yet)
                raise OSError(err, f"inotify_add_watch: {os.strerror(err)}", path)

    def wait(self, timeout: float | None) -> bool:
        """Sleep until a change or `timeout` seconds; True if something changed (the events are read
        and dropped: the caller looks at the files themselves; one left from an earlier wait only
        makes the caller look once more)."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        try:
            while os.read(self.fd, 4096):
                pass
        except BlockingIOError:
            pass
        return True

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class Poll:
    """A Watch's stand-in when no inotify instance can be had (EMFILE: the user's limit, 128 by
    default, which many waiting API workers could reach): it sleeps at most `interval` at a time,
    as the waiters polled before."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval

    def add(self, path: str) -> None:
        pass

    def wait(self, timeout: float | None) -> bool:
        time.sleep(self.interval if timeout is None else min(timeout, self.interval))
        return False

    def close(self) -> None:
        pass


def watch(paths: list[str]) -> Watch | Poll:
    """A Watch on `paths`, or a Poll if the system has no inotify instance to give."""
    try:
        return Watch(paths)
    except OSError as e:
        if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOSYS):
            return Poll()
        raise

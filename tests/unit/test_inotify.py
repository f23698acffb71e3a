"""linux/inotify.py: a Watch wakes its waiter when a watched directory's file is written, sleeps out
its timeout otherwise, and gives way to polling when no inotify instance is to be had."""

from __future__ import annotations

import errno
import os
import threading
import time

from mydocker.linux import inotify


def test_a_write_in_a_watched_directory_wakes_the_waiter(tmp_path):
    watch = inotify.Watch([str(tmp_path), str(tmp_path / "missing")])  # a missing path is skipped
    try:
        writer = threading.Timer(0.05, lambda: (tmp_path / "events.jsonl").write_text("x\n"))
        started = time.monotonic()
        writer.start()
        assert watch.wait(5) is True
        assert time.monotonic() - started < 2
        writer.join()
        for _ in range(5):  # the write's later events (create, then modify) may wake it once more
            if not watch.wait(0.05):
                break
        started = time.monotonic()
        assert watch.wait(0.1) is False  # nothing new: the timeout
        assert time.monotonic() - started >= 0.09
    finally:
        watch.close()


def test_without_an_inotify_instance_the_waiters_poll(monkeypatch, tmp_path):
    def refused(*_args, **_kw):
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))

    monkeypatch.setattr(inotify, "Watch", refused)
    fallback = inotify.watch([str(tmp_path)])
    assert isinstance(fallback, inotify.Poll)
    started = time.monotonic()
    assert fallback.wait(10) is False
    assert time.monotonic() - started < 1  # one poll interval, not the caller's whole timeout


def test_a_deleted_file_makes_a_watched_directorys_fd_readable(tmp_path):
    """The rootless stack's keeper: select() on the fd of a Watch of the pin's directory wakes when the
    pin is unlinked, and the non-blocking fd drains without blocking."""
    import select
    pin = tmp_path / "netns"
    pin.write_text("")
    (tmp_path / "other").write_text("")
    watch = inotify.Watch([str(tmp_path)], inotify.IN_DELETE | inotify.IN_MOVED_FROM | inotify.IN_DELETE_SELF |
                          inotify.IN_MOVE_SELF)
    try:
        (tmp_path / "other").write_text("x")             # a write is not among the events asked for
        assert select.select([watch.fd], [], [], 0.1)[0] == []
        pin.unlink()
        assert select.select([watch.fd], [], [], 5)[0] == [watch.fd]
        assert os.read(watch.fd, 4096)
        try:
            os.read(watch.fd, 4096)
            raise AssertionError("a drained Watch's fd blocked no read")
        except BlockingIOError:
            pass
    finally:
        watch.close()

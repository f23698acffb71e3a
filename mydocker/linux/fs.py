"""Files: removing a tree as shutil.rmtree(path, ignore_errors=True) does, lighter; a flock.

`import shutil` loads bz2, lzma and fnmatch, and through it re and enum (docs/startup.md). Like shutil's safe variant, this walks by directory fd and never follows a
symlink, so a link planted in a container's files cannot lead the removal outside the tree.
"""

import os

from mydocker.lazy import lazy_module

fcntl = lazy_module("fcntl")

_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_tree(path: str) -> None:
    """Remove `path` and everything under it; what cannot be removed is left, silently."""
    try:
        fd = os.open(path, _OPEN_DIR)
    except FileNotFoundError:
        return
    except OSError:  # a symlink or a file where the tree was expected: remove that alone
        try:
            os.unlink(path)
        except OSError:
            pass
        return
    try:
        _clear(fd)
    finally:
        os.close(fd)
    try:
        os.rmdir(path)
    except OSError:
        pass


def _clear(dir_fd: int) -> None:
    with os.scandir(dir_fd) as entries:
        names = [(e.name, e.is_dir(follow_symlinks=False)) for e in entries]
    for name, is_dir in names:
        if not is_dir:
            try:
                os.unlink(name, dir_fd=dir_fd)
            except OSError:
                pass
            continue
        try:
            sub = os.open(name, _OPEN_DIR, dir_fd=dir_fd)
        except OSError:
            continue
        try:
            _clear(sub)
        finally:
            os.close(sub)
        try:
            os.rmdir(name, dir_fd=dir_fd)
        except OSError:
            pass


class Flock:
    """`with Flock(path):` holds an exclusive flock(2) on `path` (a class: contextlib costs start-up)."""

    def __init__(self, path: str) -> None:
        self.path, self.fd = path, -1

    def __enter__(self) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd

    def __exit__(self, kind, value, traceback) -> bool:
        os.close(self.fd)  # closing the only fd releases the lock
        return False

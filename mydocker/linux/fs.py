"""Files: removing a tree as shutil.rmtree(path, ignore_errors=True) does, lighter, or later, in a
detached process; replacing a file whole; a flock.

`import shutil` loads bz2, lzma and fnmatch, and through it re and enum (docs/startup.md). Like
shutil's safe variant, this walks by directory fd and never follows a symlink, so a link planted in
a container's files cannot lead the removal outside the tree.
"""

import os

from mydocker.lazy import lazy_module

fcntl = lazy_module("fcntl")

_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_tree(path: str, parallel: bool = False) -> None:
    """Remove `path` and everything under it; what cannot be removed is left, silently.

    `parallel`: each directory right under `path` is cleared in a thread of its own. An rmdir on a
    busy ext4 waits on the journal (0.4-3 ms here), and waits made side by side overlap: a
    container's directory (upper/etc, upper, work/work, work, rootfs) goes in half the time. The
    threads end before this returns.
    """
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
        _clear(fd, _Threads() if parallel else None)
    finally:
        os.close(fd)
    try:
        os.rmdir(path)
    except OSError:
        pass


def move_into(path: str, directory: str) -> str | None:
    """Move `path` into `directory` (made with mode 0700 if missing) under its own name: one rename,
    where removing a tree waits on the disk for each rmdir (docs/startup.md). The new path, or None
    where `path` is gone or cannot be moved (another filesystem, a name taken there)."""
    moved = os.path.join(directory, os.path.basename(path))
    try:
        try:
            os.rename(path, moved)
        except FileNotFoundError:
            if not os.path.lexists(path):
                return None
            os.mkdir(directory, 0o700)
            os.rename(path, moved)
    except OSError:
        return None
    return moved


# `rm` for clear_detached (coreutils' or busybox's: every host that runs containers has one)
_RM = ("/usr/bin/rm", "/bin/rm")
_TO_DEVNULL = ((os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDWR, 0), (os.POSIX_SPAWN_DUP2, 0, 1),
               (os.POSIX_SPAWN_DUP2, 0, 2))
_spawned: list[int] = []  # clear_detached's `rm`s not reaped yet: a caller that goes on (a test) reaps them later


def clear_detached(directory: str) -> None:
    """Remove what `directory` holds with an `rm -rf` that the caller does not wait for, whatever put
    it there: an entry an earlier removal did not finish (cut short by a crash or a reboot) goes too.
    Without an `rm` to run, here and now (remove_tree).

    `rm` is spawned (vfork and exec: a fork of this process would make each page it writes afterwards
    a copy, 0.5 ms of its exit) in a session of its own, stdio on /dev/null, no other fd (ours are
    close-on-exec), and is reaped by init or the nearest subreaper once the caller has exited: call it
    from a process that is about to exit; one that goes on reaps them at its next call. Like
    remove_tree, it does not stop at a mount point: nothing may be mounted in `directory`."""
    for pid in list(_spawned):
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == 0:
                continue
        except ChildProcessError:  # reaped by someone else (a subreaper's loop)
            pass
        _spawned.remove(pid)
    try:
        entries = [os.path.join(directory, name) for name in os.listdir(directory)]
    except OSError:
        return
    for rm in _RM if entries else ():
        try:
            _spawned.append(os.posix_spawn(rm, ["rm", "-rf", "--", *entries], {}, file_actions=_TO_DEVNULL,
                                           setsid=True, setsigmask=()))
            return
        except OSError:
            continue
    for path in entries:
        remove_tree(path, parallel=True)


def _clear(dir_fd: int, threads: "_Threads | None" = None) -> None:
    with os.scandir(dir_fd) as entries:
        names = [(e.name, e.is_dir(follow_symlinks=False)) for e in entries]
    for name, is_dir in names:
        if not is_dir:
            try:
                os.unlink(name, dir_fd=dir_fd)
            except OSError:
                pass
        elif threads is None:
            _remove_dir(dir_fd, name)
        else:
            threads.start(_remove_dir, dir_fd, name)
    if threads is not None:
        threads.join()


def _remove_dir(dir_fd: int, name: str) -> None:
    try:
        sub = os.open(name, _OPEN_DIR, dir_fd=dir_fd)
    except OSError:
        return
    try:
        _clear(sub)
    finally:
        os.close(sub)
    try:
        os.rmdir(name, dir_fd=dir_fd)
    except OSError:
        pass


class _Threads:
    """Functions run in threads of their own (`_thread`: `threading` costs start-up), joined."""

    def __init__(self) -> None:
        import _thread
        self._thread = _thread
        self._guard = _thread.allocate_lock()
        self._done = _thread.allocate_lock()
        self._running = 0

    def start(self, function, *args) -> None:
        with self._guard:
            if self._running == 0:
                self._done.acquire()
            self._running += 1
        try:
            self._thread.start_new_thread(self._run, (function, args))
        except BaseException:  # no thread: do it here
            self._finished()
            function(*args)

    def _run(self, function, args) -> None:
        try:
            function(*args)
        finally:
            self._finished()

    def _finished(self) -> None:
        with self._guard:
            self._running -= 1
            if self._running == 0:
                self._done.release()

    def join(self) -> None:
        with self._done:  # free once every started function has returned
            pass


def remove_file(path: str) -> None:
    """Unlink `path`; one already gone is fine."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def write_atomic(path: str, data: str | bytes, mode: int = 0o666) -> None:
    """Replace the file at `path` whole: written under a temporary name beside it, then renamed over
    it, so a reader, or a crash of this process midway, sees the old content or the new, never a part.
    Not fsynced: after a power cut the file may be empty. `mode`: the new file's, before the umask."""
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        with open(fd, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:  # a full disk, a bad value: the old file stays, and no temporary beside it
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class Flock:
    """`with Flock(path):` holds an exclusive flock(2) on `path` (a class: contextlib costs start-up).

    Reentrant within a process (a second hold of the same path counts, and blocks no one), so a
    caller holding it may call code that takes it again. `remove()` deletes the file while held:
    whoever was waiting on the old file finds it gone and locks the new one.
    """

    _held: dict[str, list[int]] = {}   # path: [fd, holds] of this process

    def __init__(self, path: str) -> None:
        self.path = path

    def __enter__(self) -> "Flock":
        self.acquire()
        return self

    def __exit__(self, kind, value, traceback) -> bool:
        self.release()
        return False

    @property
    def held(self) -> bool:
        """Whether this process holds the lock."""
        return self.path in self._held

    def acquire(self) -> None:
        held = self._held.get(self.path)
        if held is not None:
            held[1] += 1
            return
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)  # lock files are nobody else's business
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if _same_file(fd, self.path):  # not removed by the holder we waited for
                    break
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
        self._held[self.path] = [fd, 1]

    def release(self) -> None:
        held = self._held[self.path]
        held[1] -= 1
        if held[1] == 0:
            del self._held[self.path]
            os.close(held[0])  # closing the only fd releases the lock

    def remove(self) -> None:
        """Delete the lock file (call while holding it): what it guarded is gone."""
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def _same_file(fd: int, path: str) -> bool:
    try:
        mine, named = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (mine.st_dev, mine.st_ino) == (named.st_dev, named.st_ino)


def copy_tree(src_dir_fd: int, dest: str) -> None:
    """Copy the directory open at `src_dir_fd` into the existing directory `dest`: files, directories,
    symlinks, fifos and device nodes, with their mode, owner and times; never following a symlink.
    Walks by fd, so the source may be a directory a mount now hides (runc's tmpcopyup)."""
    with os.scandir(src_dir_fd) as entries:
        names = [e.name for e in entries]
    for name in names:
        st = os.stat(name, dir_fd=src_dir_fd, follow_symlinks=False)
        target = os.path.join(dest, name)
        kind = st.st_mode & 0o170000
        if kind == 0o040000:  # a directory
            os.mkdir(target, 0o700)
            sub = os.open(name, _OPEN_DIR, dir_fd=src_dir_fd)
            try:
                copy_tree(sub, target)
            finally:
                os.close(sub)
        elif kind == 0o100000:  # a regular file
            _copy_file(name, src_dir_fd, target, st.st_size)
        elif kind == 0o120000:
            os.symlink(os.readlink(name, dir_fd=src_dir_fd), target)
        else:  # fifo, socket, character or block device
            os.mknod(target, st.st_mode, st.st_rdev)
        copy_metadata(st, target)


def copy_metadata(st: os.stat_result, path: str) -> None:
    """Owner, mode and times of `st` onto `path` (not following a symlink). An owner the caller
    cannot give (an id unmapped in its user namespace) is left as it is."""
    try:
        os.chown(path, st.st_uid, st.st_gid, follow_symlinks=False)
    except OSError:
        pass
    if st.st_mode & 0o170000 != 0o120000:  # a symlink's mode cannot be changed on Linux
        os.chmod(path, st.st_mode & 0o7777)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _copy_file(name: str, src_dir_fd: int, target: str, size: int) -> None:
    src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_dir_fd)
    try:
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            offset = 0
            while offset < size:
                sent = os.sendfile(out, src, offset, size - offset)
                if sent == 0:
                    break  # the file shrank while we copied
                offset += sent
        finally:
            os.close(out)
    finally:
        os.close(src)

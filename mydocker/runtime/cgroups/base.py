"""What the v1 and v2 drivers share: file access, the stats record, and the steps that work the
same on every hierarchy (apply, pids, kill_all, destroy)."""

from __future__ import annotations

import errno
import os
import _signal as signal  # the C module: signal.py and collections.abc cost start-up time on every create
import time
from _collections_abc import Callable
from mydocker.recordclass import record

from mydocker.errors import InvalidArgument, RuntimeFailure
from mydocker.runtime.cgroups.detect import UNIFIED


class CgroupFS:
    """cgroupfs access. Files are opened, never created: a missing interface file means the kernel
    offers no such knob in that cgroup, and writing it must fail as it does on the kernel."""

    def read(self, path: str) -> str:
        with open(path) as f:
            return f.read()

    def write(self, path: str, data: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, data.encode())
        finally:
            os.close(fd)

    def open_writer(self, path: str) -> FileWriter:
        """`path` opened once for several writes (devices.allow takes one rule per write)."""
        return FileWriter(os.open(path, os.O_WRONLY | os.O_CLOEXEC))

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def mkdir(self, path: str) -> None:
        os.mkdir(path)

    def rmdir(self, path: str) -> None:
        os.rmdir(path)

    def subdirs(self, path: str) -> list[str]:
        with os.scandir(path) as entries:
            return [e.path for e in entries if e.is_dir(follow_symlinks=False)]


class FileWriter:
    """An open cgroup file: each write() is one write(2), which the kernel takes as one value."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def write(self, data: str) -> None:
        os.write(self.fd, data.encode())

    def close(self) -> None:
        os.close(self.fd)


REAL_FS = CgroupFS()


@record
class CgroupStats:
    """A snapshot; counters of a controller the host does not offer read 0."""

    cpu_usage_ns: int
    memory_usage: int
    memory_limit: int | None  # None: unlimited
    pids_current: int
    pids_limit: int | None  # None: unlimited
    oom_kills: int


def key_values(text: str) -> dict[str, int]:
    """Parse flat-keyed files such as cpu.stat, memory.events, cgroup.events, memory.oom_control."""
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            out[key] = int(value)
    return out


def limit_value(value: int) -> str:
    """OCI uses -1 for "no limit"; the kernel's v2 files (and v1 pids.max) spell it "max"."""
    return "max" if value < 0 else str(value)


def _missing(field: str, path: str) -> RuntimeFailure:
    return RuntimeFailure(f"{field}: {path} does not exist: the cgroup was not created, or the kernel "
                          "offers no such controller there; leave the setting out on this host")


def _refused(field: str, path: str, value: object, error: OSError) -> InvalidArgument:
    return InvalidArgument(f"{field}: the kernel refused {str(value)!r} for {path} ({error.strerror}); "
                           "use a value this host accepts, or leave it out")


def _is_project_dir(path: str) -> bool:
    """Parents we may remove once empty: the project's, and the slices --systemd-cgroup made where
    systemd is not the init (sd_booted(): /run/systemd/system) and so nothing else owns them."""
    name = os.path.basename(path)
    if name == "mydocker" or name.startswith("mydocker-"):
        return True
    return name.endswith(".slice") and not os.path.isdir("/run/systemd/system")


class Cgroup:
    """One container's cgroup in every hierarchy. `paths` maps a hierarchy ("memory", "cpu",
    "name=systemd", "unified", ...) to the cgroup's directory there; it is all `destroy` needs."""

    _FREEZE_TIMEOUT = 5.0
    _KILL_TIMEOUT = 5.0

    def __init__(self, paths: dict[str, str], fs: CgroupFS = REAL_FS) -> None:
        self.paths = dict(paths)
        self._fs = fs
        # Where each hierarchy of `paths` is mounted, when open_cgroup found it ({} when rebuilt
        # from recorded paths): the init binds those mounts' names over the container's cgroupfs.
        self.mountpoints: dict[str, str] = {}

    # --- what each driver implements -------------------------------------------------------
    def create(self) -> None:
        raise NotImplementedError

    def set(self, resources: dict) -> None:
        raise NotImplementedError

    def stats(self) -> CgroupStats:
        raise NotImplementedError

    def oom_killed(self) -> bool:
        raise NotImplementedError

    def freeze(self) -> None:
        raise NotImplementedError

    def thaw(self) -> None:
        raise NotImplementedError

    def create_unified(self) -> int | None:
        """Create the cgroup's cgroup2 directory (before the rest: a child is cloned into it) and
        return it opened (O_PATH), or None without one."""
        directory = self.paths.get(UNIFIED)
        if directory is None:
            return None
        self._mkdir_p(directory)
        return os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)

    # --- shared ----------------------------------------------------------------------------
    def tasks_files(self) -> list[str]:
        """Each v1 hierarchy's `tasks` file: a process with one thread joins the cgroup there by
        writing "0" itself, which takes no global lock (a pid written to cgroup.procs does:
        runtime/process.py)."""
        return [os.path.join(directory, "tasks")
                for directory in dict.fromkeys(d for key, d in self.paths.items() if key != UNIFIED)]

    def apply(self, pid: int, skip: frozenset[str] = frozenset()) -> None:
        """Move process `pid` into every hierarchy's directory but those in `skip` (joined already)."""
        for directory in self._dirs():
            if directory in skip:
                continue
            path = os.path.join(directory, "cgroup.procs")
            for attempt in range(5):
                try:
                    self._fs.write(path, str(pid))
                    break
                except OSError as e:
                    # EINVAL: the task is still being forked (TASK_NEW); runc retries the same way.
                    if e.errno == errno.EINVAL and attempt < 4:
                        time.sleep(0.03)
                        continue
                    raise RuntimeFailure(f"cannot move process {pid} into cgroup {directory}: "
                                         f"{e.strerror}; run `create` before `apply`, and only on a live "
                                         "process") from None

    def pids(self) -> list[int]:
        """Every process in the cgroup or its sub-cgroups, in any hierarchy."""
        found: set[int] = set()
        for directory in self._dirs():
            for sub in self._tree(directory):
                try:
                    found.update(int(p) for p in self._fs.read(os.path.join(sub, "cgroup.procs")).split())
                except FileNotFoundError:
                    pass  # removed while we walked
        return sorted(found)

    def kill_all(self, sig: int) -> None:
        # Frozen, no process can fork a child that the list below would miss.
        self.freeze()
        try:
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        finally:
            self.thaw()

    def destroy(self) -> None:
        if all(self._removed_if_empty(d) for d in self._dirs()):
            for directory in self._dirs():
                self._prune_parents(directory)
            return
        deadline = time.monotonic() + self._KILL_TIMEOUT
        while leftovers := self.pids():
            if time.monotonic() > deadline:
                raise RuntimeFailure(f"processes {leftovers} are still in cgroup {self._dirs()[0]} after SIGKILL; "
                                     "check `ps` for processes in uninterruptible sleep, then retry")
            self.kill_all(signal.SIGKILL)
            time.sleep(0.01)
        for directory in self._dirs():
            for sub in reversed(self._tree(directory)):  # children before parents
                self._rmdir(sub)
            self._prune_parents(directory)

    # --- helpers for the drivers -----------------------------------------------------------
    def _dirs(self) -> list[str]:
        """Each directory once: co-mounted controllers (cpu,cpuacct) share one."""
        return list(dict.fromkeys(self.paths.values()))

    def _tree(self, directory: str) -> list[str]:
        """`directory` and its descendants, parents first; empty if it does not exist."""
        if not self._fs.exists(directory):
            return []
        out = [directory]
        for sub in self._fs.subdirs(directory):
            out.extend(self._tree(sub))
        return out

    def _write(self, directory: str, name: str, value: object, field: str) -> None:
        path = os.path.join(directory, name)
        try:
            self._fs.write(path, str(value))
        except FileNotFoundError:
            raise _missing(field, path) from None
        except OSError as e:
            raise _refused(field, path, value, e) from None

    def _write_each(self, directory: str, name: str, values: list[str], field: str) -> None:
        """Each value in its own write(2), through one open of the file (runc's way for device rules)."""
        path = os.path.join(directory, name)
        try:
            writer = self._fs.open_writer(path)
        except FileNotFoundError:
            raise _missing(field, path) from None
        except OSError as e:
            raise _refused(field, path, values[0], e) from None
        try:
            for value in values:
                try:
                    writer.write(value)
                except OSError as e:
                    raise _refused(field, path, value, e) from None
        finally:
            writer.close()

    def _read(self, directory: str | None, name: str) -> str | None:
        """The file's content, or None where the hierarchy or the file is absent."""
        if directory is None:
            return None
        try:
            return self._fs.read(os.path.join(directory, name)).strip()
        except FileNotFoundError:
            return None

    def _read_int(self, directory: str | None, name: str) -> int:
        text = self._read(directory, name)
        return int(text) if text and text.isdigit() else 0

    def _mkdir_p(self, path: str) -> None:
        # Retried: a concurrent destroy may prune a shared empty parent between our two mkdirs.
        for _ in range(5):
            try:
                self._fs.mkdir(path)
                return
            except FileExistsError:
                return
            except FileNotFoundError:
                self._mkdir_p(os.path.dirname(path))
        raise RuntimeFailure(f"cannot create cgroup {path}: its parent keeps disappearing; retry")

    def _wait_for(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self._FREEZE_TIMEOUT
        delay = 0.001
        while not done():
            if time.monotonic() > deadline:
                raise RuntimeFailure(f"timed out waiting for {what}; a process may be in uninterruptible sleep, retry")
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def _removed_if_empty(self, path: str) -> bool:
        """rmdir alone: it is what removes an exited container's leaf cgroup, without reading
        cgroup.procs first. False when the kernel says busy (processes or children): destroy's slow path."""
        try:
            self._fs.rmdir(path)
        except FileNotFoundError:
            pass
        except OSError:
            return False
        return True

    def _rmdir(self, path: str) -> None:
        delay = 0.001
        for _ in range(12):  # about 4 s in all: exiting tasks leave the cgroup a little after SIGKILL
            try:
                self._fs.rmdir(path)
                return
            except FileNotFoundError:
                return
            except OSError as e:
                if e.errno != errno.EBUSY:
                    raise RuntimeFailure(f"cannot remove cgroup {path}: {e.strerror}") from None
                time.sleep(delay)
                delay *= 2
        raise RuntimeFailure(f"cannot remove cgroup {path}: still busy; retry once its processes have exited")

    def _prune_parents(self, directory: str) -> None:
        """Remove the empty parents the project created ("mydocker", "mydocker-*"), so nothing named
        after the project outlives its last container. A parent in use by a sibling stays."""
        parent = os.path.dirname(directory)
        while _is_project_dir(parent):
            try:
                self._fs.rmdir(parent)
            except OSError:
                return
            parent = os.path.dirname(parent)

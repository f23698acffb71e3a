"""Named network namespaces: a bind mount of nsfs at a path, as `ip netns add` does.

The engine creates the namespace, wires it, and hands its path to the runtime (config.json
`linux.namespaces[].path`), as CNI does. It switches its own netns only for an instant and only
in this single-threaded process: setns(2) changes the calling thread alone.
"""

from __future__ import annotations

import errno
import os
from _collections_abc import Callable  # not collections.abc: it imports all of collections

from mydocker.lazy import lazy_module
from mydocker.linux import syscalls as sc

fs = lazy_module("mydocker.linux.fs")


def create(path: str, owner: str | None = None, in_child: bool = False) -> None:
    """A new, empty network namespace pinned at `path` (which must not exist). With `owner` (the
    path of a pinned user namespace) it belongs to that user namespace, so a container that joins
    both may mount its own sysfs (the kernel asks for privilege over the netns's owner).
    `in_child`: made by a child (root of a user namespace may make a netns but not return to the
    host's, which that namespace does not own)."""
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444))
    try:
        if owner or in_child:
            _create_in_child(path, owner)
            return
        with _restore_netns():
            sc.unshare(sc.CLONE_NEWNET)
            sc.mount("/proc/thread-self/ns/net", path, None, sc.MS_BIND)
    except BaseException:
        remove(path)
        raise


def _create_in_child(path: str, owner: str | None) -> None:
    """A child (joining the user namespace `owner` first, if given) makes the netns; we pin it and
    let the child go (a process cannot leave a user namespace it joined)."""
    userns = os.open(owner, os.O_RDONLY | os.O_CLOEXEC) if owner else -1

    def make() -> None:
        if owner:
            sc.setns(userns, sc.CLONE_NEWUSER, owner)
        sc.unshare(sc.CLONE_NEWNET)

    try:
        pin_from_child(path, "net", make, OSError(
            errno.EPERM, f"cannot create a network namespace in the user namespace {owner or 'we are in'}", owner))
    finally:
        if owner:
            os.close(userns)


def pin_from_child(path: str, kind: str, make: Callable[[], None], failure: OSError,
                   prepare: Callable[[int], None] | None = None) -> None:
    """Pin at `path` (an empty file) a namespace of `kind` ("net", "user") that a forked child makes
    with `make` (an unshare): we run `prepare(pid)` on it from outside (a user namespace's id maps),
    bind-mount its /proc/<pid>/ns/<kind> at `path`, then let the child go. Raises `failure` when the
    child could not make it. For a namespace this process must not, or cannot, enter itself."""
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(ready_r)
            os.close(done_w)
            make()
            os.write(ready_w, b"1")
            os.read(done_r, 1)  # until we have pinned it (or the engine went away)
            code = 0
        finally:
            os._exit(code)
    os.close(ready_w)
    os.close(done_r)
    try:
        if os.read(ready_r, 1) != b"1":
            raise failure
        if prepare is not None:
            prepare(pid)
        sc.mount(f"/proc/{pid}/ns/{kind}", path, None, sc.MS_BIND)
    finally:
        os.close(ready_r)
        os.close(done_w)
        os.waitpid(pid, 0)


def remove(path: str) -> None:
    """Unpin and delete; the kernel frees the namespace (and its veth ends) with the last user."""
    try:
        sc.umount2(path, sc.MNT_DETACH)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOENT):
            raise
    fs.remove_file(path)


def is_pinned(path: str) -> bool:
    """True if `path` is a live namespace mount (not just the empty file left by a crash)."""
    try:
        return os.stat(path).st_dev != os.stat(os.path.dirname(path)).st_dev
    except OSError:
        return False


class entered:
    """Run the body inside the namespace at `path` (sockets made there stay there), then come back.
    A class, not @contextmanager: contextlib (with collections.abc) costs 0.5 ms on `run`'s path."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __enter__(self) -> None:
        fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            self.restore = _restore_netns().__enter__()
            try:
                sc.setns(fd, sc.CLONE_NEWNET, self.path)
            except BaseException:
                self.restore.__exit__(None, None, None)
                raise
        finally:
            os.close(fd)

    def __exit__(self, *exc) -> None:
        self.restore.__exit__(*exc)


class _restore_netns:
    """Back into the network namespace we were in on entry, whatever the body did."""

    def __enter__(self) -> _restore_netns:
        self.home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        return self

    def __exit__(self, *exc) -> None:
        try:
            sc.setns(self.home, sc.CLONE_NEWNET, "the original network namespace")
        finally:
            os.close(self.home)


def run_inside(path: str, fn, *args):
    """fn(*args) in a forked child inside the network namespace at `path`, with a sysfs of that
    namespace on /sys; its result, or its exception raised here. For the rootless engine: root of the
    user's namespace may enter a netns that namespace owns, but not return to the host's (owned by the
    host's), so the body runs in a child that exits after; and sysfs shows the netns of whoever
    mounted it, so the child mounts its own (in a mount namespace of its own, slave to ours) for the
    /sys/class/net the link code reads. Results and exceptions travel pickled."""
    import pickle
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                sc.setns(fd, sc.CLONE_NEWNET, path)
                os.close(fd)
                sc.unshare(sc.CLONE_NEWNS)
                sc.mount(None, "/", None, sc.MS_REC | sc.MS_SLAVE)
                sc.mount("sysfs", "/sys", "sysfs", sc.MS_NOSUID | sc.MS_NOEXEC | sc.MS_NODEV)
                reply = (True, fn(*args))
            except BaseException as e:  # noqa: BLE001 - every failure goes to the parent
                reply = (False, e)
            try:
                data = pickle.dumps(reply)
            except Exception:  # an unpicklable result or exception: its text
                from mydocker.errors import RuntimeFailure
                data = pickle.dumps((False, RuntimeFailure(str(reply[1]))))
            with os.fdopen(write_end, "wb") as f:
                f.write(data)
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as f:
            data = f.read()
    finally:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass  # reaped by a caller's own SIGCHLD handling
    if not data:
        raise OSError(errno.ECHILD, f"the child that entered the network namespace {path} died", path)
    done, value = pickle.loads(data)
    if not done:
        raise value
    return value

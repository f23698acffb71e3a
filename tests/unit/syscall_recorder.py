"""A recording stand-in for mydocker.linux.syscalls.Syscalls (youki's TestHelperSyscall, in Python).

It records every call that would change the kernel's state, as a flat tuple of the call's name and
arguments, and changes nothing. Like the kernel it tracks a root and a working directory, so the
queries (`stat`, `statvfs`) and a mount's target lookup answer from the bundle's rootfs on disk once
the rootfs code has "pivoted" into it. A call can be told to fail with an errno; the error then
reads as the real wrapper's would (test_rootfs_sequence.py checks that against the kernel).
"""

from __future__ import annotations

import errno
import os


class LockedFlags:
    """What `statvfs` answers: only f_flag is read by the rootfs code."""

    def __init__(self, f_flag: int) -> None:
        self.f_flag = f_flag


class SyscallRecorder:
    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.flags: dict[str, int] = {}  # statvfs(path).f_flag, by path as the caller names it
        self._failures: list[tuple[str, int, dict]] = []
        self._root = "/"  # the host directory that "/" stands for
        self._cwd = os.getcwd()  # a host directory

    # --- the test's side ---------------------------------------------------------------------
    def fail(self, name: str, err: int, **match: object) -> None:
        """Make every later call `name` whose named arguments equal `match` raise `err`."""
        self._failures.append((name, err, match))

    def named(self, name: str) -> list[tuple]:
        return [call for call in self.calls if call[0] == name]

    def index(self, call: tuple) -> int:
        return self.calls.index(call)

    # --- the Syscalls interface ----------------------------------------------------------------
    def mount(self, source: str | None, target: str, fstype: str | None = None, flags: int = 0,
              data: str | None = None) -> None:
        self._call("mount", f"mount {source or fstype or ''} on {target}", target,
                   source=source, target=target, fstype=fstype, flags=flags, data=data)
        if not os.path.lexists(self._host(target)):  # the kernel looks the target up first
            raise _error(errno.ENOENT, f"mount {source or fstype or ''} on {target}", target)

    def mount_setattr(self, target: str, attr_set: int, attr_clr: int = 0, recursive: bool = True) -> None:
        self._call("mount_setattr", f"mount_setattr {target}", target,
                   target=target, attr_set=attr_set, attr_clr=attr_clr, recursive=recursive)

    def umount2(self, target: str, flags: int = 0) -> None:
        self._call("umount2", f"umount {target}", target, target=target, flags=flags)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        self._call("pivot_root", f"pivot_root to {new_root}", new_root, new_root=new_root, put_old=put_old)
        self._root = self._host(new_root)

    def chdir(self, path: str) -> None:
        self._call("chdir", None, path, path=path)
        self._cwd = self._host(path)

    def fchdir(self, fd: int) -> None:
        path = os.readlink(f"/proc/self/fd/{fd}")  # recorded as the directory, not the fd's number
        self._call("fchdir", None, path, path=path)
        self._cwd = path

    def chroot(self, path: str) -> None:
        self._call("chroot", None, path, path=path)
        self._root = self._host(path)

    def mknod(self, path: str, mode: int, device: int) -> None:
        self._call("mknod", None, path, path=path, mode=mode, device=device)

    def chown(self, path: str, uid: int, gid: int) -> None:
        self._call("chown", None, path, path=path, uid=uid, gid=gid)

    def sethostname(self, name: str) -> None:
        self._call("sethostname", f"sethostname {name!r}", None, name=name)

    def setdomainname(self, name: str) -> None:
        self._call("setdomainname", f"setdomainname {name!r}", None, name=name)

    def stat(self, path: str) -> os.stat_result:
        return os.stat(self._host(path))

    def statvfs(self, path: str) -> LockedFlags:
        return LockedFlags(self.flags.get(path, 0))

    # --- inside ------------------------------------------------------------------------------
    def _call(self, _name: str, _what: str | None, _path: str | None, **args: object) -> None:
        """Record; raise as told. `_what`, `_path`: how the real call's error names it."""
        self.calls.append((_name, *args.values()))
        for failing, err, match in self._failures:
            if failing == _name and all(args.get(k) == v for k, v in match.items()):
                raise _error(err, _what, _path)

    def _host(self, path: str) -> str:
        if path.startswith("/"):
            return os.path.normpath(os.path.join(self._root, path.lstrip("/")))
        return os.path.normpath(os.path.join(self._cwd, path))


def _error(err: int, what: str | None, path: str | None) -> OSError:
    """As linux/syscalls.py raises (`what`: its text), or as `os` does (what=None)."""
    text = os.strerror(err) if what is None else f"{what}: {os.strerror(err)}"
    return OSError(err, text, path)  # OSError(ENOENT, ...) is a FileNotFoundError, as the kernel's

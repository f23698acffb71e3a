"""mount, umount2, pivot_root, unshare, setns, sethostname, prctl through libc; `Syscalls`, the
seam through which the rootfs set-up makes its calls.

Every wrapper raises OSError(errno, strerror, path) so callers can name what failed.
"""

from __future__ import annotations

import errno
import os

from mydocker.linux import libc as ctypes  # ctypes' names, without its import time

_libc = ctypes.CDLL()

# mount(2) flags
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MS_LAZYTIME = 1 << 25
MS_POSIXACL = 1 << 16
MS_I_VERSION = 1 << 23

# mount_setattr(2) (Linux 5.12): attributes applied to a mount, and with AT_RECURSIVE to all below it
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8
MOUNT_ATTR__ATIME = 0x70  # the atime mode: one of the three below, not a bit set
MOUNT_ATTR_RELATIME = 0x0
MOUNT_ATTR_NOATIME = 0x10
MOUNT_ATTR_STRICTATIME = 0x20
MOUNT_ATTR_NODIRATIME = 0x80
MOUNT_ATTR_NOSYMFOLLOW = 0x200000
AT_RECURSIVE = 0x8000
_AT_FDCWD = -100
_SYS_MOUNT_SETATTR = 442  # x86_64 and arm64 (the unified syscall table)

MNT_FORCE = 1
MNT_DETACH = 2
UMOUNT_NOFOLLOW = 8

# clone(2) / unshare(2) namespace flags
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080
CLONE_INTO_CGROUP = 0x200000000  # clone3(2) only (Linux 5.7): the child starts in the cgroup2 directory given

# prctl(2) options
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NAME = 15
PR_SET_SECUREBITS = 28
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
PR_CAP_AMBIENT = 47

_c_char_p = ctypes.c_char_p
_libc.mount.argtypes = [_c_char_p, _c_char_p, _c_char_p, ctypes.c_ulong, _c_char_p]
_libc.umount2.argtypes = [_c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.sethostname.argtypes = [_c_char_p, ctypes.c_size_t]
_libc.setdomainname.argtypes = [_c_char_p, ctypes.c_size_t]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_libc.syscall.restype = ctypes.c_long

_SYS_PIVOT_ROOT = 155  # x86_64; glibc has no wrapper


def _enc(value: str | bytes | None) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    return os.fsencode(value)


def _check(result: int, what: str, path: str | None = None) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}", path)
    return result


def mount(source: str | None, target: str, fstype: str | None = None, flags: int = 0,
          data: str | None = None) -> None:
    if _libc.mount(_enc(source), _enc(target), _enc(fstype), flags, _enc(data)) < 0:  # the message only then
        _check(-1, f"mount {source or fstype or ''} on {target}", target)


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_ulong), ("attr_clr", ctypes.c_ulong), ("propagation", ctypes.c_ulong),
                ("userns_fd", ctypes.c_ulong)]


def mount_setattr(target: str, attr_set: int, attr_clr: int = 0, recursive: bool = True) -> None:
    """Change the attributes of the mount at `target` (and, recursive, of every mount below it).
    ENOSYS on kernels before 5.12."""
    attr = _MountAttr(attr_set, attr_clr, 0, 0)
    _check(_libc.syscall(ctypes.c_long(_SYS_MOUNT_SETATTR), ctypes.c_int(_AT_FDCWD), _enc(target),
                         ctypes.c_uint(AT_RECURSIVE if recursive else 0), ctypes.byref(attr),
                         ctypes.c_size_t(ctypes.sizeof(attr))),
           f"mount_setattr {target}", target)


def umount2(target: str, flags: int = 0) -> None:
    _check(_libc.umount2(_enc(target), flags), f"umount {target}", target)


def pivot_root(new_root: str, put_old: str) -> None:
    _check(_libc.syscall(_SYS_PIVOT_ROOT, _enc(new_root), _enc(put_old)),
           f"pivot_root to {new_root}", new_root)


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), f"unshare({flags:#x})")


def setns(fd: int, nstype: int = 0, path: str | None = None) -> None:
    _check(_libc.setns(fd, nstype), f"setns {path or fd}", path)


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, len(raw)), f"sethostname {name!r}")


def setdomainname(name: str) -> None:
    raw = name.encode()
    _check(_libc.setdomainname(raw, len(raw)), f"setdomainname {name!r}")


class Syscalls:
    """The calls that build a container's filesystem view (runtime/rootfs.py and the init's set-up),
    gathered in one object that those functions take, so a unit test can hand in a recording double
    (tests/unit/syscall_recorder.py) and check the mount sequence without root.

    This class is the kernel: each attribute is the real function itself, so going through the seam
    costs no wrapper call and no import. Creating plain files, directories and symlinks under the
    bundle's rootfs stays with `os`: it needs no privilege and a test can look at the result.
    """

    mount = staticmethod(mount)
    mount_setattr = staticmethod(mount_setattr)
    umount2 = staticmethod(umount2)
    pivot_root = staticmethod(pivot_root)
    chdir = staticmethod(os.chdir)
    fchdir = staticmethod(os.fchdir)
    chroot = staticmethod(os.chroot)
    mknod = staticmethod(os.mknod)
    chown = staticmethod(os.chown)
    stat = staticmethod(os.stat)  # what is at a path, once the root has moved
    statvfs = staticmethod(os.statvfs)  # a mount's flags (the ones a user namespace locks)
    sethostname = staticmethod(sethostname)
    setdomainname = staticmethod(setdomainname)


LINUX = Syscalls()


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return _check(_libc.prctl(option, arg2, arg3, arg4, arg5), f"prctl({option})")


_SYS_CLONE3 = 435  # every arch (added after the syscall tables were unified)
_SIGCHLD = 17
_python = ctypes.PythonAPI()
_python.syscall.restype = ctypes.c_long
for _hook in ("PyOS_BeforeFork", "PyOS_AfterFork_Parent", "PyOS_AfterFork_Child"):
    getattr(_python, _hook).restype = None


class _CloneArgs(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in ("flags", "pidfd", "child_tid", "parent_tid", "exit_signal",
                                                    "stack", "stack_size", "tls", "set_tid", "set_tid_size",
                                                    "cgroup")]


def clone_fork(flags: int, cgroup_fd: int | None = None) -> int:
    """os.fork() through clone3(2) with `flags` (CLONE_NEWPID: the child is PID 1 of a new PID
    namespace) and, given `cgroup_fd` (a cgroup2 directory), CLONE_INTO_CGROUP: the child starts in
    that cgroup, where a move would take the kernel's global threadgroup lock (an RCU grace period,
    7-20 ms here, while holding the cgroup mutex). Returns 0 in the child, its pid in the parent.

    For a process with no thread but the caller's (checked): glibc's fork() wrapper is bypassed (its
    malloc and stdio locks, which only another thread could hold), the interpreter's fork hooks run
    as os.fork runs them, and the GIL stays held across the call. OSError (ENOSYS, E2BIG: an older
    kernel or a seccomp filter) means nothing was forked."""
    import _thread
    if _thread._count():
        raise OSError(errno.EBUSY, "clone3: the process has threads; use os.fork")
    if cgroup_fd is not None:
        flags |= CLONE_INTO_CGROUP
    args = _CloneArgs(flags=flags, exit_signal=_SIGCHLD, cgroup=cgroup_fd or 0)
    _python.PyOS_BeforeFork()
    pid = _python.syscall(ctypes.c_long(_SYS_CLONE3), ctypes.byref(args), ctypes.c_size_t(ctypes.sizeof(args)))
    if pid == 0:
        _python.PyOS_AfterFork_Child()
        return 0
    _python.PyOS_AfterFork_Parent()
    return _check(pid, "clone3")


_SYS_CLOSE_RANGE = 436  # x86_64 (and every other arch: added after the syscall tables were unified)
_CLOSE_RANGE_CLOEXEC = 1 << 2


def cloexec_from(first: int, fd_dir: int | str = "/proc/self/fd") -> None:
    """Mark every fd >= `first` close-on-exec: one close_range(CLOSE_RANGE_CLOEXEC) (Linux 5.11), else
    a walk of the open fds in `fd_dir` (a /proc/self/fd of this process), never a loop over every
    possible fd (os.closerange's fallback: a million close() calls, slow under a seccomp filter)."""
    if _libc.syscall(_SYS_CLOSE_RANGE, ctypes.c_uint(first), ctypes.c_uint(0xFFFFFFFF),
                     ctypes.c_uint(_CLOSE_RANGE_CLOEXEC)) == 0:
        return
    for name in os.listdir(fd_dir):
        fd = int(name)
        if fd >= first:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass  # the listing's own fd, closed since


# --- capabilities, keyrings, personality (the runtime's process security) -----------------------
PR_SET_KEEPCAPS = 8
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_SYS_CAPGET = 125  # x86_64
_SYS_CAPSET = 126
_SYS_KEYCTL = 250
_KEYCTL_JOIN_SESSION_KEYRING = 1


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def capget(pid: int = 0) -> tuple[int, int, int]:
    """(effective, permitted, inheritable) of `pid` (0: this thread) as 64-bit masks."""
    header, data = _CapHeader(_LINUX_CAPABILITY_VERSION_3, pid), (_CapData * 2)()
    _check(_libc.syscall(_SYS_CAPGET, ctypes.byref(header), data), "capget")
    return tuple(data[0].__getattribute__(n) | (data[1].__getattribute__(n) << 32)
                 for n in ("effective", "permitted", "inheritable"))  # type: ignore[return-value]


def capset(effective: int, permitted: int, inheritable: int) -> None:
    header, data = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0), (_CapData * 2)()
    for i in (0, 1):
        data[i].effective = (effective >> (32 * i)) & 0xFFFFFFFF
        data[i].permitted = (permitted >> (32 * i)) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> (32 * i)) & 0xFFFFFFFF
    _check(_libc.syscall(_SYS_CAPSET, ctypes.byref(header), data), "capset")


def join_session_keyring(name: str | None) -> int:
    """A new session keyring named `name` (an anonymous one for None), as runc gives each container."""
    return _check(_libc.syscall(_SYS_KEYCTL, ctypes.c_long(_KEYCTL_JOIN_SESSION_KEYRING),
                                ctypes.c_char_p(_enc(name))), "keyctl(JOIN_SESSION_KEYRING)")


def personality(persona: int) -> int:
    return _check(_libc.personality(ctypes.c_ulong(persona)), f"personality({persona:#x})")


def current_cpu() -> int:
    """The CPU this thread runs on now (sched_getcpu(3))."""
    return _check(_libc.sched_getcpu(), "sched_getcpu")


# --- rlimits: prlimit(2) through libc, not Python's resource module, a C extension whose load (a
# dlopen) cost the container's init 0.3 ms on its way to "ready" (docs/startup.md) --------------------

# Every rlimit getrlimit(2) names: the asm-generic numbers (x86_64, arm64; Python's resource lacks LOCKS).
RLIMITS = {"RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
           "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
           "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
           "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15}
RLIM_INFINITY = 2**64 - 1  # rlim_t is unsigned: (resource's RLIM_INFINITY is -1)


class _Rlimit(ctypes.Structure):
    _fields_ = [("cur", ctypes.c_ulong), ("max", ctypes.c_ulong)]


def getrlimit(which: int) -> tuple[int, int]:
    """(soft, hard) of this process; unlimited is RLIM_INFINITY."""
    old = _Rlimit()
    _check(_libc.prlimit(0, which, None, ctypes.byref(old)), f"getrlimit({which})")
    return old.cur, old.max


def setrlimit(which: int, soft: int, hard: int) -> None:
    """OSError EINVAL: soft above hard; EPERM: hard above ours without CAP_SYS_RESOURCE."""
    _check(_libc.prlimit(0, which, ctypes.byref(_Rlimit(soft, hard)), None), f"setrlimit({which})")


# --- openat2(2): path resolution the kernel confines (Linux 5.6) ----------------------------------

_SYS_OPENAT2 = 437  # every arch (added after the syscall tables were unified)
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def openat2(dirfd: int, path: str, flags: int, resolve: int, mode: int = 0) -> int:
    """An fd for `path` below `dirfd`, resolved as `resolve` asks (RESOLVE_IN_ROOT: symlinks and ".."
    stay inside `dirfd`, atomically: a component swapped in mid-walk cannot lead out)."""
    how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    return _check(_libc.syscall(ctypes.c_long(_SYS_OPENAT2), ctypes.c_int(dirfd), _enc(path or "."),
                                ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how))), f"openat2 {path}", path)

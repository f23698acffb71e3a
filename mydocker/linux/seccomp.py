"""seccomp(2) / prctl(PR_SET_SECCOMP) with a ready classic-BPF program.

The program arrives as bytes of `struct sock_filter` (8 bytes each), compiled before the fork by
mydocker.runtime.seccomp: the container's init only hands them to the kernel.
"""

from __future__ import annotations

import os

from mydocker.linux import libc as ctypes  # ctypes' names, without its import time

_libc = ctypes.CDLL()
_libc.syscall.restype = ctypes.c_long
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]

SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1
SECCOMP_FILTER_FLAG_LOG = 2
SECCOMP_FILTER_FLAG_SPEC_ALLOW = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
_SYS_SECCOMP = 317  # x86_64; the compiler refuses other hosts


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def set_no_new_privs() -> None:
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(err)}")


def load_filter(program: bytes, flags: int = 0) -> None:
    """Install `program` for this thread (all threads with TSYNC).

    Needs no_new_privs or CAP_SYS_ADMIN in the current user namespace, else EACCES.
    """
    if not program or len(program) % 8:
        raise ValueError("a seccomp program is a non-empty sequence of 8-byte instructions")
    buf = ctypes.buffer(program)
    prog = _SockFprog(len(program) // 8, ctypes.addressof(buf))
    if flags:
        result = _libc.syscall(_SYS_SECCOMP, SECCOMP_SET_MODE_FILTER, flags, ctypes.byref(prog))
    else:  # the oldest interface (Linux 3.5) when no flag needs seccomp(2)
        result = _libc.prctl(PR_SET_SECCOMP, 2, ctypes.addressof(prog), 0, 0)
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"cannot load the seccomp filter: {os.strerror(err)}")

"""libc's functions and the C types the linux layer uses, built on `_ctypes` directly.

`import ctypes` costs five times `_ctypes` alone (docs/startup.md), and the runtime loads this module
in every container's set-up: it defines only what syscalls.py and seccomp.py call, the way
ctypes/__init__ defines them.
"""

import _ctypes
from _ctypes import Structure, addressof, byref, get_errno, sizeof  # noqa: F401 - re-exported


def _simple(name: str, code: str) -> type:
    """A C scalar type, as ctypes/__init__ makes each (`code`: the struct-module letter)."""
    return type(name, (_ctypes._SimpleCData,), {"_type_": code})


c_int, c_uint, c_ushort = _simple("c_int", "i"), _simple("c_uint", "I"), _simple("c_ushort", "H")
c_long, c_ulong = _simple("c_long", "l"), _simple("c_ulong", "L")
c_char, c_char_p, c_void_p = _simple("c_char", "c"), _simple("c_char_p", "z"), _simple("c_void_p", "P")
c_uint32 = c_uint
c_uint64 = c_ulong  # LP64
c_size_t = c_ulong  # LP64 (x86_64, arm64), the only ABIs mydocker runs on


class _Function(_ctypes.CFuncPtr):
    """A libc function: C calling convention, errno saved for get_errno(), int result."""
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = c_int


class CDLL:
    """The process's own symbols (libc), each function looked up once, on first use."""

    _function = _Function  # how each is called

    def __init__(self) -> None:
        self._handle = _ctypes.dlopen(None, _ctypes.RTLD_LOCAL)

    def __getattr__(self, name: str) -> _Function:
        if name.startswith("_"):
            raise AttributeError(name)
        function = self._function((name, self))
        setattr(self, name, function)
        return function


class _PythonAPIFunction(_Function):
    """A function called with the GIL held (ctypes' PyDLL): the interpreter's own, and a system call
    that must not let another thread run Python around it (clone3: no thread may be mid-import)."""
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_PYTHONAPI | _ctypes.FUNCFLAG_USE_ERRNO


class PythonAPI(CDLL):
    """The process's own symbols, each called with the GIL held."""

    _function = _PythonAPIFunction


def buffer(data: bytes):
    """A C array holding a copy of `data` (ctypes.create_string_buffer without the trailing NUL)."""
    return (c_char * len(data)).from_buffer_copy(data)

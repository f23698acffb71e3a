"""Find the container's command on its own PATH, with Docker's 126/127 distinction, and check that
execve will take it with its arguments and environment."""

from __future__ import annotations

import errno
import os
import stat

from mydocker.errors import CommandNotExecutable, CommandNotFound, InvalidArgument
from mydocker.linux import syscalls as sc

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def resolve(command: str, path_env: str | None) -> str:
    if "/" in command:
        _check(command)
        return command
    not_executable = None
    for directory in (path_env if path_env is not None else DEFAULT_PATH).split(":"):
        candidate = os.path.join(directory or ".", command)
        try:
            mode = os.stat(candidate).st_mode
        except OSError:
            continue
        if stat.S_ISREG(mode) and os.access(candidate, os.X_OK):
            return candidate
        not_executable = not_executable or candidate
    if not_executable:
        _check(not_executable)
    raise CommandNotFound(f"{command}: executable file not found in $PATH")


def _check(path: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise CommandNotFound(f"{path}: no such file or directory") from None
    except PermissionError:
        raise CommandNotExecutable(f"{path}: permission denied") from None
    if stat.S_ISDIR(mode):
        raise CommandNotExecutable(f"{path}: permission denied (a directory, not a command)")  # execve: EACCES
    if not stat.S_ISREG(mode) or not os.access(path, os.X_OK):
        raise CommandNotExecutable(f"{path}: permission denied (not an executable file)")


# execve's limits on what it copies onto the new program's stack (fs/exec.c): each string, NUL
# included, within MAX_ARG_STRLEN (32 pages); all of them with their pointers within a quarter of
# RLIMIT_STACK, capped at 3/4 of _STK_LIM (6 MiB), and never below ARG_MAX (128 KiB).
_MAX_ARG_STRLEN = 32 * os.sysconf("SC_PAGE_SIZE")
_ARG_MAX = 128 << 10
_STACK_SHARE_CAP = 6 << 20
_POINTER = 8  # a 64-bit host


def check_exec_size(path: str, args: list[str], env: dict[str, str]) -> None:
    """Refuse, before the container starts, a command line and environment that execve would
    refuse with E2BIG ("Argument list too long"), naming the limit that was passed."""
    total = len(os.fsencode(path)) + 1 + _POINTER * (max(len(args), 1) + len(env))
    for i, arg in enumerate(args):
        size = len(os.fsencode(arg)) + 1
        if size > _MAX_ARG_STRLEN:
            raise InvalidArgument(f"argument {i} of the command is {size} bytes: the kernel takes at most "
                                  f"{_MAX_ARG_STRLEN} per argument (MAX_ARG_STRLEN); pass it in a file")
        total += size
    for key, value in env.items():
        size = len(os.fsencode(key)) + len(os.fsencode(value)) + 2
        if size > _MAX_ARG_STRLEN:
            raise InvalidArgument(f"environment variable {key} is {size} bytes: the kernel takes at most "
                                  f"{_MAX_ARG_STRLEN} per variable (MAX_ARG_STRLEN); pass it in a file")
        total += size
    stack = sc.getrlimit(sc.RLIMITS["RLIMIT_STACK"])[0]
    limit = max(min(_STACK_SHARE_CAP, stack // 4 if stack != sc.RLIM_INFINITY else _STACK_SHARE_CAP),
                _ARG_MAX)
    if total > limit:
        raise InvalidArgument(f"the command's arguments and environment take {total} bytes, over the kernel's "
                              f"limit of {limit} (ARG_MAX: a quarter of the stack rlimit, at most 6 MiB): "
                              "shorten the environment or pass the data in a file")


def exec_error(exc: OSError) -> str:
    """Why execve failed, in words that say what to change."""
    if exc.errno == errno.E2BIG:
        return "the arguments and environment are over the kernel's limit (E2BIG): shorten them"
    return exc.strerror or str(exc)

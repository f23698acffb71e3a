"""Find the container's command on its own PATH, with Docker's 126/127 distinction."""

from __future__ import annotations

import os
import stat

from mydocker.errors import CommandNotExecutable, CommandNotFound

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
        raise CommandNotExecutable(f"{path}: is a directory, not a command")
    if not stat.S_ISREG(mode) or not os.access(path, os.X_OK):
        raise CommandNotExecutable(f"{path}: permission denied (not an executable file)")

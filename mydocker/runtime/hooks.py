"""OCI hooks: run each hook with the container's state on stdin, with its timeout.

No threads and no subprocess module (start-up cost, and this also runs in the container's init):
fork/exec, a pipe for stdin, a pidfd to wait with a deadline.
"""

from __future__ import annotations

import _signal
import os
import select
import sys

from mydocker.errors import InvalidArgument, RuntimeFailure
from mydocker.lazy import lazy_module

jsonio = lazy_module("mydocker.jsonio")

KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


def check(hooks: dict) -> None:
    """Reject malformed hooks at create, naming the field (a failing hook is found only when it runs)."""
    for kind, entries in hooks.items():
        if kind not in KINDS:
            continue  # unknown hook kinds are ignored, as runc does
        if not isinstance(entries, list):
            raise InvalidArgument(f"config.json: hooks.{kind} must be a list")
        for i, hook in enumerate(entries):
            where = f"config.json: hooks.{kind}[{i}]"
            if not isinstance(hook, dict) or not isinstance(hook.get("path"), str) or not hook["path"].startswith("/"):
                raise InvalidArgument(f"{where}.path must be an absolute path")
            timeout = hook.get("timeout")
            if timeout is not None and (not isinstance(timeout, int) or timeout <= 0):
                raise InvalidArgument(f"{where}.timeout must be a positive number of seconds")


def run_hooks(hooks: dict, kind: str, state: dict) -> None:
    """Run the `kind` hooks in order; the first failure raises, naming the hook."""
    for i, hook in enumerate(hooks.get(kind) or []):
        code = run_hook(hook, state)
        if code != 0:
            raise RuntimeFailure(f"{kind} hook #{i} {hook['path']} {_describe(code)}; fix or remove hooks.{kind}[{i}]")


def run_hooks_warning(hooks: dict, kind: str, state: dict) -> None:
    """poststart and poststop: every hook runs; a failure is a warning on stderr and the remaining
    hooks and the lifecycle go on (runtime spec, "POSIX-platform Hooks")."""
    for i, hook in enumerate(hooks.get(kind) or []):
        code = run_hook(hook, state)
        if code != 0:
            sys.stderr.write(f"mydocker-runtime: warning: {kind} hook #{i} {hook['path']} {_describe(code)}; "
                             f"the {kind} goes on without it\n")


def _describe(code: int) -> str:
    if code == -1000:
        return "timed out"
    return f"exited with status {code}" if code >= 0 else f"was killed by signal {-code}"


def run_hook(hook: dict, state: dict) -> int:
    """Exit status of the hook (negative: killed by that signal; -1000: timed out and killed)."""
    data = jsonio.dumps(state).encode()
    read_end, write_end = os.pipe()
    args = hook.get("args") or [hook["path"]]
    env = dict(item.partition("=")[::2] for item in hook.get("env") or [])
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(read_end, 0)
            os.execve(hook["path"], args, env)
        finally:
            os._exit(127)
    os.close(read_end)
    try:
        try:
            os.write(write_end, data)  # state JSON is small: fits in the pipe buffer
        except BrokenPipeError:
            pass
    finally:
        os.close(write_end)
    return _wait(pid, hook.get("timeout"))


def _wait(pid: int, timeout: int | None) -> int:
    pidfd = os.pidfd_open(pid)
    try:
        ready, _, _ = select.select([pidfd], [], [], timeout)
        if not ready:
            os.kill(pid, _signal.SIGKILL)
            os.waitpid(pid, 0)
            return -1000
    finally:
        os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)

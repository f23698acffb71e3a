"""`kill`: send a signal to a container's init, or to every process of its cgroup (--all).

Errors carry runc's words ("container not running"; "does not exist" from state.load): containerd's
shim maps a failed kill to "not found" only on those, and treats anything else as an unknown error
that leaves the task's exit unrecorded (docs/runtime-contract.md)."""

from __future__ import annotations

import os
import _signal as signals  # the C module: `signal` imports enum, start-up time

from mydocker.errors import Conflict, InvalidArgument
from mydocker.lazy import lazy_module
from mydocker.runtime import state_file as st

cgroups = lazy_module("mydocker.runtime.cgroups")


def parse_signal(value: str | int, allow_zero: bool = False) -> int:
    """Accept 9, "9", "KILL", "SIGKILL" (any case). With `allow_zero`, 0 too: runc's `kill ID 0` asks
    only whether the container is there (Docker's kill refuses 0, so the engine does not allow it)."""
    if isinstance(value, int) or str(value).isdigit():
        number = int(value)
        if (0 if allow_zero else 1) <= number < signals.NSIG:
            return number
    else:
        name = str(value).upper()
        name = name if name.startswith("SIG") else "SIG" + name
        number = getattr(signals, name, None)
        if isinstance(number, int):
            return number
    raise InvalidArgument(f"invalid signal {value!r}: use a name such as TERM or KILL, or a number")


def kill(root: str, container_id: str, sig: int = signals.SIGTERM, all_processes: bool = False) -> None:
    """Signal the init; with `all_processes`, every process in the container's cgroup (runc --all).

    `--all` on a stopped container signals whatever is left in its cgroup (children that outlived an
    init without its own PID namespace) and succeeds when nothing is: containerd sends it before it
    deletes every exited task, as runc answers it."""
    record = st.load(root, container_id)
    current = st.status(root, record)
    if all_processes:
        if record.cgroup_paths:
            cgroup = cgroups.cgroup_from_paths(record.cgroup_paths)
            if current != "stopped" or cgroup.pids():
                cgroup.kill_all(sig)
            return
        if current == "stopped":
            return
    if current not in ("created", "running", "paused"):
        raise _not_running(container_id, current)
    try:
        pidfd = os.pidfd_open(record.pid)  # a pidfd pins the process: no signal to a reused pid
    except ProcessLookupError:
        raise _not_running(container_id, "stopped") from None
    try:
        signals.pidfd_send_signal(pidfd, sig)
    except ProcessLookupError:  # exited since the open
        raise _not_running(container_id, "stopped") from None
    finally:
        os.close(pidfd)


def _not_running(container_id: str, current: str) -> Conflict:
    return Conflict(f"container not running: {container_id} is {current}; only a created, running or paused "
                    "container can be signalled")

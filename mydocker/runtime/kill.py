"""`kill`: send a signal to a container's init."""

from __future__ import annotations

import os
import _signal as signals  # the C module: `signal` imports enum, start-up time

from mydocker.errors import Conflict, InvalidArgument
from mydocker.lazy import lazy_module
from mydocker.runtime import state as st

cgroups = lazy_module("mydocker.runtime.cgroups")


def parse_signal(value: str | int) -> int:
    """Accept 9, "9", "KILL", "SIGKILL" (any case)."""
    if isinstance(value, int) or str(value).isdigit():
        number = int(value)
        if 0 < number < signals.NSIG:
            return number
    else:
        name = str(value).upper()
        name = name if name.startswith("SIG") else "SIG" + name
        number = getattr(signals, name, None)
        if isinstance(number, int):
            return number
    raise InvalidArgument(f"invalid signal {value!r}: use a name such as TERM or KILL, or a number")


def kill(root: str, container_id: str, sig: int = signals.SIGTERM, all_processes: bool = False) -> None:
    """Signal the init; with `all_processes`, every process in the container's cgroup (runc --all)."""
    record = st.load(root, container_id)
    current = st.status(root, record)
    if all_processes and record.cgroup_paths:
        cgroup = cgroups.cgroup_from_paths(record.cgroup_paths)
        if current == "stopped" and not cgroup.pids():
            raise Conflict(f"container {container_id} is stopped and has no processes left to signal")
        cgroup.kill_all(sig)
        return
    if current not in ("created", "running", "paused"):
        raise Conflict(f"container {container_id} is {current}: only a created or running container can be signalled")
    try:
        pidfd = os.pidfd_open(record.pid)  # a pidfd pins the process: no signal to a reused pid
    except ProcessLookupError:
        raise Conflict(f"container {container_id} is stopped: only a created or running container can be signalled") from None
    try:
        signals.pidfd_send_signal(pidfd, sig)
    finally:
        os.close(pidfd)

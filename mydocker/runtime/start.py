"""`start`: release a created container's init so it execs the user's command."""

from __future__ import annotations

import os
import select

from mydocker.errors import Conflict, RuntimeFailure
from mydocker.lazy import lazy_module
from mydocker.runtime import state_file as st

hooks = lazy_module("mydocker.runtime.hooks")


# runc's words for each state a container cannot be started from
_CANNOT_START = {"running": "cannot start an already running container",
                 "paused": "cannot start a container in the paused state",
                 "stopped": "cannot start a container that has stopped"}


def start(root: str, container_id: str) -> st.State:
    record = st.load(root, container_id)
    current = st.status(root, record)
    if current != "created":
        raise Conflict(f"{_CANNOT_START.get(current, 'cannot start the container')}: {container_id} is {current}; "
                       "only a created container can be started")
    fifo = os.path.join(st.container_dir(root, container_id), "exec.fifo")
    # The pidfd first: opening the fifo releases the init, which may exec, exit and be reaped by its
    # parent (a shim) before a later pidfd_open could find it.
    try:
        pidfd = os.pidfd_open(record.pid)
    except ProcessLookupError:
        raise RuntimeFailure(f"container {container_id} exited before it could start") from None
    try:
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            ready, _, _ = select.select([fd, pidfd], [], [])
            if fd not in ready or not os.read(fd, 1):
                raise RuntimeFailure(f"container {container_id} exited before it could start")
        finally:
            os.close(fd)
    finally:
        os.close(pidfd)
    os.unlink(fifo)
    record.started = True
    st.save(root, record)
    if record.hooks.get("poststart"):
        hooks.run_hooks_warning(record.hooks, "poststart", st.hook_state(record, "running"))
    return record

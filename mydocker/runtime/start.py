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


def start(root: str, container_id: str, fifo_fd: int | None = None, record: st.State | None = None) -> st.State:
    """`fifo_fd`: the exec fifo's read end, opened by create (its start_at_once) and closed here.
    `record`: the container's state as create returned it (`run`), instead of reading it again.

    Nothing is written but the fifo's removal: a container's status comes from its init and its fifo
    (state_view.status), not from the record, which stays as create wrote it (runc, too, writes its
    state.json at create, not at start)."""
    try:
        return _start(root, container_id, fifo_fd, record)
    finally:
        if fifo_fd is not None:
            os.close(fifo_fd)


def _start(root: str, container_id: str, fifo_fd: int | None, record: st.State | None) -> st.State:
    if record is None:
        record = st.load(root, container_id)
    if fifo_fd is None:
        current = st.status(root, record)
        if current != "created":
            raise Conflict(f"{_CANNOT_START.get(current, 'cannot start the container')}: {container_id} is "
                           f"{current}; only a created container can be started")
    # else create held the fifo's read end from before "go": the init has passed it already and may
    # have run and exited by now; what it wrote there says whether it started.
    fifo = os.path.join(st.container_dir(root, container_id), "exec.fifo")
    # The pidfd first: opening the fifo releases the init, which may exec, exit and be reaped by its
    # parent (a shim) before a later pidfd_open could find it.
    try:
        pidfd = os.pidfd_open(record.pid)
    except ProcessLookupError:
        if fifo_fd is None:
            raise RuntimeFailure(f"container {container_id} exited before it could start") from None
        pidfd = None  # gone already: the fifo holds its "0", or its end of file
    try:
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC) if fifo_fd is None else fifo_fd
        try:
            ready, _, _ = select.select([fd] if pidfd is None else [fd, pidfd], [], [])
            if fd not in ready or not os.read(fd, 1):
                raise RuntimeFailure(f"container {container_id} exited before it could start")
        finally:
            if fifo_fd is None:
                os.close(fd)
    finally:
        if pidfd is not None:
            os.close(pidfd)
    os.unlink(fifo)  # from now on the status reads "running" (or "stopped")
    if record.hooks.get("poststart"):
        hooks.run_hooks_warning(record.hooks, "poststart", st.hook_state(record, "running"))
    return record

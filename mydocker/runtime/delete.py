"""`delete`: remove what a container left: its processes (with --force), cgroups, runtime state;
then the poststop hooks. Works from state.json alone, also after the container died by itself."""

from __future__ import annotations

import _signal
import os
import time

from mydocker.errors import Conflict, NotFound
from mydocker.lazy import lazy_module
from mydocker.runtime import state_file as st

cgroups = lazy_module("mydocker.runtime.cgroups")
hooks = lazy_module("mydocker.runtime.hooks")


def delete(root: str, container_id: str, force: bool = False, record: st.State | None = None) -> None:
    """`record`: the container's state as its own `run` holds it (create's), instead of reading it again."""
    if record is None:
        try:
            record = st.load(root, container_id)
        except NotFound:
            if force:
                return  # as runc: shims and test harnesses force-delete blindly while cleaning up
            raise
    current = st.status(root, record)
    if current in ("running", "paused") and not force:
        raise Conflict(f"cannot delete container {container_id} that is not stopped: {current}; "  # runc's words
                       "stop it first or use --force")
    cgroup = None
    if record.cgroup_paths:
        cgroup = cgroups.cgroup_from_paths(record.cgroup_paths)
    if current == "paused" and cgroup is not None:
        cgroup.thaw()  # a frozen process cannot die
    if current in ("created", "running", "paused"):
        _kill_and_wait(record.pid)
    if cgroup is not None:
        cgroup.destroy()  # also kills what the init left behind (a container without a PID namespace)
    st.remove_dir(root, container_id)
    if record.hooks.get("poststop"):
        hooks.run_hooks_warning(record.hooks, "poststop", st.hook_state(record, "stopped"))  # the delete has happened


def _kill_and_wait(pid: int) -> None:
    try:
        os.kill(pid, _signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return
        except ChildProcessError:  # not ours: wait for the reaper
            if st.process_start_time(pid) is None:
                return
        time.sleep(0.002)

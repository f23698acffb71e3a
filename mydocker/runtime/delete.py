"""`delete`: remove what a container left: its init (with --force), its runtime state."""

from __future__ import annotations

import os
import signal
import time

from mydocker.errors import Conflict
from mydocker.runtime import state as st


def delete(root: str, container_id: str, force: bool = False) -> None:
    record = st.load(root, container_id)
    current = st.status(root, record)
    if current == "running" and not force:
        raise Conflict(f"container {container_id} is running: stop it first or use --force")
    if current in ("created", "running"):
        _kill_and_wait(record.pid)
    st.remove_dir(root, container_id)


def _kill_and_wait(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
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

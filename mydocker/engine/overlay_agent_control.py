"""Starting and stopping an engine root's overlay agent (mydocker/engine/overlay_agent.py).

Apart from the agent itself so that the network service can start it without importing it (the
agent imports the service). Its pid file is flock-ed while it lives: that lock, not the pid, says
whether it runs.
"""

from __future__ import annotations

import os
import sys
from mydocker.lazy import lazy_module

fcntl = lazy_module("fcntl")
subprocess = lazy_module("subprocess")
signal = lazy_module("signal")

AGENT_MODULE = "mydocker.engine.overlay_agent"


def pidfile(runroot: str) -> str:
    return os.path.join(runroot, "overlay-agent.pid")


def start_agent(root: str, runroot: str) -> None:
    """Start the root's agent unless it runs."""
    os.makedirs(runroot, exist_ok=True)
    fd = os.open(pidfile(runroot), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # alive
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
    with open(os.path.join(runroot, "overlay-agent.log"), "ab") as log:
        subprocess.Popen([sys.executable, "-m", AGENT_MODULE, root, runroot],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                         start_new_session=True, close_fds=True,
                         env=dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.dirname(
                             os.path.abspath(__file__))))))


def stop_agent(runroot: str) -> None:
    try:
        with open(pidfile(runroot)) as f:
            pid = int(f.read().strip() or 0)
    except (OSError, ValueError):
        return
    if pid:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

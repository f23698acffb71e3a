"""engine/monitor.py: the exit status of a child the monitor reaped before any container claimed it
(an init that exited before its launch worker said "started", or any orphan re-parented to the
monitor) is kept for a while. A pid is reused (pid_max 32768 here): a container whose init gets the
pid of an orphan reaped before its launch began must not be taken as already exited.

Each case runs in a forked child, so the monitor's waitpid(-1) reaps only what the case forked."""

from __future__ import annotations

import json
import os
import time

from mydocker.engine import monitor
from mydocker.runtime import api


def _exited_child(code: int) -> int:
    """A child that has exited (a zombie, not reaped yet)."""
    pid = os.fork()
    if pid == 0:
        os._exit(code)
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    return pid


def _started(m: monitor.Monitor, c, pid: int) -> None:
    """The launch worker's "started" message for init `pid`, as the monitor's loop hands it over."""
    ours, theirs = api.channel_pair()
    theirs.send({"type": "started", "pid": pid})
    m._channel(c)(ours.fileno())
    ours.close()
    theirs.close()


def _in_child(case, tmp_path) -> dict:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            m = monitor.Monitor(str(tmp_path / "root"), str(tmp_path / "run"))
            os.write(w, json.dumps(case(m)).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        out = f.read()
    os.waitpid(pid, 0)
    return json.loads(out)


def _stale(m: monitor.Monitor) -> dict:
    pid = _exited_child(3)
    m._reap(None)                          # an orphan, reaped long before the container below
    c = m.containers["c1"] = monitor._Container("c1", {}, None)
    c.launch_began = time.monotonic()      # _launch's mark; then its init gets the orphan's pid
    _started(m, c, pid)
    return {"status": c.status, "pid": c.pid}


def _early(m: monitor.Monitor) -> dict:
    c = m.containers["c1"] = monitor._Container("c1", {}, None)
    c.launch_began = time.monotonic()
    pid = _exited_child(3)
    m._reap(None)                          # the init exited before its worker said "started"
    _started(m, c, pid)
    return {"status": c.status, "pid": c.pid}


def test_a_status_reaped_before_the_launch_began_is_not_the_inits(tmp_path):
    got = _in_child(_stale, tmp_path)
    assert got["status"] is None and got["pid"] > 0, got


def test_an_init_reaped_before_started_arrives_is_matched(tmp_path):
    got = _in_child(_early, tmp_path)
    assert got["status"] is not None and os.waitstatus_to_exitcode(got["status"]) == 3, got

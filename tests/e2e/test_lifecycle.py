"""Detached containers as a user drives them: run -d, ps, logs, stop, kill, start, restart, wait, rm,
inspect, top, rename, container prune; the monitor records exits even when no CLI runs."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import time

import pytest

SEEN: set[str] = set()   # ids of this test's containers, for the leak check
LOOP = "i=0; while true; do echo out $i; echo err $i >&2; i=$((i+1)); sleep 0.1; done"


def mounts() -> set[str]:
    with open("/proc/self/mountinfo") as f:
        return {line.split()[4] for line in f}


@pytest.fixture
def no_leaks(tmp_path):
    """Scoped to this test's roots and containers: other engineers' tests run at the same time."""
    SEEN.clear()
    yield
    base = str(tmp_path)
    left = [m for m in mounts() if m.startswith(base) or any(cid in m for cid in SEEN)]
    assert not left, f"mounts left behind: {left}"
    cgroups = [os.path.join(top, d) for top, dirs, _ in os.walk("/sys/fs/cgroup")
               if "process_api" not in top for d in dirs if d in SEEN]
    assert not cgroups, f"cgroups left behind: {cgroups}"


def remember(mydocker) -> None:
    try:
        db = sqlite3.connect(os.path.join(mydocker.root, "mydocker.db"))
        SEEN.update(row[0] for row in db.execute("SELECT id FROM containers"))
        db.close()
    except sqlite3.Error:
        pass


@pytest.fixture(autouse=True)
def short_lived_monitor(monkeypatch, mydocker):
    """The monitor leaves soon after its last container, and before the test ends."""
    monkeypatch.setenv("MYDOCKER_MONITOR_IDLE", "0.3")
    yield
    remember(mydocker)
    for rec in mydocker("ps", "-aq", "--no-trunc", rc=None).out.split():
        mydocker("rm", "-f", rec, rc=None)
    wait_monitor_gone(mydocker)


def monitor_pid(mydocker) -> int | None:
    try:
        with open(os.path.join(mydocker.runroot, "monitor.lock")) as f:
            pid = int(f.read().strip() or 0)
    except FileNotFoundError:
        return None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return pid if b"mydocker.engine.monitor" in f.read() else None
    except FileNotFoundError:
        return None


def wait_monitor_gone(mydocker, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while monitor_pid(mydocker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert monitor_pid(mydocker) is None, "the monitor did not exit after its last container"


def db_row(mydocker, ref: str) -> dict:
    """The record as stored, read without the CLI (which would reconcile it)."""
    db = sqlite3.connect(os.path.join(mydocker.root, "mydocker.db"))
    db.row_factory = sqlite3.Row
    row = db.execute("SELECT * FROM containers WHERE name=? OR id LIKE ?", (ref, ref + "%")).fetchone()
    db.close()
    return dict(row) if row else {}


def until(check, timeout: float = 15, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def inspect(mydocker, ref: str) -> dict:
    return json.loads(mydocker("inspect", ref).out)[0]


def run_d(mydocker, *args: str) -> str:
    cid = mydocker("run", "-d", *args).out.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", cid), cid
    SEEN.add(cid)
    return cid


def test_run_d_ps_columns_and_formats(mydocker):
    cid = run_d(mydocker, "--name", "web", "busybox", "sh", "-c", LOOP)
    out = mydocker("ps").out.splitlines()
    assert re.match(r"CONTAINER ID   IMAGE     COMMAND +CREATED +STATUS +PORTS +NAMES$", out[0]), out[0]
    assert out[1].startswith(cid[:12] + "   busybox   \"sh -c i=0; while tr…\"")
    assert out[1].endswith("web") and re.search(r"Up (Less than a second|\d+ seconds?)", out[1])
    # columns line up under their headers
    assert out[0].index("NAMES") == out[1].index("web")
    assert mydocker("ps", "-q").out == cid[:12] + "\n"
    assert mydocker("ps", "--format", "{{.ID}} {{.Names}}").out == f"{cid[:12]} web\n"
    assert json.loads(mydocker("ps", "--format", "json").out)["Names"] == "web"
    assert json.loads(mydocker("ps", "--format", "{{json .}}").out)["ID"] == cid[:12]
    table = mydocker("ps", "--format", "table {{.Names}}\t{{.State}}").out
    assert table == "NAMES     STATE\nweb       running\n"
    assert mydocker("ps", "-q", "--no-trunc").out.strip() == cid


def test_exit_is_recorded_with_no_cli_running(mydocker):
    run_d(mydocker, "--name", "short", "busybox", "sh", "-c", "sleep 0.5; exit 3")
    row = until(lambda: (r := db_row(mydocker, "short")) and r["status"] == "exited" and r, what="the exit")
    assert row["exit_code"] == 3 and row["finished_at"] and row["pid"] == 0
    assert "Exited (3)" in mydocker("ps", "-a").out
    assert mydocker("ps").out.count("\n") == 1  # the header only
    assert mydocker("ps", "-a", "--filter", "status=exited", "--format", "{{.Names}}").out == "short\n"
    assert mydocker("ps", "-a", "--filter", "exited=3", "-q").out.strip()
    assert mydocker("ps", "-a", "--filter", "exited=0", "-q").out == ""
    assert mydocker("ps", "-a", "--filter", "status=running", "-q").out == ""
    assert mydocker("wait", "short").out == "3\n"


def test_logs_keep_streams_apart_tail_timestamps_since_until(mydocker):
    run_d(mydocker, "--name", "chatty", "busybox", "sh", "-c",
          "echo one; echo two >&2; echo three; printf no-newline; exit 0")
    assert mydocker("wait", "chatty").out == "0\n"
    r = mydocker("logs", "chatty")
    assert r.out == "one\nthree\nno-newline" and r.err == "two\n"
    assert mydocker("logs", "--tail", "1", "chatty").out == "no-newline"
    stamped = mydocker("logs", "-t", "chatty").out.splitlines()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z one", stamped[0])
    with open(os.path.join(mydocker.root, "containers", inspect(mydocker, "chatty")["Id"],
                           inspect(mydocker, "chatty")["Id"] + "-json.log")) as f:
        entries = [json.loads(line) for line in f]
    # two pipes: the order between the streams is the monitor's reading order, each stream's own is kept
    assert [e["log"] for e in entries if e["stream"] == "stdout"] == ["one\n", "three\n", "no-newline"]
    assert [e["log"] for e in entries if e["stream"] == "stderr"] == ["two\n"]
    assert all(e["time"].endswith("Z") for e in entries)
    assert mydocker("logs", "--since", "1h", "chatty").out.startswith("one")
    assert mydocker("logs", "--until", "2000-01-01T00:00:00Z", "chatty").out == ""
    assert mydocker("logs", "--since", "2999-01-01", "chatty").out == ""
    mydocker("logs", "--since", "yesterday-ish", "chatty", rc=1)


def test_logs_follow_stops_when_the_container_exits(mydocker):
    run_d(mydocker, "--name", "follow", "busybox", "sh", "-c", "for i in 1 2 3; do echo line $i; sleep 0.3; done")
    started = time.monotonic()
    r = mydocker("logs", "-f", "follow", timeout=20)
    assert r.out == "line 1\nline 2\nline 3\n"
    assert time.monotonic() - started < 10


def test_log_files_are_rotated(mydocker):
    cid = run_d(mydocker, "--log-opt", "max-size=2k", "--log-opt", "max-file=2", "busybox", "sh", "-c",
                "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done")
    mydocker("wait", cid)
    directory = os.path.join(mydocker.root, "containers", cid)
    logs = sorted(n for n in os.listdir(directory) if "json.log" in n)
    assert logs == [f"{cid}-json.log", f"{cid}-json.log.1"]
    assert all(os.path.getsize(os.path.join(directory, n)) <= 2048 for n in logs)
    out = mydocker("logs", cid).out.splitlines()
    assert out[-1] == "line-299" and out == [f"line-{i}" for i in range(300 - len(out), 300)]
    mydocker("run", "-d", "--log-opt", "max-size=lots", "busybox", "true", rc=125)


def test_stop_escalates_to_sigkill_after_the_timeout(mydocker):
    run_d(mydocker, "--name", "stubborn", "busybox", "sleep", "60")  # PID 1 without a handler ignores SIGTERM
    started = time.monotonic()
    mydocker("stop", "-t", "2", "stubborn")
    took = time.monotonic() - started
    assert 1.9 < took < 6, took
    state = inspect(mydocker, "stubborn")["State"]
    assert state["ExitCode"] == 137 and state["Status"] == "exited" and not state["Running"]
    assert "Exited (137)" in mydocker("ps", "-a").out


def test_stop_with_a_handler_is_quick_and_keeps_its_code(mydocker):
    run_d(mydocker, "--name", "polite", "busybox", "sh", "-c",
          "trap 'echo bye; exit 5' TERM; while true; do sleep 0.05; done")
    time.sleep(0.3)
    started = time.monotonic()
    mydocker("stop", "polite")
    assert time.monotonic() - started < 3
    assert inspect(mydocker, "polite")["State"]["ExitCode"] == 5
    assert "bye" in mydocker("logs", "polite").out


def test_kill_sends_the_signal(mydocker):
    run_d(mydocker, "--name", "kk", "busybox", "sh", "-c",
          "trap 'echo got-hup' HUP; while true; do sleep 0.05; done")
    time.sleep(0.3)
    mydocker("kill", "-s", "HUP", "kk")
    until(lambda: "got-hup" in mydocker("logs", "kk").out, what="the HUP to arrive")
    assert inspect(mydocker, "kk")["State"]["Running"]
    mydocker("kill", "-s", "NOPE", "kk", rc=1)
    mydocker("kill", "kk")
    assert mydocker("wait", "kk").out == "137\n"
    r = mydocker("kill", "kk", rc=1)
    assert "not running" in r.err


def test_start_reuses_the_rootfs_and_restart_restarts(mydocker):
    run_d(mydocker, "--name", "keep", "busybox", "sh", "-c", "echo x >> /data.txt; cat /data.txt | wc -l; sleep 60")
    until(lambda: mydocker("logs", "keep").out.strip() == "1", what="the first run")
    first = inspect(mydocker, "keep")["State"]["StartedAt"]
    mydocker("stop", "-t", "0", "keep")
    assert mydocker("start", "keep").out == "keep\n"
    until(lambda: mydocker("logs", "keep").out.split() == ["1", "2"], what="the second run")
    mydocker("restart", "-t", "0", "keep")
    until(lambda: mydocker("logs", "keep").out.split() == ["1", "2", "3"], what="the restart")
    state = inspect(mydocker, "keep")["State"]
    assert state["Running"] and state["StartedAt"] != first
    assert mydocker("start", "keep").out == "keep\n"  # already running: nothing to do


def test_restart_policies(mydocker):
    run_d(mydocker, "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; exit 4")
    until(lambda: db_row(mydocker, "flaky")["restart_count"] == 2 and db_row(mydocker, "flaky")["status"] == "exited",
          what="two restarts")
    assert mydocker("logs", "flaky").out == "run\nrun\nrun\n"
    info = inspect(mydocker, "flaky")
    assert info["RestartCount"] == 2 and info["HostConfig"]["RestartPolicy"] == {"Name": "on-failure",
                                                                                   "MaximumRetryCount": 2}
    run_d(mydocker, "--name", "ok", "--restart", "on-failure", "busybox", "true")
    assert mydocker("wait", "ok").out == "0\n" and db_row(mydocker, "ok")["restart_count"] == 0
    run_d(mydocker, "--name", "always", "--restart", "always", "busybox", "sh", "-c", "echo up; sleep 0.2")
    until(lambda: db_row(mydocker, "always")["restart_count"] >= 2, what="always to restart")
    mydocker("stop", "always")
    count = db_row(mydocker, "always")["restart_count"]
    time.sleep(0.8)
    assert db_row(mydocker, "always")["status"] == "exited" and db_row(mydocker, "always")["restart_count"] == count
    mydocker("run", "-d", "--restart", "sometimes", "busybox", "true", rc=125)
    mydocker("run", "-d", "--rm", "--restart", "always", "busybox", "true", rc=125)


def test_rm_refuses_running_and_rm_f_leaves_no_trace(mydocker):
    cid = run_d(mydocker, "--name", "gone", "busybox", "sleep", "60")
    r = mydocker("rm", "gone", rc=1)
    assert "running" in r.err and "-f" in r.err and len(r.err.strip().splitlines()) == 1
    mydocker("rm", "-f", "gone")
    assert mydocker("ps", "-aq").out == ""
    assert not os.path.exists(os.path.join(mydocker.root, "containers", cid))
    assert not os.path.exists(os.path.join(mydocker.runroot, "runtime", cid))
    assert not any(cid in line for line in open("/proc/self/mountinfo"))
    assert not any(cid in d for _, dirs, _ in os.walk("/sys/fs/cgroup/pids") for d in dirs)
    assert db_row(mydocker, cid) == {}
    mydocker("rm", "gone", rc=1)


def test_run_d_rm_removes_itself(mydocker):
    cid = run_d(mydocker, "--rm", "busybox", "true")
    until(lambda: not db_row(mydocker, cid), what="the auto-removal")
    assert not os.path.exists(os.path.join(mydocker.root, "containers", cid))


def test_inspect_shape_templates_and_id_prefixes(mydocker):
    cid = run_d(mydocker, "--name", "insp", "-e", "A=1", "busybox", "sleep", "60")
    info = inspect(mydocker, cid[:12])
    assert info["Id"] == cid and info["Name"] == "/insp" and info["Path"] == "sleep" and info["Args"] == ["60"]
    state = info["State"]
    assert state["Status"] == "running" and state["Running"] and state["Pid"] > 0 and state["OOMKilled"] is False
    assert state["StartedAt"].endswith("Z") and state["FinishedAt"] == "0001-01-01T00:00:00Z"
    assert "A=1" in info["Config"]["Env"] and info["Config"]["Cmd"] == ["sleep", "60"]
    for key in ("HostConfig", "Mounts", "NetworkSettings", "LogPath", "RestartCount", "GraphDriver"):
        assert key in info
    assert mydocker("inspect", "-f", "{{.State.Status}} {{.Name}} {{json .Config.Cmd}}", "insp").out == \
        'running /insp ["sleep","60"]\n'
    assert mydocker("inspect", "-f", "{{if .State.Running}}up{{else}}down{{end}}", "insp").out == "up\n"
    assert mydocker("inspect", "--format", "{{.State.Pid}}", cid[:5]).out.strip() == str(state["Pid"])
    r = mydocker("inspect", "-f", "{{.Nope}}", "insp", rc=1)
    assert "Nope" in r.err
    r = mydocker("inspect", "no-such-thing", rc=1)
    assert "no-such-thing" in r.err
    # names are unique
    r = mydocker("run", "-d", "--name", "insp", "busybox", "true", rc=125)
    assert "already in use" in r.err


def test_ambiguous_id_prefix_is_refused(mydocker):
    ids = [run_d(mydocker, "busybox", "true") for _ in range(20)]
    for cid in ids:
        mydocker("wait", cid)
    by_first = {}
    for cid in ids:
        by_first.setdefault(cid[0], []).append(cid)
    shared = next(v for v in by_first.values() if len(v) > 1)
    r = mydocker("inspect", shared[0][0], rc=1)
    assert "ambiguous" in r.err
    r = mydocker("rm", shared[0][0], rc=1)
    assert "ambiguous" in r.err
    assert mydocker("rm", shared[0][:12]).out == shared[0][:12] + "\n"


def test_top_rename_and_prune(mydocker):
    run_d(mydocker, "--name", "old", "busybox", "sh", "-c", "sleep 60 & sleep 61; echo end")
    time.sleep(0.3)
    out = mydocker("top", "old").out.splitlines()
    assert out[0].split()[:3] == ["UID", "PID", "PPID"]
    commands = [line.split(None, 7)[-1] for line in out[1:]]
    assert sorted(commands) == ["sh -c sleep 60 & sleep 61; echo end", "sleep 60", "sleep 61"]
    mydocker("rename", "old", "new")
    assert mydocker("ps", "--format", "{{.Names}}").out == "new\n"
    mydocker("rename", "new", "-bad", rc=125)
    run_d(mydocker, "--name", "done", "busybox", "true")
    mydocker("wait", "done")
    r = mydocker("container", "prune", "-f")
    assert r.out.startswith("Deleted Containers:\n") and "Total reclaimed space" in r.out
    assert mydocker("ps", "-a", "--format", "{{.Names}}").out == "new\n"
    assert mydocker("container", "ls", "-q").out.strip()


def test_monitor_killed_ps_tells_the_truth_and_rm_cleans(mydocker):
    cid = run_d(mydocker, "--name", "orphan", "busybox", "sleep", "60")
    pid = monitor_pid(mydocker)
    os.kill(pid, signal.SIGKILL)
    until(lambda: monitor_pid(mydocker) is None, what="the monitor to die")
    assert "Up " in mydocker("ps").out  # still running, and ps says so
    init = inspect(mydocker, "orphan")["State"]["Pid"]
    os.kill(init, signal.SIGKILL)
    until(lambda: not os.path.exists(f"/proc/{init}/stat")
          or open(f"/proc/{init}/stat").read().split(") ")[1][0] == "Z",
          what="the init to die")
    line = mydocker("ps", "-a").out.splitlines()[1]
    assert "Exited (255)" in line
    assert "unknown" in inspect(mydocker, "orphan")["State"]["Error"]
    mydocker("rm", "-f", cid)
    assert not os.path.exists(os.path.join(mydocker.root, "containers", cid))
    assert not os.path.exists(os.path.join(mydocker.runroot, "runtime", cid))


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5])
def test_cli_killed_during_run_d_leaves_what_rm_f_cleans(mydocker, delay):
    proc = subprocess.Popen(mydocker.argv("run", "-d", "--name", "crash", "busybox", "sleep", "60"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    proc.kill()
    proc.wait()
    time.sleep(0.3)
    remember(mydocker)
    ps = mydocker("ps", "-a", "--format", "{{.Names}} {{.State}}").out
    assert ps in ("", "crash created\n", "crash running\n"), ps
    if ps:
        mydocker("rm", "-f", "crash")
    assert mydocker("ps", "-aq").out == ""
    assert os.listdir(os.path.join(mydocker.root, "containers")) == [] if os.path.isdir(
        os.path.join(mydocker.root, "containers")) else True


def test_detached_tty_and_open_stdin(mydocker):
    run_d(mydocker, "--name", "tty", "-t", "busybox", "sh", "-c", "tty; echo on-the-console")
    assert mydocker("wait", "tty").out == "0\n"
    out = mydocker("logs", "tty").out
    assert "/dev/pts/" in out and "on-the-console" in out
    cid = inspect(mydocker, "tty")["Id"]
    with open(os.path.join(mydocker.root, "containers", cid, f"{cid}-json.log")) as f:
        entries = [json.loads(line) for line in f]
    assert {e["stream"] for e in entries} == {"stdout"}  # a terminal has one stream
    assert "on-the-console\r\n" in [e["log"] for e in entries]  # and its line discipline's CRLF
    run_d(mydocker, "--name", "shell", "-i", "busybox", "sh")  # stdin stays open: the shell waits on it
    time.sleep(0.5)
    assert inspect(mydocker, "shell")["State"]["Running"]
    assert inspect(mydocker, "shell")["Config"]["OpenStdin"] is True


def test_stop_with_another_signal(mydocker):
    run_d(mydocker, "--name", "usr1", "busybox", "sh", "-c",
          "trap 'exit 9' USR1; while true; do sleep 0.05; done")
    time.sleep(0.3)
    mydocker("stop", "-s", "USR1", "usr1")
    assert inspect(mydocker, "usr1")["State"]["ExitCode"] == 9
    mydocker("stop", "-s", "NOPE", "usr1", rc=1)


@pytest.mark.parametrize("delay", [0.0, 0.03, 0.06, 0.1, 0.2])
def test_monitor_killed_at_any_moment_of_run_d(mydocker, delay):
    """The monitor dies while `run -d` talks to it (or just after): ps tells the truth, rm -f cleans."""
    mydocker("run", "-d", "--name", "warm", "busybox", "true")  # a monitor is up
    mydocker("wait", "warm")
    proc = subprocess.Popen(mydocker.argv("run", "-d", "--name", "victim", "busybox", "sleep", "60"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    pid = monitor_pid(mydocker)
    if pid:
        os.kill(pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    remember(mydocker)
    assert "Traceback" not in err
    state = mydocker("inspect", "-f", "{{.State.Status}} {{.State.Running}}", "victim", rc=None)
    if state.rc == 0:
        status, running = state.out.split()
        assert status in ("created", "running", "exited")
        if status == "running":  # then it really runs
            assert os.path.exists(f"/proc/{inspect(mydocker, 'victim')['State']['Pid']}")
        mydocker("rm", "-f", "victim")
    assert "victim" not in mydocker("ps", "-a", "--format", "{{.Names}}").out


def test_a_foreground_container_is_listed_stopped_and_removed_like_others(mydocker):
    proc = subprocess.Popen(mydocker.argv("run", "--name", "fg", "busybox", "sleep", "60"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        until(lambda: "fg" in mydocker("ps", "--format", "{{.Names}}").out, what="the foreground container")
    except AssertionError:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"no running fg: `run` exited {proc.returncode}, stdout {out!r}, stderr {err!r}") from None
    remember(mydocker)
    assert mydocker("ps", "--format", "{{.Status}}").out.startswith("Up ")
    assert mydocker("exec", "fg", "hostname").out.strip() == inspect(mydocker, "fg")["Id"][:12]
    mydocker("stop", "-t", "1", "fg")
    assert proc.wait(timeout=30) == 137
    proc.stdout.close()
    proc.stderr.close()
    assert "Exited (137)" in mydocker("ps", "-a").out
    mydocker("rm", "fg")
    assert mydocker("ps", "-aq").out == ""

"""Healthchecks: --health-* flags and the image's HEALTHCHECK, probed by the monitor through exec;
State.Health in inspect and "(healthy)" in ps."""

from __future__ import annotations

import json
import time


def _health(mydocker, name: str) -> dict:
    return json.loads(mydocker("inspect", name).out)[0]["State"].get("Health")


def _wait_for(mydocker, name: str, status: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        health = _health(mydocker, name)
        if health and health["Status"] == status:
            return health
        assert time.monotonic() < deadline, f"{name} never became {status}: {health}"
        time.sleep(0.2)


def test_healthcheck_turns_healthy(mydocker):
    mydocker("run", "-d", "--name", "good", "--health-cmd", "test -e /tmp/ready && echo fine",
             "--health-interval", "300ms", "--health-retries", "2", "--health-start-period", "30s", "busybox",
             "sh", "-c", "sleep 2; touch /tmp/ready; sleep 60")
    assert _health(mydocker, "good")["Status"] == "starting"
    assert "(health: starting)" in mydocker("ps", "--format", "{{.Status}}").out
    health = _wait_for(mydocker, "good", "healthy")
    assert health["FailingStreak"] == 0
    last = health["Log"][-1]
    assert last["ExitCode"] == 0 and last["Output"] == "fine\n" and last["Start"] <= last["End"]
    assert len(health["Log"]) <= 5
    assert mydocker("ps", "--format", "{{.Status}}").out.strip().endswith("(healthy)")
    config = json.loads(mydocker("inspect", "good").out)[0]["Config"]["Healthcheck"]
    assert config == {"Test": ["CMD-SHELL", "test -e /tmp/ready && echo fine"], "Interval": 300_000_000,
                      "Retries": 2, "StartPeriod": 30_000_000_000}
    mydocker("rm", "-f", "good")


def test_healthcheck_turns_unhealthy_and_times_out(mydocker):
    try:
        mydocker("run", "-d", "--name", "bad", "--health-cmd", "echo no; exit 3", "--health-interval", "200ms",
                 "--health-retries", "3", "busybox", "sleep", "60")
        health = _wait_for(mydocker, "bad", "unhealthy")
        assert health["FailingStreak"] >= 3
        assert health["Log"][-1]["ExitCode"] == 3 and health["Log"][-1]["Output"] == "no\n"
        assert mydocker("ps", "--format", "{{.Status}}").out.strip().endswith("(unhealthy)")
        mydocker("run", "-d", "--name", "plain", "busybox", "sleep", "60")
        assert mydocker("ps", "--format", "{{.Names}}", "-f", "health=unhealthy").out == "bad\n"
        assert mydocker("ps", "--format", "{{.Names}}", "-f", "health=none").out == "plain\n"
        assert mydocker("ps", "-q", "-f", "health=healthy").out == ""
        assert "invalid filter 'health=sick'" in mydocker("ps", "-f", "health=sick", rc=1).err
        mydocker("rm", "-f", "plain")
        mydocker("run", "-d", "--name", "slow", "--health-cmd", "sleep 5", "--health-interval", "200ms",
                 "--health-timeout", "300ms", "--health-retries", "1", "busybox", "sleep", "60")
        health = _wait_for(mydocker, "slow", "unhealthy")
        assert health["Log"][-1]["ExitCode"] == -1
        assert health["Log"][-1]["Output"] == "Health check exceeded timeout (0.3s)"
    finally:  # a failed assertion must not leave running containers to the next tests
        _remove_all(mydocker)


def _remove_all(mydocker) -> None:
    ids = mydocker("ps", "-aq").out.split()
    if ids:
        mydocker("rm", "-f", *ids)


def _probe_running(init: int) -> bool:
    """Is a healthcheck's `sleep 5` running in the PID namespace of the container whose init is `init`?"""
    import os
    ns = os.stat(f"/proc/{init}/ns/pid").st_ino
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if (os.stat(f"/proc/{pid}/ns/pid").st_ino == ns
                    and open(f"/proc/{pid}/cmdline", "rb").read() == b"sleep\x005\x00"):
                return True
        except OSError:
            continue
    return False


def _left_of(container_id: str, base) -> list[str]:
    """The container's mounts (rootfs, netns) under `base`, its cgroups, and processes in its cgroups."""
    import glob
    with open("/proc/self/mountinfo") as f:
        left = [line.split()[4] for line in f if line.split()[4].startswith(str(base)) and container_id in line]
    return left + glob.glob(f"/sys/fs/cgroup/*/*{container_id}")


def _monitor_pid(mydocker) -> int:
    import os
    with open(os.path.join(mydocker.runroot, "monitor.lock")) as f:
        return int(f.read())


def _children(pid: int) -> list[str]:
    """The live processes whose parent is `pid` (its health, launch and exit workers, the inits), not
    its spare workers (engine/monitor.py: forked ahead of a job, no container's) nor its attach-lock
    prewarm shell (runtime/prewarm.py: the monitor's, for every launch)."""
    import glob
    try:
        tids = glob.glob(f"/proc/{pid}/task/*/children")
        return [c for t in tids for c in open(t).read().split()
                if _name(c) != "mydocker-spare" and not _is_prewarm_shell(c)]
    except FileNotFoundError:
        return []  # it exited: nothing to watch


def _is_prewarm_shell(pid: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    return argv[:1] == [b"sh"] and any(a.endswith(b"/cgroup.procs") for a in argv)


def _name(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def test_rm_f_while_a_probe_runs_leaves_nothing_then_or_later(mydocker, tmp_path):
    """`rm -f` while the monitor's health worker has a probe running in the container (an exec): once rm
    returns nothing of the container is left, and nothing comes back seconds later (the worker, the
    monitor and the exit worker must neither mount, attach nor start anything for a removed container)."""
    try:
        cid = mydocker("run", "-d", "--name", "busy", "--health-cmd", "sleep 5", "--health-interval", "100ms",
                       "--health-timeout", "20s", "busybox", "sleep", "60").out.strip()
        init = json.loads(mydocker("inspect", "busy").out)[0]["State"]["Pid"]
        deadline = time.monotonic() + 30
        while not _probe_running(init):
            assert time.monotonic() < deadline, "no healthcheck started within 30 s"
            time.sleep(0.05)
        assert _left_of(cid, tmp_path), "the check sees nothing of a running container"
        monitor = _monitor_pid(mydocker)
        mydocker("rm", "-f", "busy")
        assert _left_of(cid, tmp_path) == []
        assert mydocker("ps", "-aq").out == ""
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:  # nothing comes back
            assert _left_of(cid, tmp_path) == []
            time.sleep(0.1)
        assert mydocker("ps", "-aq").out == ""
        assert _children(monitor) == [], "the monitor still runs workers for a removed container"
    finally:
        _remove_all(mydocker)


def test_start_period_failures_do_not_count(mydocker):
    mydocker("run", "-d", "--name", "warm", "--health-cmd", "false", "--health-interval", "200ms",
             "--health-retries", "1", "--health-start-period", "1m", "busybox", "sleep", "60")
    time.sleep(1.5)
    health = _health(mydocker, "warm")
    assert health["Status"] == "starting" and health["FailingStreak"] == 0 and health["Log"], health
    mydocker("rm", "-f", "warm")


def test_image_healthcheck_and_no_healthcheck(mydocker, tmp_path):
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\nHEALTHCHECK --interval=200ms --retries=1 CMD [\"true\"]\n")
    mydocker("build", "-q", "-t", "checked", str(tmp_path))
    image = json.loads(mydocker("image", "inspect", "checked").out)[0]["Config"]["Healthcheck"]
    assert image == {"Test": ["CMD", "true"], "Interval": 200_000_000, "Retries": 1}
    mydocker("run", "-d", "--name", "img", "checked", "sleep", "60")
    _wait_for(mydocker, "img", "healthy")
    mydocker("run", "-d", "--name", "off", "--no-healthcheck", "checked", "sleep", "60")
    assert _health(mydocker, "off") is None
    assert json.loads(mydocker("inspect", "off").out)[0]["Config"]["Healthcheck"]["Test"] == ["NONE"]
    mydocker("rm", "-f", "img", "off")
    mydocker("rmi", "checked")


def test_bad_health_flags(mydocker):
    for flags, words in [(["--health-interval", "5"], "--health-interval"),
                         (["--health-cmd", "true", "--no-healthcheck"], "--no-healthcheck"),
                         (["--health-cmd", "true", "--health-timeout", "10us"], "at least 1ms")]:
        err = mydocker("run", "--rm", *flags, "busybox", "true", rc=125).err
        assert words in err and len(err.strip().splitlines()) == 1, err
    assert mydocker("ps", "-aq").out == ""


def test_foreground_run_is_probed_too(mydocker):
    """Not only detached containers: the monitor probes a foreground run's container until it exits."""
    import subprocess
    proc = subprocess.Popen(mydocker.argv("run", "--name", "fg", "--health-cmd", "echo up", "--health-interval",
                                          "200ms", "busybox", "sleep", "4"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 30
        while not (mydocker("ps", "-aq", "-f", "name=fg").out and _health(mydocker, "fg")):
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        health = _wait_for(mydocker, "fg", "healthy")
        assert health["Log"][-1]["Output"] == "up\n"
        assert "(healthy)" in mydocker("ps", "--format", "{{.Status}}").out
    finally:
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    count = len(_health(mydocker, "fg")["Log"])
    time.sleep(0.6)  # no probe after the exit
    assert len(_health(mydocker, "fg")["Log"]) == count
    mydocker("rm", "fg")

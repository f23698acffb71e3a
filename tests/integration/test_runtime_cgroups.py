"""`mydocker run` resource flags reach the container's cgroups through the runtime, the runtime
removes them, and an OOM kill is reported (issue 3's acceptance through the runtime's wiring)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from mydocker.runtime.cgroups import detect_mode

pytestmark = pytest.mark.skipif(detect_mode() == "v2", reason="reads v1 controller files (this host is hybrid)")


def test_resource_flags_are_applied_in_the_containers_cgroups(mydocker):
    out = mydocker("run", "--rm", "-m", "100m", "--memory-reservation", "32m", "--cpus", "0.5", "--cpu-shares", "512",
                   "--cpuset-cpus", "0", "--pids-limit", "64", "busybox", "cat",
                   "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.soft_limit_in_bytes",
                   "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us",
                   "/sys/fs/cgroup/cpu/cpu.shares", "/sys/fs/cgroup/cpuset/cpuset.cpus",
                   "/sys/fs/cgroup/pids/pids.max").out.split()
    assert out == [str(100 << 20), str(32 << 20), "50000", "100000", "512", "0", "64"]


def test_the_container_is_in_its_own_cgroup_named_after_it(mydocker):
    out = mydocker("run", "--rm", "busybox", "cat", "/proc/self/cgroup").out
    memory = next(line for line in out.splitlines() if ":memory:" in line)
    assert memory.split(":")[2].startswith("/mydocker/") and len(memory.split("/")[-1]) == 64


def test_out_of_memory_is_reported_by_run(mydocker):
    r = mydocker("run", "--rm", "-m", "16m", "--memory-swap", "16m", "busybox",
                 "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1", rc=137)
    assert "mydocker: container was killed: out of memory (limit 16MiB)" in r.err


def test_no_message_without_an_oom_kill(mydocker):
    r = mydocker("run", "--rm", "-m", "64m", "busybox", "sh", "-c", "exit 137", rc=137)
    assert "out of memory" not in r.err


def test_cgroups_are_removed_even_when_the_runtime_state_is_all_that_is_left(tmp_path, make_bundle):
    """delete works from state.json alone: a container whose init died is cleaned from the record."""
    from mydocker.linux import syscalls as sc
    from mydocker.runtime.create import create
    from mydocker.runtime.delete import delete
    from mydocker.runtime.process import wait_for_exit
    from mydocker.runtime.start import start
    sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
    root = str(tmp_path / "mydocker-runtime-root")
    record, init = create(root, "gone", make_bundle(["true"]))
    start(root, "gone")
    wait_for_exit(init.pid)
    assert all(os.path.isdir(p) for p in record.cgroup_paths.values())
    delete(root, "gone")
    assert not any(os.path.exists(p) for p in record.cgroup_paths.values())


def test_stats_shows_usage_against_the_limit(mydocker):
    import subprocess
    import time
    # bounded by `timeout`: the container ends by itself even if this test cannot stop it
    proc = subprocess.Popen(mydocker.argv("run", "--rm", "--name", "busy", "-m", "64m", "busybox", "timeout", "20",
                                          "sh", "-c", "while true; do :; done"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while "busy" not in mydocker("ps").out:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        lines = mydocker("stats", "--no-stream").out.splitlines()
        assert lines[0].split()[:3] == ["CONTAINER", "ID", "NAME"]
        row = next(line for line in lines if " busy " in line).split()
        assert float(row[2].rstrip("%")) > 20  # a busy loop
        assert row[5] == "64MiB" and row[-1] == "2"  # timeout and its sh
    finally:
        mydocker("kill", "busy", rc=None)
        proc.wait(timeout=30)


def test_cgroup_parent_is_configurable(mydocker):
    out = mydocker("run", "--rm", "--network", "none", "--cgroup-parent", "/mydocker-parent-test",
                   "busybox", "grep", "memory", "/proc/self/cgroup").out
    assert ":memory:/mydocker-parent-test/" in out
    for hierarchy in os.listdir("/sys/fs/cgroup"):
        assert not os.path.exists(f"/sys/fs/cgroup/{hierarchy}/mydocker-parent-test")  # removed when empty
    r = mydocker("run", "--rm", "--cgroup-parent", "/a/../b", "busybox", "true", rc=125)
    assert "--cgroup-parent" in r.err


def test_prewarm_child_moves_itself_within_our_cgroup_and_exits_cleanly():
    """The attach-lock prewarm: a spawned shell writes itself into the cgroup it is already in, and
    again at each kick, until finish() (exit 0 only if the kernel took every write); we stay where we were."""
    from mydocker.runtime import prewarm
    with open("/proc/self/cgroup") as f:
        before = f.read()
    pid = prewarm.prewarm_attach_lock()
    assert pid, "no cgroup2 mount or no /bin/sh on this host"
    try:
        prewarm.kick()
        prewarm.kick()
        time.sleep(0.2)
        assert os.waitpid(pid, os.WNOHANG) == (0, 0)  # waiting for the next kick
    finally:
        prewarm.finish()
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    with open("/proc/self/cgroup") as f:
        assert f.read() == before


def test_prewarm_is_one_shell_per_process_until_finished_then_another():
    """One shell per process (the monitor's and an API worker's live as long as they do): a second
    call while it lives spawns none; after finish() (it exits 0) the next call spawns a new one."""
    from mydocker.runtime import prewarm
    first = prewarm.prewarm_attach_lock()
    assert first
    try:
        assert prewarm.prewarm_attach_lock() is None
    finally:
        prewarm.finish()
    assert os.waitstatus_to_exitcode(os.waitpid(first, 0)[1]) == 0
    second = prewarm.prewarm_attach_lock()
    assert second and second != first
    prewarm.finish()
    assert os.waitstatus_to_exitcode(os.waitpid(second, 0)[1]) == 0


def test_prewarm_parked_waits_for_its_first_kick():
    """Kept without a move (an API worker's, spawned while it waits for a request): it moves at the
    first kick, not before; kick() says whether a kept shell took it."""
    from mydocker.runtime import prewarm
    assert prewarm.kick() is False
    pid = prewarm.prewarm_attach_lock(move=False)
    assert pid
    try:
        time.sleep(0.2)
        assert _voluntary_switches(pid) == (before := _voluntary_switches(pid))  # asleep in read(2)
        assert prewarm.kick() is True
        deadline = time.monotonic() + 5
        while _voluntary_switches(pid) == before:
            assert time.monotonic() < deadline, "the parked shell did not wake at its kick"
            time.sleep(0.01)
        assert os.waitpid(pid, os.WNOHANG) == (0, 0)
    finally:
        prewarm.finish()
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


def _voluntary_switches(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("voluntary_ctxt_switches")).split()[1])


def test_a_process_killed_for_memory_while_the_main_one_survives_is_reported_as_such(mydocker):
    """The OOM killer ends `tail` (it keeps 200 MiB without a newline); the shell goes on and exits 0.
    run says what happened; inspect's OOMKilled is Docker's: the OOM killer killed a process of the
    container during its run (moby sets it on the cgroup's OOM event, whichever process it killed)."""
    r = mydocker("run", "--name", "child", "-m", "32m", "--memory-swap", "32m", "busybox",
                 "sh", "-c", "dd if=/dev/zero bs=1M count=200 | tail; echo survived")
    assert "survived" in r.out
    assert "mydocker: container was killed" not in r.err
    assert "mydocker: a process in the container was killed: out of memory (limit 32MiB)" in r.err
    state = mydocker("inspect", "--format", "{{.State.OOMKilled}} {{.State.ExitCode}}", "child").out.split()
    assert state == ["true", "0"]
    mydocker("rm", "child")


def test_oom_killed_main_process_is_recorded_for_inspect(mydocker):
    mydocker("run", "--name", "main", "-m", "16m", "--memory-swap", "16m", "busybox",
             "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1", rc=137)
    state = mydocker("inspect", "--format", "{{.State.OOMKilled}} {{.State.ExitCode}}", "main").out.split()
    assert state == ["true", "137"]
    mydocker("rm", "main")

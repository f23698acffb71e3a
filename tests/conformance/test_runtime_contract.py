"""The runc contract a shim relies on (docs/runtime-contract.md): the exit code and the key wording of
each verb on a missing, stopped, paused and running container, checked with the same code against runc
and mydocker-runtime. containerd's runc shim maps a failed kill to "not found" only on runc's words
("container not running", "does not exist"); anything else is an unknown error that wedges a pod."""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from tests.conformance.conftest import Runtime, own_objects

RUNTIMES = ("runc", "mydocker-runtime")


@pytest.fixture(params=RUNTIMES)
def rt(request, bindir, tmp_path):
    from mydocker.runtime.create import default_cgroups_path
    if request.param == "runc":
        exe = shutil.which("runc")
        if not exe:
            pytest.skip("runc is not installed (apt-get install runc): it is the reference here")
    else:
        exe = os.path.join(bindir, "mydocker-runtime")
    runtime = Runtime(exe, str(tmp_path / "mydocker-contract-root"))
    prefix = default_cgroups_path(runtime.root, "").strip("/")
    before = own_objects(tmp_path, prefix)
    yield runtime
    runtime.cleanup()
    leaked = own_objects(tmp_path, prefix) - before
    assert not leaked, f"left behind: {sorted(leaked)}"


@pytest.fixture
def make(rt, bundle, busybox_tree):
    """make(cid, args, start=True, pid_ns=True) -> cid: a container created (and started) by `rt`; the
    rootfs path is absolute (runc refuses a symlinked one) and the cgroup flat, named for the root."""
    from mydocker.runtime.create import default_cgroups_path

    def create(cid: str, args: list[str], start: bool = True, pid_ns: bool = True) -> str:
        def edit(c: dict) -> None:
            c["root"]["path"] = busybox_tree
            c["linux"]["cgroupsPath"] = default_cgroups_path(rt.root, cid)
            if not pid_ns:
                c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "pid"]
        rt("create", "--bundle", bundle(args, edit), cid)
        if start:
            rt("start", cid)
        return cid

    return create


def says(ran, words: str) -> None:
    assert words in ran.err, f"expected {words!r} in stderr\n{ran}"


def test_missing_container(rt):
    for verb in (["kill", "nosuch"], ["kill", "--all", "nosuch", "KILL"], ["delete", "nosuch"], ["state", "nosuch"],
                 ["events", "--stats", "nosuch"], ["update", "--pids-limit", "10", "nosuch"], ["ps", "nosuch"],
                 ["pause", "nosuch"], ["resume", "nosuch"], ["start", "nosuch"]):
        says(rt(*verb, rc=1), "does not exist")
    ran = rt("exec", "nosuch", "true", rc=255)  # runc's exec fails with -1
    says(ran, "exec failed")
    says(ran, "does not exist")
    rt("delete", "--force", "nosuch")  # shims force-delete blindly


def test_stopped_container(rt, make):
    cid = make("stopped", ["true"])
    rt.wait_status(cid, "stopped")
    for verb in (["kill", cid], ["kill", cid, "KILL"], ["kill", cid, "0"], ["update", "--pids-limit", "10", cid],
                 ["pause", cid]):
        says(rt(*verb, rc=1), "container not running")
    rt("kill", "--all", cid, "KILL")  # what containerd sends before it deletes an exited task
    says(rt("events", "--stats", cid, rc=1), "not running")
    says(rt("resume", cid, rc=1), "container not paused")
    says(rt("start", cid, rc=1), "cannot start a container that has stopped")
    says(rt("exec", cid, "true", rc=255), "cannot exec in a stopped container")
    assert not json.loads(rt("ps", "--format", "json", cid).out)  # runc: null; an empty list is as good
    assert rt.state(cid)["status"] == "stopped"
    rt("delete", cid)
    says(rt("state", cid, rc=1), "does not exist")


def test_kill_all_on_stopped_container_signals_what_is_left(rt, make):
    """Without its own PID namespace (a pod's containers share one) the init's children outlive it
    in its cgroup: `kill --all` must reach them, and exit 0."""
    from mydocker.runtime.create import default_cgroups_path
    cid = make("leftover", ["sh", "-c", "sleep 100 & exit 0"], pid_ns=False)
    rt.wait_status(cid, "stopped")
    procs = f"/sys/fs/cgroup/pids{default_cgroups_path(rt.root, cid)}/cgroup.procs"
    with open(procs) as f:
        assert f.read().split(), "the background sleep should still be in the container's cgroup"
    rt("kill", "--all", cid, "KILL")
    deadline = time.monotonic() + 5
    while open(procs).read().split():
        assert time.monotonic() < deadline, "kill --all left the sleep alive"
        time.sleep(0.02)
    rt("kill", "--all", cid, "KILL")  # nothing left: still 0
    rt("delete", cid)


def test_paused_container(rt, make):
    cid = make("paused", ["sleep", "100"])
    rt("pause", cid)
    assert rt.state(cid)["status"] == "paused"
    rt("kill", cid, "0")
    rt("update", "--pids-limit", "10", cid)
    rt("events", "--stats", cid)
    assert json.loads(rt("ps", "--format", "json", cid).out) == [rt.state(cid)["pid"]]
    says(rt("exec", cid, "true", rc=255), "cannot exec in a paused container")
    says(rt("pause", cid, rc=1), "container not running")
    says(rt("start", cid, rc=1), "cannot start a container in the paused state")
    says(rt("delete", cid, rc=1), f"cannot delete container {cid} that is not stopped")
    rt("resume", cid)
    rt("delete", "--force", cid)


def test_running_container(rt, make):
    cid = make("running", ["sleep", "100"])
    rt("kill", cid, "0")  # signal 0: is it there
    says(rt("delete", cid, rc=1), f"cannot delete container {cid} that is not stopped")
    says(rt("start", cid, rc=1), "cannot start an already running container")
    says(rt("resume", cid, rc=1), "container not paused")
    rt("kill", cid, "KILL")
    rt.wait_status(cid, "stopped")
    says(rt("kill", cid, rc=1), "container not running")
    rt("delete", cid)


def test_error_reaches_the_log_when_stderr_cannot_be_written(rt, tmp_path):
    """containerd's shim gives a container without stdio (a pod's pause) /dev/null opened read-only
    as the runtime's stdout and stderr, and reads the failure from the last error of --log."""
    import subprocess
    log = tmp_path / "log.json"
    with open(os.devnull) as read_only:
        proc = subprocess.run([rt.exe, "--root", rt.root, "--log", str(log), "--log-format", "json",
                               "kill", "nosuch", "9"],
                              stdin=subprocess.DEVNULL, stdout=read_only, stderr=read_only, timeout=30)
    assert proc.returncode == 1
    errors = [json.loads(line) for line in log.read_text().splitlines() if '"error"' in line]
    assert errors and "does not exist" in errors[-1]["msg"], log.read_text()

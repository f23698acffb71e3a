"""Runtime spec "Lifecycle", "Operations", "State" and the errors of operations in the wrong state,
through `mydocker-runtime`'s command line."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest


def test_state_follows_the_lifecycle(oci, bundle, tmp_path):
    b = bundle(["sleep", "30"])
    pid_file = tmp_path / "pid"
    oci("create", "--bundle", b, "--pid-file", str(pid_file), "life")
    state = oci.state("life")
    # config.md / runtime.md "State": these fields, with the spec's meanings.
    assert state["ociVersion"].startswith("1.")
    assert state["id"] == "life" and state["status"] == "created"
    assert state["bundle"] == b and state["pid"] > 0
    assert int(pid_file.read_text()) == state["pid"]
    os.kill(state["pid"], 0)  # the init exists while created
    with open(f"/proc/{state['pid']}/cmdline", "rb") as f:
        assert b"sleep" not in f.read()  # ...but the user's program has not started
    oci("start", "life")
    assert oci.state("life")["status"] == "running"
    os.kill(state["pid"], signal.SIGKILL)
    stopped = oci.wait_status("life", "stopped")
    assert stopped["pid"] == 0
    oci("delete", "life")
    err = oci("state", "life", rc=1).err
    assert "does not exist" in err and "\n" not in err.strip()


def test_start_runs_the_process_and_it_exits(oci, bundle):
    b = bundle(["true"])
    oci("create", "--bundle", b, "short")
    oci("start", "short")
    oci.wait_status("short", "stopped")
    oci("delete", "short")
    assert oci("list", "--format", "json").out.strip() == "null"


@pytest.mark.parametrize("op", [["start"], ["kill"], ["delete"], ["pause"], ["state"]])
def test_operations_on_a_missing_container_fail(oci, op):
    ran = oci(*op, "nosuch", rc=1)
    assert "nosuch" in ran.err and "does not exist" in ran.err


def test_forced_delete_of_a_missing_container_succeeds_quietly(oci):
    """runc's manner, which shims and the runtime-tools harness rely on when they clean up."""
    ran = oci("delete", "--force", "nosuch")
    assert ran.rc == 0 and ran.err == ""


def test_errors_for_operations_in_the_wrong_state(oci, bundle):
    b = bundle(["sleep", "30"])
    oci("create", "--bundle", b, "w")
    # create of an id in use: the spec requires an error and no change to the existing container
    assert "already exists" in oci("create", "--bundle", b, "w", rc=1).err
    assert oci.state("w")["status"] == "created"
    oci("start", "w")
    assert "already running" in oci("start", "w", rc=1).err      # start of a running container (runc's words)
    assert "running" in oci("delete", "w", rc=1).err             # delete of a running container
    oci("kill", "w", "KILL")
    oci.wait_status("w", "stopped")
    assert oci("kill", "w", "TERM", rc=1).rc == 1                 # kill of a stopped container
    assert oci("start", "w", rc=1).rc == 1                        # start of a stopped container
    oci("delete", "w")


def test_kill_sends_the_named_signal_to_the_init(oci, bundle, tmp_path):
    b = bundle(["sh", "-c", "trap 'echo got-usr1 > /tmp/sig; exit 3' USR1; while true; do sleep 0.05; done"],
               lambda c: c["mounts"].append({"destination": "/tmp", "type": "bind", "source": str(tmp_path),
                                             "options": ["rbind", "rw"]}))
    oci("create", "--bundle", b, "k")
    oci("start", "k")
    time.sleep(0.2)
    oci("kill", "k", "USR1")
    oci.wait_status("k", "stopped")
    assert (tmp_path / "sig").read_text().strip() == "got-usr1"
    oci("delete", "k")


def test_kill_all_reaches_every_process_and_delete_force_kills(oci, bundle):
    # Without a PID namespace the init's children survive its death: only --all reaches them.
    def no_pidns(c):
        c["linux"]["namespaces"] = [ns for ns in c["linux"]["namespaces"] if ns["type"] != "pid"]
    b = bundle(["sh", "-c", "sleep 60 & sleep 60 & wait"], no_pidns)
    oci("create", "--bundle", b, "all")
    oci("start", "all")
    time.sleep(0.2)
    pids = json.loads(oci("ps", "--format", "json", "all").out)
    assert len(pids) == 3
    oci("kill", "--all", "all", "KILL")
    deadline = time.monotonic() + 5
    while json.loads(oci("ps", "--format", "json", "all").out):
        assert time.monotonic() < deadline, "kill --all left processes"
        time.sleep(0.02)
    oci("delete", "all")

    oci("create", "--bundle", b, "force")
    oci("start", "force")
    oci("delete", "--force", "force")
    oci("state", "force", rc=1)


def test_delete_after_the_container_died_by_itself_removes_its_cgroups(oci, bundle):
    b = bundle(["true"])
    oci("create", "--bundle", b, "died")
    oci("start", "died")
    oci.wait_status("died", "stopped")
    with open(os.path.join(oci.root, "died", "state.json")) as f:
        paths = json.load(f)["cgroup_paths"]
    assert paths and all(os.path.isdir(p) for p in paths.values())
    oci("delete", "died")
    assert not any(os.path.exists(p) for p in paths.values())


def test_run_returns_the_exit_status_and_deletes(oci, bundle):
    assert oci("run", "--bundle", bundle(["sh", "-c", "exit 7"]), "r", rc=7).rc == 7
    oci("state", "r", rc=1)
    oci("run", "--detach", "--bundle", bundle(["sleep", "30"]), "rd")
    assert oci.state("rd")["status"] == "running"
    oci("delete", "--force", "rd")


def test_list_and_the_version(oci, bundle):
    b = bundle(["sleep", "30"])
    oci("create", "--bundle", b, "l1")
    listed = json.loads(oci("list", "--format", "json").out)
    assert [(s["id"], s["status"]) for s in listed] == [("l1", "created")]
    assert "l1" in oci("list", "-q").out
    assert "mydocker-runtime version" in oci("--version").out
    assert "spec: 1.0" in oci("--version").out


def test_errors_go_to_the_log_as_json_lines(oci, tmp_path):
    log = tmp_path / "log.json"
    oci("--log", str(log), "--log-format", "json", "start", "missing", rc=1)
    entry = json.loads(log.read_text().splitlines()[-1])
    assert entry["level"] == "error" and "missing" in entry["msg"] and entry["time"]


def test_pid_file_is_written_by_run_detached(oci, bundle, tmp_path):
    pid_file = tmp_path / "run.pid"
    oci("run", "-d", "--pid-file", str(pid_file), "--bundle", bundle(["sleep", "30"]), "p")
    assert int(pid_file.read_text()) == oci.state("p")["pid"]


def test_state_fast_path_prints_what_the_full_command_prints(oci, bundle, capsys):
    """`state` answers from entry.py without the flag parser; cli.main is the reference."""
    from mydocker.runtime import cli

    def full(cid: str) -> str:
        assert cli.main(["--root", oci.root, "state", cid]) == 0
        return capsys.readouterr().out

    b = bundle(["sleep", "30"], edit=lambda c: c.setdefault("annotations", {}).update({"k": "v"}))
    oci("create", "--bundle", b, "fast")
    seen = set()
    for step in ("created", "start", "kill"):
        if step == "start":
            oci("start", "fast")
        elif step == "kill":
            oci("kill", "fast", "KILL")
            oci.wait_status("fast", "stopped")
        fast = oci("--debug", "state", "fast").out  # a global flag after --root: still the fast path
        assert fast == full("fast")
        seen.add(json.loads(fast)["status"])
    assert seen == {"created", "running", "stopped"} and json.loads(fast)["annotations"] == {"k": "v"}
    oci("delete", "fast")


def test_state_fast_path_reads_a_view_larger_than_one_read(oci, bundle, capsys):
    from mydocker.runtime import cli
    big = "x" * 200_000  # annotations are the config's to choose: the view is then several reads long
    b = bundle(["sleep", "30"], edit=lambda c: c.setdefault("annotations", {}).update({"big": big}))
    oci("create", "--bundle", b, "bigview")
    fast = oci("state", "bigview").out
    assert cli.main(["--root", oci.root, "state", "bigview"]) == 0
    assert fast == capsys.readouterr().out and json.loads(fast)["annotations"]["big"] == big
    oci("delete", "--force", "bigview")

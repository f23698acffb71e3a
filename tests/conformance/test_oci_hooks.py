"""Runtime spec "POSIX-platform Hooks": each kind runs at its point of the lifecycle, in order, with
the container's state on stdin; a failing or timed-out hook fails the operation it belongs to."""

from __future__ import annotations

import json
import os
import stat


def hook_script(tmp_path, name: str, body: str = "") -> str:
    """A hook that appends `<name> <its stdin>` to tmp_path/log, then runs `body`."""
    path = tmp_path / f"hook-{name}"
    path.write_text(f"#!/bin/sh\necho \"{name} $(cat)\" >> {tmp_path}/log\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def log_entries(tmp_path) -> list[tuple[str, dict]]:
    entries = []
    for line in (tmp_path / "log").read_text().splitlines():
        name, _, state = line.partition(" ")
        entries.append((name, json.loads(state)))
    return entries


KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


def test_every_hook_runs_in_order_with_the_state_on_stdin(oci, bundle, tmp_path):
    def add_hooks(c):
        c["hooks"] = {kind: [{"path": hook_script(tmp_path, kind)}] for kind in KINDS}
        # startContainer runs inside the container: its path and log must resolve there too.
        c["mounts"].append({"destination": str(tmp_path), "type": "bind", "source": str(tmp_path),
                            "options": ["rbind", "rw"]})
    b = bundle(["true"], add_hooks)
    oci("create", "--bundle", b, "hooked")
    created = [name for name, _ in log_entries(tmp_path)]
    assert created == ["prestart", "createRuntime", "createContainer"]
    oci("start", "hooked")
    oci.wait_status("hooked", "stopped")
    oci("delete", "hooked")
    entries = log_entries(tmp_path)
    assert [name for name, _ in entries] == list(KINDS)
    pid = entries[0][1]["pid"]
    for name, state in entries:
        assert state["id"] == "hooked" and state["bundle"] == b and state["ociVersion"], name
        assert state["pid"] == pid, name
    statuses = dict((name, state["status"]) for name, state in entries)
    assert statuses["createRuntime"] == "creating" and statuses["poststop"] == "stopped"
    assert statuses["poststart"] == "running"


def test_hook_args_and_env_are_passed(oci, bundle, tmp_path):
    script = tmp_path / "argv-hook"
    script.write_text(f"#!/bin/sh\necho \"$# $1 $HOOKVAR\" > {tmp_path}/argv\n")
    script.chmod(0o755)
    b = bundle(["true"], lambda c: c.update(hooks={"createRuntime": [
        {"path": str(script), "args": ["named-zero", "first"], "env": ["HOOKVAR=value"]}]}))
    oci("run", "--bundle", b, "args")
    # args is the whole argv: args[0] is argv[0] (a script sees the kernel's), args[1:] its arguments
    assert (tmp_path / "argv").read_text().split() == ["1", "first", "value"]


def test_createContainer_hook_runs_in_the_container_namespaces(oci, bundle, tmp_path):
    script = tmp_path / "ns-hook"
    script.write_text(f"#!/bin/sh\nreadlink /proc/self/ns/uts /proc/self/ns/mnt > {tmp_path}/ns\n")
    script.chmod(0o755)
    b = bundle(["true"], lambda c: c.update(hooks={"createContainer": [{"path": str(script)}]}))
    oci("create", "--bundle", b, "nsh")
    pid = oci.state("nsh")["pid"]
    assert (tmp_path / "ns").read_text().split() == [os.readlink(f"/proc/{pid}/ns/uts"),
                                                     os.readlink(f"/proc/{pid}/ns/mnt")]


def test_failing_prestart_hook_fails_create_and_leaves_nothing(oci, bundle, tmp_path):
    b = bundle(["true"], lambda c: c.update(hooks={"prestart": [{"path": hook_script(tmp_path, "bad", "exit 3")}]}))
    err = oci("create", "--bundle", b, "bad", rc=1).err
    assert "prestart hook" in err and "status 3" in err
    oci("state", "bad", rc=1)


def test_failing_startContainer_hook_fails_run_and_leaves_nothing(oci, bundle, tmp_path):
    """`run` is create and start in one: when the start fails, nothing of the container stays (runc's
    run destroys it too), whether or not the init waited for the start on its exec fifo."""
    def add_hook(c):
        c["hooks"] = {"startContainer": [{"path": hook_script(tmp_path, "bad", "exit 3")}]}
        c["mounts"].append({"destination": str(tmp_path), "type": "bind", "source": str(tmp_path),
                            "options": ["rbind", "rw"]})  # the hook runs inside the container
    b = bundle(["true"], add_hook)
    for args in ([], ["--pid-file", str(tmp_path / "pid")]):  # the init passes its fifo at once, or waits
        ran = oci("run", *args, "--bundle", b, "badstart", rc=None)
        assert ran.rc != 0 and "startContainer hook" in ran.err, ran
        oci("state", "badstart", rc=1)


def test_hook_timeout_kills_it_and_fails_create(oci, bundle, tmp_path):
    b = bundle(["true"], lambda c: c.update(hooks={"createRuntime": [
        {"path": hook_script(tmp_path, "slow", "sleep 30"), "timeout": 1}]}))
    err = oci("create", "--bundle", b, "slow", rc=1, timeout=20).err
    assert "timed out" in err


def test_failing_poststart_and_poststop_hooks_only_warn(oci, bundle, tmp_path):
    failing = hook_script(tmp_path, "warn", "exit 1")
    b = bundle(["true"], lambda c: c.update(hooks={"poststart": [{"path": failing}], "poststop": [{"path": failing}]}))
    oci("create", "--bundle", b, "warn")
    assert "warning" in oci("start", "warn").err
    oci.wait_status("warn", "stopped")
    assert "warning" in oci("delete", "warn").err
    oci("state", "warn", rc=1)


def test_relative_hook_path_is_rejected_naming_the_field(oci, bundle):
    b = bundle(["true"], lambda c: c.update(hooks={"poststop": [{"path": "relative/hook"}]}))
    err = oci("create", "--bundle", b, "rel", rc=1).err
    assert "hooks.poststop[0].path" in err

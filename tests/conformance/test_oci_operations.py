"""runtime.md "Operations" as runtime-tools' kill and delete validations drive them: operations
without an id, kill of a created container, and delete of a created one (runc's behaviour)."""

from __future__ import annotations

import time

import pytest


def gone(pid: int, timeout: float = 5) -> bool:
    """Dead: no such process, or a zombie its parent (not us) has yet to reap."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


@pytest.mark.parametrize("op", ["state", "start", "kill", "delete"])
def test_an_operation_without_an_id_is_an_error(oci, op):
    ran = oci(op, rc=None)
    assert ran.rc != 0, ran
    assert ran.err.strip() and "\n" not in ran.err.strip(), ran
    assert "Traceback" not in ran.err


def test_kill_reaches_a_created_container(oci, bundle):
    """kill applies to `created` as to `running`: SIGKILL ends the init before the user's program ran."""
    oci("create", "--bundle", bundle(["sleep", "30"]), "kc")
    pid = oci.state("kc")["pid"]
    oci("kill", "kc", "KILL")
    state = oci.wait_status("kc", "stopped")
    assert state["pid"] == 0
    assert gone(pid)
    oci("delete", "kc")
    oci("state", "kc", rc=1)


def test_kill_with_an_unknown_signal_fails_and_changes_nothing(oci, bundle):
    oci("create", "--bundle", bundle(["sleep", "30"]), "ks")
    err = oci("kill", "ks", "SIGNOPE", rc=1).err.strip()
    assert "SIGNOPE" in err and "\n" not in err
    assert oci.state("ks")["status"] == "created"
    oci("delete", "--force", "ks")


def test_delete_of_a_created_container_removes_it_as_runc_does(oci, bundle):
    """The spec asks for an error here; runc (and so containerd's shim, which deletes a task that was
    never started) removes the container and kills its waiting init. mydocker-runtime follows runc."""
    oci("create", "--bundle", bundle(["sleep", "30"]), "dc")
    pid = oci.state("dc")["pid"]
    oci("delete", "dc")
    oci("state", "dc", rc=1)
    assert gone(pid)

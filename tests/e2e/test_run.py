"""`mydocker run` as a user runs it: the container's view of the system, exit codes, errors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import pytest


def test_echo(mydocker):
    assert mydocker("run", "--rm", "busybox", "echo", "hello").out == "hello\n"


def test_pid1_is_the_command_and_host_processes_are_invisible(mydocker):
    out = mydocker("run", "--rm", "busybox", "sh", "-c", "echo $$; ls /proc | grep -c '^[0-9]'").out.split()
    assert out[0] == "1"
    # the shell and the ls/grep it forked: nothing of the host's hundreds of processes
    assert int(out[1]) <= 4


def test_proc_shows_only_the_container(mydocker):
    out = mydocker("run", "--rm", "busybox", "ps", "-o", "pid,comm").out.splitlines()
    assert out[1].split() == ["1", "ps"]
    assert len(out) == 2


def test_hostname_is_the_containers_and_does_not_leak(mydocker):
    before = socket.gethostname()
    # Changing the hostname needs CAP_SYS_ADMIN, which Docker's default capabilities leave out.
    out = mydocker("run", "--rm", "--cap-add", "SYS_ADMIN", "--hostname", "inner", "busybox", "sh", "-c",
                   "hostname; hostname changed; hostname").out
    assert out.split() == ["inner", "changed"]
    assert socket.gethostname() == before


def test_default_hostname_is_the_short_id(mydocker):
    out = mydocker("run", "--rm", "busybox", "hostname").out.strip()
    assert len(out) == 12 and all(c in "0123456789abcdef" for c in out)


def test_rootfs_is_the_image(mydocker, tmp_path):
    marker = tmp_path / "host-only-file"
    marker.write_text("host")
    script = f"test -e {marker} && echo visible; cd /..; pwd; ls /; test -e /bin/busybox && echo image"
    out = mydocker("run", "--rm", "busybox", "sh", "-c", script).out.splitlines()
    assert "visible" not in out
    assert out[0] == "/"
    assert "image" in out
    # lib and lib64: the image's iputils ping and the glibc it needs (image/busybox.py)
    assert out[1:-1] == ["bin", "dev", "etc", "home", "lib", "lib64", "proc", "root", "sys", "tmp", "usr", "var"]


def test_env_cwd_user_applied(mydocker):
    out = mydocker("run", "--rm", "-e", "GREETING=hi", "-e", "EMPTY=", "-w", "/tmp", "-u", "nobody",
                   "busybox", "sh", "-c", 'echo "$GREETING"; echo "[$EMPTY]"; pwd; id -u; id -g; echo $HOME').out
    assert out.split("\n")[:6] == ["hi", "[]", "/tmp", "65534", "65534", "/home"]


def test_numeric_user_and_group(mydocker):
    assert mydocker("run", "--rm", "-u", "1000:1001", "busybox", "id").out.strip() == "uid=1000 gid=1001 groups=1001"


def test_env_from_host_when_no_value(mydocker, monkeypatch):
    monkeypatch.setenv("FROM_HOST", "yes")
    assert mydocker("run", "--rm", "-e", "FROM_HOST", "-e", "UNSET_ONE", "busybox", "sh", "-c",
                    'echo "$FROM_HOST${UNSET_ONE-unset}"').out == "yesunset\n"


@pytest.mark.parametrize("script,code", [("exit 0", 0), ("exit 7", 7), ("exit 255", 255)])
def test_exit_codes(mydocker, script, code):
    mydocker("run", "--rm", "busybox", "sh", "-c", script, rc=code)


def test_greeting_example_from_the_issue(mydocker):
    r = mydocker("run", "--rm", "-e", "GREETING=hi", "busybox", "sh", "-c", "echo $GREETING; exit 7", rc=7)
    assert r.out == "hi\n"


def test_command_not_found_is_127(mydocker):
    r = mydocker("run", "--rm", "busybox", "no-such-command", rc=127)
    assert "no-such-command" in r.err and "not found" in r.err


def test_command_not_executable_is_126(mydocker):
    r = mydocker("run", "--rm", "busybox", "/etc/passwd", rc=126)
    assert "/etc/passwd" in r.err
    mydocker("run", "--rm", "busybox", "/tmp", rc=126)


def test_killed_container_is_137(mydocker):
    # PID 1 ignores signals sent from inside its namespace, so kill it from the host, as `kill` would.
    proc = subprocess.Popen(mydocker.argv("run", "--rm", "busybox", "sleep", "60"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    state = wait_for_state(os.path.join(mydocker.runroot, "runtime"), "running")
    os.kill(state["pid"], signal.SIGKILL)
    assert proc.wait(timeout=30) == 137


def test_signals_to_run_are_forwarded(mydocker):
    proc = subprocess.Popen(mydocker.argv("run", "--rm", "busybox", "sh", "-c",
                                          "trap 'echo got-term; exit 3' TERM; while true; do sleep 0.1; done"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_state(os.path.join(mydocker.runroot, "runtime"), "running")
    time.sleep(0.3)  # let the shell install its trap
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert (proc.returncode, out) == (3, "got-term\n")


def wait_for_state(runtime_root: str, status: str, timeout: float = 20) -> dict:
    """The single container's runtime state once the runtime reports `status`."""
    from mydocker.runtime import state_file as st
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for cid in st.list_ids(runtime_root):
            try:
                current = st.oci_state(runtime_root, st.load(runtime_root, cid))
            except Exception:  # noqa: BLE001 - mid-write; try again
                continue
            if current["status"] == status:
                return current
        time.sleep(0.02)
    raise AssertionError(f"no container reached {status} in {runtime_root}")


def test_stdin_is_closed_without_i(mydocker):
    assert mydocker("run", "--rm", "busybox", "cat", input="ignored").out == ""


def test_stdin_passes_with_i(mydocker):
    assert mydocker("run", "--rm", "-i", "busybox", "cat", input="piped\n").out == "piped\n"


def test_stdout_and_stderr_stay_apart(mydocker):
    r = mydocker("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2")
    assert (r.out, r.err) == ("out\n", "err\n")


def test_container_without_rm_is_kept_but_unmounted(mydocker, no_leaks):
    mydocker("run", "--name", "kept", "busybox", "true")
    containers = os.path.join(mydocker.root, "containers")
    (cid,) = os.listdir(containers)
    assert os.path.exists(os.path.join(containers, cid, "config.json"))
    assert not os.path.ismount(os.path.join(containers, cid, "rootfs"))
    # the name stays taken, like Docker
    r = mydocker("run", "--name", "kept", "busybox", "true", rc=125)
    assert "already in use" in r.err


def test_a_container_run_with_rm_has_a_volatile_rootfs_and_a_kept_one_does_not(mydocker):
    """Issue 20 (as podman does for --rm): overlay's volatile option spares the unmount a sync of the
    whole filesystem under the writable layer; a kept container's layer stays durable."""
    def root_options(*run: str) -> str:  # the super options of / (6.x shows "fsync=volatile", 5.x "volatile")
        return mydocker("run", *run, "busybox", "head", "-1", "/proc/self/mountinfo").out.split(" - ")[1]
    assert "volatile" in root_options("--rm")
    assert "volatile" not in root_options("--name", "kept")
    mydocker("rm", "kept")
    # `create --rm` (the API's AutoRemove) too: the layer is mounted at create, volatile
    cid = mydocker("create", "--rm", "busybox", "true").out.strip()
    rootfs = os.path.join(mydocker.root, "containers", cid, "rootfs")
    with open("/proc/self/mountinfo") as f:
        assert [line for line in f if line.split()[4] == rootfs and "volatile" in line.split(" - ")[1]]
    mydocker("rm", cid)


def test_rm_leaves_nothing(mydocker):
    mydocker("run", "--rm", "busybox", "true")
    assert os.listdir(os.path.join(mydocker.root, "containers")) == []
    assert _emptied(os.path.join(mydocker.root, "trash"))  # its directory, moved there, goes a moment later
    # Only the runtime's cache of compiled seccomp programs (one per profile) stays, by design.
    assert os.listdir(os.path.join(mydocker.runroot, "runtime")) == [".seccomp-cache"]


def test_a_detached_rm_container_leaves_nothing_after_its_exit(mydocker):
    """The monitor's exit worker removes an AutoRemove container as a foreground `run --rm` does: its
    directory through the trash, emptied by a detached `rm` that the monitor reaps."""
    cid = mydocker("run", "-d", "--rm", "--network", "none", "busybox", "sh", "-c", "echo x > /f; exit 3").out.strip()
    deadline = time.monotonic() + 10
    while cid[:12] in mydocker("ps", "-aq").out and time.monotonic() < deadline:
        time.sleep(0.05)
    assert mydocker("ps", "-aq").out == ""
    assert os.listdir(os.path.join(mydocker.root, "containers")) == []
    assert _emptied(os.path.join(mydocker.root, "trash"))


def test_image_default_command_is_sh(mydocker):
    assert mydocker("run", "--rm", "-i", "busybox", input="echo from-sh\n").out == "from-sh\n"


def _emptied(directory: str, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while os.listdir(directory) and time.monotonic() < deadline:
        time.sleep(0.01)
    return os.listdir(directory) == []


def test_a_removal_cut_short_is_finished_by_the_next_run_rm(mydocker):
    """Issue 20: a foreground `run --rm` moves its container's directory into the root's trash and
    leaves it to an `rm` it does not wait for; whatever an earlier one left there (a crash, a
    reboot) goes with it."""
    leftover = os.path.join(mydocker.root, "trash", "f" * 64)
    os.makedirs(os.path.join(leftover, "upper", "etc"), mode=0o700)
    with open(os.path.join(leftover, "config.json"), "w") as f:
        f.write("{}")
    mydocker("run", "--rm", "--network", "none", "busybox", "true")
    assert _emptied(os.path.join(mydocker.root, "trash"))
    assert os.listdir(os.path.join(mydocker.root, "containers")) == []
    assert mydocker("ps", "-a", "-q").out == ""

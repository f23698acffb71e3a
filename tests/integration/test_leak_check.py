"""The session-wide leak check (tests/conftest.py nothing_left_after_the_run) on a host shared by several
pytest sessions: a session that ends while another session's test has its containers up must not
blame itself for them, and must still report what it left itself. Each case runs a real pytest session
with the check, next to this one (tests/e2e/test_health.py's mounts were once blamed that way)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO, root_names, sessions_tmp_root

_CONFTEST = f"""
import sys
sys.path.insert(0, {REPO!r})
from tests.conftest import nothing_left_after_the_run  # the check under test, in a session of its own
"""

_TEST = """
import os, subprocess, time

def test_meanwhile(tmp_path):
    if os.environ.get("LEAVE"):  # a mount of its own, left behind on purpose
        target = tmp_path / "mydocker-test" / "root" / "containers" / "mine" / "rootfs"
        target.mkdir(parents=True)
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(target)], check=True)
        open(os.environ["LEFT"], "w").write(str(target))
        (tmp_path / "mydocker-test" / "root" / "containers" / ("c2" * 32)).mkdir()
        os.makedirs("/sys/fs/cgroup/pids/mydocker/" + "c2" * 32)  # its container in the shared parent
    open(os.environ["READY"], "w").close()
    deadline = time.monotonic() + 60
    while not os.path.exists(os.environ["GO"]) and time.monotonic() < deadline:
        time.sleep(0.05)
"""


def _mount_tmpfs(target: str) -> None:
    os.makedirs(target)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", target], check=True)


def _session(tmp_path, leave: bool) -> subprocess.Popen:
    """A pytest session of one test that waits (after mounting a leftover of its own if `leave`)."""
    child = tmp_path / "session"
    child.mkdir()
    (child / "conftest.py").write_text(_CONFTEST)
    (child / "test_meanwhile.py").write_text(_TEST)
    env = {**os.environ, "READY": str(tmp_path / "ready"), "GO": str(tmp_path / "go"), "LEFT": str(tmp_path / "left"),
           "LEAVE": "1" if leave else ""}
    return subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(child)],
                            cwd=str(child),
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_ready(tmp_path, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while not (tmp_path / "ready").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
        time.sleep(0.05)


@pytest.fixture
def shared_tmp(tmp_path):
    if not str(tmp_path).startswith(os.path.join(sessions_tmp_root(), "")):
        pytest.skip("run with pytest's own base directory (no --basetemp): "
                    "the other session tells sessions apart by it")
    return tmp_path


def test_a_session_ending_while_another_runs_a_container_blames_nobody(shared_tmp):
    """Meanwhile another session's test (this one) mounts a rootfs and a netns and makes a cgroup and
    links named after its engine root, and a mydocker process of another checkout (a manual try, with
    its own --root) has a cgroup and links: none of them is that session's leak."""
    base = shared_tmp  # as the `roots` fixture: <tmp_path>/mydocker-test
    link, prefixes = root_names(str(base))
    other_root, other_runroot = f"/tmp/leakcheck-{os.getpid()}/root", f"/tmp/leakcheck-{os.getpid()}/run"
    other_link, other_prefixes = root_names("", other_root, os.path.join(other_runroot, "runtime"))
    rootfs = str(base / "mydocker-test" / "root" / "containers" / "c1" / "rootfs")
    netns = str(base / "mydocker-test" / "run" / "netns" / "c1")
    cgroups = [os.path.join("/sys/fs/cgroup/pids", f"{prefix}c1") for prefix in (prefixes[0], other_prefixes[0])]
    veths = [(f"{link}x", f"{link}y"), (f"{other_link}x", f"{other_link}y")]
    theirs = "c1" * 32  # a container of someone else's in the shared parent cgroup
    other = subprocess.Popen(["sh", "-c", "sleep 60", "mydocker", "--root", other_root, "--runroot", other_runroot])
    proc = _session(shared_tmp, leave=False)
    made = []
    try:
        _wait_ready(shared_tmp, proc)
        for target in (rootfs, netns):
            _mount_tmpfs(target)
            made.append(target)
        for cgroup in cgroups:
            os.mkdir(cgroup)
        os.makedirs(f"/sys/fs/cgroup/pids/mydocker/{theirs}")
        for a, b in veths:
            subprocess.run(["ip", "link", "add", a, "type", "veth", "peer", "name", b], check=True)
        (shared_tmp / "go").touch()
        out = proc.communicate(timeout=60)[0]
    finally:
        proc.kill()
        other.kill()
        other.wait()
        for target in made:
            subprocess.run(["umount", target], check=True)
        for cgroup in cgroups:
            if os.path.isdir(cgroup):
                os.rmdir(cgroup)
        _remove_shared_child(theirs)
        for a, _ in veths:
            subprocess.run(["ip", "link", "del", a], capture_output=True)
    assert proc.returncode == 0, out


def test_a_session_still_reports_its_own_leftover(shared_tmp):
    proc = _session(shared_tmp, leave=True)
    try:
        _wait_ready(shared_tmp, proc)
        (shared_tmp / "go").touch()
        out = proc.communicate(timeout=60)[0]
    finally:
        proc.kill()
        left = shared_tmp / "left"
        if left.exists():
            subprocess.run(["umount", left.read_text()], check=True)
        _remove_shared_child("c2" * 32)
    assert proc.returncode != 0 and "the test run left behind: {'mount': [" in out and "/mine/rootfs" in out, out
    assert "'/sys/fs/cgroup/pids/mydocker/" + "c2" * 32 + "'" in out, out


def _remove_shared_child(name: str) -> None:
    """Remove pids/mydocker/<name>, and the shared parent if that was its last child (as the runtime prunes)."""
    for path in (f"/sys/fs/cgroup/pids/mydocker/{name}", "/sys/fs/cgroup/pids/mydocker"):
        try:
            os.rmdir(path)
        except OSError:  # gone, or the parent still has others' containers
            return

"""`mydocker run --userns remap`: root in the container is uid 100000 on the host, the image's files
shifted so they still belong to root inside."""

from __future__ import annotations

import os
import pathlib
import shutil
import stat
import tempfile
import time

import pytest

HOST_BASE = 100000


@pytest.fixture
def engine_base(request, tmp_path):
    """A test that asks for `reachable_tmp` gets its engine roots there, else under pytest's tmp_path."""
    if "reachable_tmp" in request.fixturenames:
        return request.getfixturevalue("reachable_tmp")
    return tmp_path


@pytest.fixture
def reachable_tmp():
    """A directory the remapped root can walk down to (Docker requires o+x on the engine root's
    ancestors too), for the engine roots and host files: right under /tmp. Not pytest's tmp_path:
    its /tmp/pytest-of-root is 0700, and every pytest session that starts on the host makes it 0700
    again (and restoring the mode after a test did the same), so opening it for a test raced with
    the other sessions of a shared host: the remapped init could not reach its rootfs any more."""
    base = pathlib.Path(tempfile.mkdtemp(prefix="mydocker-remap-"))
    os.chmod(base, 0o711)
    yield base
    with open("/proc/self/mountinfo") as f:
        mounted = any(line.split()[4].startswith(f"{base}/") for line in f)
    if not mounted:  # a leaked mount is no_leaks' to report, not ours to delete through
        shutil.rmtree(base, ignore_errors=True)


def _status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def test_root_inside_is_uid_0_and_the_image_is_owned_by_it(mydocker, reachable_tmp):
    out = mydocker("run", "--rm", "--userns", "remap", "--network", "none", "busybox", "sh", "-c",
                   "id -u; cat /proc/self/uid_map; cat /proc/self/gid_map; stat -c %u:%g /bin/busybox /etc").out
    lines = out.splitlines()
    assert lines[0] == "0"
    assert lines[1].split() == ["0", str(HOST_BASE), "65536"]
    assert lines[2].split() == ["0", str(HOST_BASE), "65536"]
    assert lines[3:] == ["0:0", "0:0"], out
    # the shifted copies live under the engine's image store, owned by the mapped ids on the host
    shifted = os.path.join(mydocker.root, "image", "shifted", str(HOST_BASE), "layers")
    layers = os.listdir(shifted)
    assert layers and all(os.stat(os.path.join(shifted, layer)).st_uid == HOST_BASE for layer in layers)


def test_custom_range_and_host_default(mydocker, reachable_tmp):
    out = mydocker("run", "--rm", "--userns", "remap:200000:70000", "--network", "none", "busybox",
                   "cat", "/proc/self/uid_map").out
    assert out.split() == ["0", "200000", "70000"]
    out = mydocker("run", "--rm", "--userns", "host", "--network", "none", "busybox", "cat", "/proc/self/uid_map").out
    assert out.split() == ["0", "0", "4294967295"]


def test_pid1_runs_unprivileged_on_the_host_and_writes_as_it(mydocker, reachable_tmp):
    cid = mydocker("run", "-d", "--userns", "remap", "busybox", "sh", "-c",
                   "touch /made-in-root /tmp/made-in-tmp && sleep 1000").out.strip()
    try:
        pid = int(mydocker("inspect", "--format", "{{.State.Pid}}", cid).out)
        status = _status(pid)
        assert status["Uid"].split() == [str(HOST_BASE)] * 4
        assert status["Gid"].split() == [str(HOST_BASE)] * 4
        assert os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")
        upper = os.path.join(mydocker.root, "containers", cid, "upper")
        made = [os.path.join(upper, "made-in-root"), os.path.join(upper, "tmp", "made-in-tmp")]
        deadline = time.monotonic() + 10
        while not all(os.path.exists(p) for p in made) and time.monotonic() < deadline:
            time.sleep(0.05)
        for path in made:
            st = os.stat(path)
            assert (st.st_uid, st.st_gid) == (HOST_BASE, HOST_BASE), path
    finally:
        mydocker("rm", "-f", cid)


def test_root_inside_cannot_write_a_root_owned_host_file(mydocker, reachable_tmp):
    host_file = reachable_tmp / "host-owned"
    host_file.write_text("original\n")
    os.chmod(host_file, 0o644)
    os.chown(host_file, 0, 0)
    result = mydocker("run", "--rm", "--userns", "remap", "--network", "none", "-v", f"{host_file}:/f",
                      "busybox", "sh", "-c", "cat /f; echo x >> /f; echo rc=$?; rm /f; echo rm=$?")
    assert "original" in result.out and "rc=1" in result.out, result
    assert host_file.read_text() == "original\n"
    # without --userns the container's root can write it: the test can tell the difference
    mydocker("run", "--rm", "--network", "none", "-v", f"{host_file}:/f", "busybox", "sh", "-c", "echo x >> /f")
    assert host_file.read_text() == "original\nx\n"


@pytest.mark.parametrize("value", ["bogus", "remap:", "remap:100000", "remap:x:65536", "remap:100000:0",
                                   "remap:0:65536", "remap:4294967000:65536"])
def test_bad_userns_value_is_one_line_error(mydocker, value):
    result = mydocker("run", "--rm", "--userns", value, "busybox", "true", rc=125)
    assert len(result.err.strip().splitlines()) == 1, result
    assert "--userns" in result.err and "remap" in result.err
    assert mydocker("ps", "-a", "-q").out.strip() == ""


def test_unreachable_engine_root_is_one_line_error(mydocker):
    """pytest's 0700 tmp dirs above the engine root block the remapped root: said, as Docker says it."""
    if all(os.stat(p).st_mode & stat.S_IXOTH for p in _ancestors(mydocker.root)):
        pytest.skip("the engine root is reachable by every uid here")
    result = mydocker("run", "--rm", "--userns", "remap", "--network", "none", "busybox", "true", rc=125)
    assert len(result.err.strip().splitlines()) == 1 and "chmod o+x" in result.err, result
    assert mydocker("ps", "-a", "-q").out.strip() == ""


def _ancestors(path: str) -> list[str]:
    out = []
    while path != "/":
        path = os.path.dirname(path)
        out.append(path)
    return out


SYS_VIEW = ("ls /sys/class/net | tr '\\n' ' '; echo; "
            "awk '$5 == \"/sys\"' /proc/self/mountinfo | sed 's/.* - //' | cut -d' ' -f1; "
            "awk '$5 ~ \"^/sys/fs/cgroup\" && $6 !~ /^ro(,|$)/ {print \"rw:\" $5}' /proc/self/mountinfo")


def test_remapped_container_on_a_network_has_its_own_sysfs(mydocker, reachable_tmp):
    """The engine's netns belongs to the container's user namespace, so the container mounts its own
    sysfs: only its own interfaces in /sys/class/net, not the host's; its cgroup view is read-only.
    Again after a stop and start (the netns is made again, in the same pinned user namespace)."""
    from tests.e2e.test_network_cli import free_subnet
    mydocker("network", "create", "--subnet", free_subnet(), "remapnet")
    try:
        out = mydocker("run", "--rm", "--userns", "remap", "--network", "remapnet", "busybox", "sh", "-c", SYS_VIEW).out
        assert out.splitlines() == ["eth0 lo ", "sysfs"], out
        mydocker("run", "-d", "--name", "remapped", "--userns", "remap", "--network", "remapnet", "busybox", "sleep",
                 "60")
        mydocker("stop", "-t", "0", "remapped")
        mydocker("start", "remapped")
        assert mydocker("exec", "remapped", "sh", "-c", SYS_VIEW).out.splitlines() == ["eth0 lo ", "sysfs"]
        assert mydocker("exec", "remapped", "id", "-u").out == "0\n"
    finally:
        mydocker("rm", "-f", "remapped", rc=None)
        mydocker("network", "rm", "remapnet", rc=None)
    assert not os.listdir(os.path.join(mydocker.runroot, "userns"))


def test_remapped_container_with_the_host_network_gets_a_read_only_sys(mydocker, reachable_tmp):
    """--network host: no sysfs of its own can be mounted; the host's /sys is bound read-only
    through and through (its cgroup and other submounts too)."""
    script = "awk '$5 ~ \"^/sys(/|$)\" && $6 !~ /^ro(,|$)/ {print \"rw:\" $5}' /proc/self/mountinfo; echo end"
    out = mydocker("run", "--rm", "--userns", "remap", "--network", "host", "busybox", "sh", "-c", script).out
    assert out == "end\n", out

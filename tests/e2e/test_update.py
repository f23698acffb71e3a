"""`update` (mydocker's CLI, and POST /containers/{id}/update for `docker update`): new limits reach
a running container's cgroups and stay for its next start; the restart policy changes; bad input is
refused with nothing changed."""

from __future__ import annotations

import shutil

import pytest

from tests.e2e.test_api_service import each_cli, service  # noqa: F401 - the fixture


def _cgroup_file(pid: int, controller: str, name: str) -> str:
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if controller in controllers.split(","):
                with open(f"/sys/fs/cgroup/{controller}{path}/{name}") as g:
                    return g.read().strip()
    raise AssertionError(f"no {controller} cgroup for {pid}")


def test_update_reaches_the_running_cgroups_and_the_next_start(mydocker):
    mydocker("run", "-d", "--name", "up", "--network", "none", "busybox", "sleep", "300")
    try:
        assert mydocker("update", "-m", "64m", "--pids-limit", "50", "--cpu-shares", "512", "--restart", "always",
                        "up").out == "up\n"
        pid = int(mydocker("inspect", "-f", "{{.State.Pid}}", "up").out)
        assert _cgroup_file(pid, "memory", "memory.limit_in_bytes") == str(64 << 20)
        assert _cgroup_file(pid, "pids", "pids.max") == "50"
        assert _cgroup_file(pid, "cpu", "cpu.shares") == "512"
        fields = ("{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.CpuShares}} "
                  "{{.HostConfig.RestartPolicy.Name}}")
        assert mydocker("inspect", "-f", fields, "up").out == f"{64 << 20} 50 512 always\n"
        mydocker("stop", "-t", "0", "up")
        mydocker("start", "up")
        pid = int(mydocker("inspect", "-f", "{{.State.Pid}}", "up").out)
        assert _cgroup_file(pid, "memory", "memory.limit_in_bytes") == str(64 << 20)  # kept for later starts
        # refused whole, nothing changed
        assert "invalid restart policy" in mydocker("update", "-m", "32m", "--restart", "sometimes", "up", rc=1).err
        assert _cgroup_file(pid, "memory", "memory.limit_in_bytes") == str(64 << 20)
    finally:
        mydocker("rm", "-f", "up", rc=None)


def test_update_leaves_an_absent_limit_alone_and_lifts_the_pids_limit_with_minus_one(mydocker):
    mydocker("run", "-d", "--name", "pids", "--network", "none", "--pids-limit", "50", "busybox", "sleep", "300")
    try:
        pid = int(mydocker("inspect", "-f", "{{.State.Pid}}", "pids").out)
        mydocker("update", "-m", "64m", "pids")  # no --pids-limit: not the run default (2048), the one it has
        assert _cgroup_file(pid, "pids", "pids.max") == "50"
        mydocker("update", "--pids-limit", "-1", "pids")
        assert _cgroup_file(pid, "pids", "pids.max") == "max"
    finally:
        mydocker("rm", "-f", "pids", rc=None)


def test_update_of_a_missing_container_and_an_auto_removed_one(mydocker):
    done = mydocker("update", "-m", "32m", "missing", rc=1)
    assert len(done.err.strip().splitlines()) == 1 and "missing" in done.err
    mydocker("run", "-d", "--rm", "--name", "gone", "--network", "none", "busybox", "sleep", "300")
    try:
        assert "AutoRemove" in mydocker("update", "--restart", "always", "gone", rc=1).err
    finally:
        mydocker("rm", "-f", "gone", rc=None)


@pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker CLI on PATH")
@each_cli
def test_docker_update_through_the_service(service, mydocker):
    service.docker("run", "-d", "--name", "dup", "--network", "none", "busybox", "sleep", "300")
    try:
        service.docker("update", "--memory", "48m", "--memory-swap", "96m", "--restart", "on-failure:3", "dup")
        out = service.docker("inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}} "
                             "{{.HostConfig.RestartPolicy.MaximumRetryCount}}", "dup").stdout
        assert out == f"{48 << 20} on-failure 3\n"
        pid = int(service.docker("inspect", "-f", "{{.State.Pid}}", "dup").stdout)
        assert _cgroup_file(pid, "memory", "memory.limit_in_bytes") == str(48 << 20)
        assert service.docker("update", "--memory", "48m", "nosuch", rc=1).returncode == 1
    finally:
        service.docker("rm", "-f", "dup", rc=None)

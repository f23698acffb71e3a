"""pause/unpause through `mydocker system service` (the docker CLI) and the mydocker CLI: the freezer
stops the processes for real, and stop, kill and rm -f of a paused container work as Docker's do."""

from __future__ import annotations

import shutil
import time

import pytest

from tests.e2e.test_api_service import each_cli, service  # noqa: F401 - the fixture

pytestmark = pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker CLI on PATH")


def _ticks(mydocker_or_service, name: str) -> int:
    out = mydocker_or_service.docker("logs", name).stdout
    return len(out.split())


@each_cli
def test_docker_pause_freezes_and_unpause_thaws(service, mydocker):
    service.docker("run", "-d", "--name", "ticker", "busybox", "sh", "-c", "while :; do echo t; sleep 0.05; done")
    time.sleep(0.3)
    service.docker("pause", "ticker")
    assert service.docker("inspect", "-f", "{{.State.Status}} {{.State.Paused}} {{.State.Running}}",
                          "ticker").stdout == "paused true true\n"
    assert "(Paused)" in service.docker("ps", "--format", "{{.Status}}").stdout
    frozen = _ticks(service, "ticker")
    time.sleep(0.5)
    assert _ticks(service, "ticker") == frozen  # nothing ran while frozen
    assert "already paused" in service.docker("pause", "ticker", rc=1).stderr
    assert "unpause" in service.docker("start", "ticker", rc=1).stderr  # Docker: try unpause instead
    assert "paused" in mydocker("exec", "ticker", "true", rc=1).err
    assert "sleep" in service.docker("top", "ticker").stdout
    service.docker("unpause", "ticker")
    deadline = time.monotonic() + 10
    while _ticks(service, "ticker") == frozen and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _ticks(service, "ticker") > frozen
    assert "not paused" in service.docker("unpause", "ticker", rc=1).stderr
    # stop of a paused container: signalled, then thawed so that it can act on the signal
    service.docker("pause", "ticker")
    service.docker("stop", "-t", "5", "ticker")
    assert service.docker("inspect", "-f", "{{.State.Status}}", "ticker").stdout == "exited\n"
    assert "not running" in service.docker("pause", "ticker", rc=1).stderr


def test_kill_and_rm_f_of_a_paused_container(service, mydocker):
    service.docker("run", "-d", "--name", "pa", "busybox", "sleep", "300")
    service.docker("run", "-d", "--name", "pb", "busybox", "sleep", "300")
    mydocker("pause", "pa", "pb")
    assert mydocker("ps", "--format", "{{.Names}} {{.Status}}").out.count("(Paused)") == 2
    service.docker("kill", "pa")
    assert service.docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "pa").stdout == "exited 137\n"
    assert "stop it first" in service.docker("rm", "pb", rc=1).stderr
    service.docker("rm", "-f", "pb")
    assert "pb" not in mydocker("ps", "-a", "--format", "{{.Names}}").out.split()
    mydocker("start", "pa")
    mydocker("pause", "pa")
    mydocker("unpause", "pa")
    assert mydocker("inspect", "-f", "{{.State.Status}}", "pa").out == "running\n"

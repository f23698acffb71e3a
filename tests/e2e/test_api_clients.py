"""What the other test_api_* files do not cover, with each docker CLI (the CLI 28 and Debian's docker.io
20.10 client, which negotiates API 1.41): containers on a user network reaching each other by name and
by alias, a healthcheck turning healthy then unhealthy, container and system prune."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from tests.e2e.test_api_service import each_cli, service  # noqa: F401 - fixture
from tests.e2e.test_network_cli import HTTPD, free_subnet, net, no_leaks  # noqa: F401 - fixtures

pytestmark = pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker CLI on PATH")


@each_cli
def test_the_client_negotiates_its_api_version(service):
    asked = service.docker("version", "--format", "{{.Client.APIVersion}}").stdout.strip()
    assert asked == ("1.41" if service.cli.startswith("/usr/bin/") else "1.50")
    assert service.docker("version", "--format", "{{.Server.APIVersion}}").stdout.strip() == "1.50"


@each_cli
def test_containers_reach_each_other_by_name_and_alias(net, service):  # noqa: F811
    service.docker("network", "create", "--subnet", free_subnet(), "reach")
    service.docker("run", "-d", "--name", "web", "--network", "reach", "--network-alias", "www", "busybox",
                   "sh", "-c", HTTPD)
    service.docker("run", "-d", "--name", "other", "busybox", "sleep", "300")
    service.docker("network", "connect", "--alias", "side", "reach", "other")
    fetch = "for i in $(seq 25); do wget -qO- http://$0/ && break; sleep 0.2; done"
    for name in ("web", "www"):
        out = service.docker("run", "--rm", "--network", "reach", "busybox", "sh", "-c", fetch, name).stdout
        assert out.startswith("hello from"), (name, out)
    for name in ("other", "side"):  # joined by `network connect`, reached by its name and its alias
        service.docker("exec", "web", "ping", "-c", "1", "-W", "2", name)
    aliases = json.loads(service.docker("inspect", "web").stdout)[0]["NetworkSettings"]["Networks"]["reach"]["Aliases"]
    assert "www" in aliases


def _health(service, name: str) -> str:
    return service.docker("inspect", "-f", "{{.State.Health.Status}}", name).stdout.strip()


@each_cli
def test_a_healthcheck_turns_healthy_then_unhealthy(service):
    service.docker("run", "-d", "--name", "hc", "--health-cmd", "test -e /tmp/ready", "--health-interval", "200ms",
                   "--health-retries", "2", "busybox", "sh", "-c", "touch /tmp/ready; exec sleep 300")
    deadline = time.monotonic() + 30
    while _health(service, "hc") != "healthy" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _health(service, "hc") == "healthy"
    assert service.docker("ps", "--format", "{{.Status}}", "-f", "name=hc").stdout.strip().endswith("(healthy)")
    assert service.docker("ps", "-q", "-f", "health=healthy").stdout.strip()
    service.docker("exec", "hc", "rm", "/tmp/ready")
    deadline = time.monotonic() + 30
    while _health(service, "hc") != "unhealthy" and time.monotonic() < deadline:
        time.sleep(0.1)
    health = json.loads(service.docker("inspect", "hc").stdout)[0]["State"]["Health"]
    assert health["Status"] == "unhealthy" and health["FailingStreak"] >= 2 and health["Log"][-1]["ExitCode"] == 1
    assert service.docker("ps", "--format", "{{.Status}}", "-f", "name=hc").stdout.strip().endswith("(unhealthy)")


@each_cli
def test_container_and_system_prune(service, mydocker, tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo step > /step\n")
    service.docker("build", "-t", "stepped", str(tmp_path), timeout=180)
    assert "Using cache" in service.docker("build", "-t", "stepped", str(tmp_path), timeout=180).stdout
    service.docker("run", "--name", "gone1", "busybox", "true")
    service.docker("create", "--name", "gone2", "busybox", "true")
    service.docker("run", "-d", "--name", "kept", "busybox", "sleep", "300")
    out = service.docker("container", "prune", "-f").stdout
    assert "Deleted Containers:" in out and "Total reclaimed space:" in out
    assert mydocker("ps", "-a", "--format", "{{.Names}}").out == "kept\n"
    service.docker("stop", "-t", "0", "kept")
    out = service.docker("system", "prune", "-f").stdout
    assert "Deleted build cache objects:" in out and "Total reclaimed space:" in out
    assert mydocker("ps", "-aq").out == ""
    assert "busybox" in service.docker("images", "--format", "{{.Repository}}").stdout  # tagged: kept
    # the build cache is forgotten: the step runs again
    assert "Using cache" not in service.docker("build", "-t", "stepped", str(tmp_path), timeout=180).stdout

"""Docker semantics the clients see through `mydocker system service` and the mydocker CLI: a
`network connect` that outlives restarts, the pre-defined networks, the events of images, networks and
volumes, image filters, `system df -v`, `docker cp` from a stopped container's volume."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from tests.e2e.test_api_service import service  # noqa: F401 - fixture
from tests.e2e.test_network_cli import free_subnet, net, no_leaks  # noqa: F401 - fixtures

pytestmark = pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker CLI on PATH")


def _networks(service, name: str) -> dict[str, str]:
    doc = json.loads(service.docker("inspect", name).stdout)[0]
    return {k: v["IPAddress"] for k, v in doc["NetworkSettings"]["Networks"].items()}


def _reaches(service, source: str, address: str) -> bool:
    return service.docker("exec", source, "ping", "-c", "1", "-W", "2", address, rc=None).returncode == 0


def test_a_connected_network_stays_after_restart_and_stop_start(net, service):  # noqa: F811
    service.docker("network", "create", "--subnet", free_subnet(), "second")
    service.docker("run", "-d", "--name", "peer", "--network", "second", "busybox", "sleep", "300")
    service.docker("run", "-d", "--name", "multi", "busybox", "sleep", "300")
    service.docker("network", "connect", "--alias", "again", "second", "multi")
    assert set(_networks(service, "multi")) == {"bridge", "second"}
    service.docker("restart", "-t", "0", "multi")
    after = _networks(service, "multi")
    assert set(after) == {"bridge", "second"} and after["second"], after
    assert _reaches(service, "peer", after["second"]) and _reaches(service, "peer", "again")
    service.docker("stop", "-t", "0", "multi")
    service.docker("start", "multi")
    after = _networks(service, "multi")
    assert set(after) == {"bridge", "second"} and after["second"], after
    assert _reaches(service, "peer", after["second"])
    # disconnected: gone for good, also after the next start
    service.docker("network", "disconnect", "second", "multi")
    service.docker("restart", "-t", "0", "multi")
    assert set(_networks(service, "multi")) == {"bridge"}
    # a stopped container is connected too (Docker joins it at its next start), with the mydocker CLI
    service.docker("stop", "-t", "0", "multi")
    net("network", "connect", "second", "multi")
    net("start", "multi")
    assert set(_networks(service, "multi")) == {"bridge", "second"}

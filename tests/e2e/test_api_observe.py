"""GET /containers/{id}/stats, top, changes and export through `mydocker system service`, with the
real docker CLI (stats --no-stream, top, diff, export) and docker-py."""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import time

import pytest

from tests.e2e.test_api_service import each_cli, service  # noqa: F401 - the fixture

pytestmark = pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker CLI on PATH")


@each_cli
def test_docker_stats_no_stream_shows_sane_numbers(service):
    service.docker("run", "-d", "--name", "busy", "--memory", "64m", "busybox", "sh", "-c",
                   "while :; do :; done")
    out = service.docker("stats", "--no-stream", "--format",
                         "{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.PIDs}}|{{.NetIO}}").stdout.strip()
    name, cpu, mem, pids, net = out.split("|")
    assert name == "busy" and pids == "1"
    assert 1.0 < float(cpu.rstrip("%")) <= 100.0 * os.cpu_count(), out  # a busy loop (2 cores shared by many: not 100)
    assert mem.endswith("/ 64MiB"), out
    status, body = service.request("GET", "/containers/busy/stats?stream=false")
    doc = json.loads(body)
    assert status == 200
    assert doc["cpu_stats"]["cpu_usage"]["total_usage"] > doc["precpu_stats"]["cpu_usage"]["total_usage"] > 0
    assert doc["cpu_stats"]["online_cpus"] >= 1 and doc["cpu_stats"]["system_cpu_usage"] > 0
    assert doc["memory_stats"]["limit"] == 64 * 1024 * 1024 and doc["pids_stats"]["current"] == 1
    assert "eth0" in doc["networks"] and "blkio_stats" in doc
    status, body = service.request("GET", "/containers/nope/stats?stream=false")
    assert status == 404


def test_docker_py_stats_stream_and_top(service):
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=f"unix://{service.sock}")
    try:
        box = client.containers.run("busybox", "sleep 300", detach=True, name="pybox")
        stream = box.stats(stream=True, decode=True)
        first, second = next(stream), next(stream)
        assert second["precpu_stats"]["cpu_usage"]["total_usage"] == first["cpu_stats"]["cpu_usage"]["total_usage"]
        stream.close()
        one = box.stats(stream=False, one_shot=True)
        assert one["pids_stats"]["current"] == 1
        top = box.top()
        assert "PID" in top["Titles"] and any("sleep 300" in p[-1] for p in top["Processes"])
        top = box.top(ps_args="-o pid,comm")
        assert top["Titles"] == ["PID", "COMMAND"] and top["Processes"][0][1] == "sleep"
    finally:
        client.close()


@each_cli
def test_docker_diff_and_export(service, tmp_path):
    service.docker("run", "-d", "--name", "box", "busybox", "sh", "-c",
                   "echo x > /new; rm /bin/ls; mkdir /tmp/d; exec sleep 300")
    wanted = {"A /new", "D /bin/ls", "C /bin", "C /tmp", "A /tmp/d"}
    deadline = time.monotonic() + 10
    while (not wanted <= set((diff := service.docker("diff", "box").stdout).splitlines())
           and time.monotonic() < deadline):
        time.sleep(0.1)
    assert set(diff.splitlines()) == wanted, diff  # the runtime's /etc/hostname and friends are left out
    service.docker("export", "-o", str(tmp_path / "box.tar"), "box")
    with tarfile.open(tmp_path / "box.tar") as tar:
        names = tar.getnames()
        assert "new" in names and "bin/ls" not in names and "bin/sh" in names
        assert tar.extractfile("new").read() == b"x\n"
    status, body = service.request("GET", "/containers/box/changes")
    assert status == 200 and {"Path": "/new", "Kind": 1} in json.loads(body)
    status, _ = service.request("GET", "/containers/nope/export")
    assert status == 404

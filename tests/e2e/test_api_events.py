"""GET /events through `mydocker system service`: the engine's event log, streamed to the docker CLI
(`docker events`, with filters and since/until) and docker-py, for verbs made by both CLIs."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from urllib.parse import quote

import pytest

from tests.e2e.test_api_service import each_cli, service  # noqa: F401 - the fixture

pytestmark = pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker CLI on PATH")


@each_cli
def test_docker_events_streams_and_replays_with_filters(service, mydocker):
    start = time.time()
    fmt = "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}"
    follower = subprocess.Popen([service.cli, "events", "--filter", "container=ev2", "--format", fmt],
                                env=service.env, stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)  # the stream is open before anything happens
        service.docker("run", "--name", "ev1", "busybox", "sh", "-c", "exit 3", rc=3)
        service.docker("run", "-d", "--name", "ev2", "busybox", "sleep", "300")
        service.docker("pause", "ev2")
        mydocker("unpause", "ev2")  # the mydocker CLI writes to the same log
        service.docker("rm", "-f", "ev1", "ev2")
        deadline = time.monotonic() + 15
        seen: list[str] = []
        while "container destroy ev2" not in seen and time.monotonic() < deadline:
            seen.append(follower.stdout.readline().strip())
    finally:
        follower.kill()
        follower.wait()
    assert seen == ["container create ev2", "container start ev2", "container pause ev2", "container unpause ev2",
                    "container kill ev2", "container die ev2", "container destroy ev2"], seen
    until = time.time() + 0.5
    time.sleep(0.6)
    past = service.docker("events", "--since", f"{start:.3f}", "--until", f"{until:.3f}", "--filter", "event=die",
                          "--format", "{{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}").stdout
    assert past.splitlines() == ["ev1 3", "ev2 137"]
    status, body = service.request("GET", f"/events?since={start:.0f}&until={until:.3f}&filters="
                                           + quote(json.dumps({"type": ["container"], "event": ["create"]})))
    docs = [json.loads(line) for line in body.decode().splitlines() if line.startswith("{")]
    assert status == 200 and [d["Actor"]["Attributes"]["name"] for d in docs] == ["ev1", "ev2"]
    assert docs[0]["status"] == "create" and docs[0]["from"] == "busybox" and docs[0]["timeNano"] > start * 1e9
    status, body = service.request("GET", "/events?until=1&filters=" + quote(json.dumps({"bogus": ["x"]})))
    assert status == 400 and b"bogus" in body


def test_docker_py_events(service):
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=f"unix://{service.sock}")
    try:
        since = int(time.time()) - 1
        client.containers.run("busybox", "true", name="pyev", remove=True)
        until = int(time.time()) + 1
        time.sleep(1.1)
        actions = [e["Action"] for e in client.events(since=since, until=until, decode=True,
                                                        filters={"container": "pyev"})]
        assert actions[:3] == ["create", "start", "die"] and actions[-1] == "destroy", actions
    finally:
        client.close()


def test_a_client_that_leaves_a_quiet_stream_frees_its_worker(service):
    """Nothing happens, so nothing is written: the worker notices the closed connection by itself."""
    def children() -> set[str]:
        found = subprocess.run(["pgrep", "-P", str(service.proc.pid)], capture_output=True, text=True)
        return set(found.stdout.split())

    deadline = time.monotonic() + 5
    while len(spares := children()) < 3 and time.monotonic() < deadline:  # the workers forked ahead of connections
        time.sleep(0.05)
    follower = subprocess.Popen(["docker", "events"], env=service.env, stdout=subprocess.DEVNULL)
    time.sleep(1.0)
    assert spares <= children() and children() - spares  # a spare serves the stream; a new one was forked
    follower.kill()
    follower.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and spares <= children():
        time.sleep(0.05)
    assert len(spares & children()) == len(spares) - 1  # the stream's worker went; the other spares wait


@each_cli
def test_docker_system_df_counts_images_containers_and_volumes(service, mydocker):
    mydocker("volume", "create", "dfvol")
    service.docker("run", "-d", "--name", "dfbox", "-v", "dfvol:/data", "busybox", "sh", "-c",
                   "dd if=/dev/zero of=/data/f bs=1k count=300 && dd if=/dev/zero of=/big bs=1k count=200 "
                   "&& touch /done && exec sleep 300")
    deadline = time.monotonic() + 10
    while mydocker("exec", "dfbox", "test", "-e", "/done", rc=None).rc != 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    out = service.docker("system", "df", "--format", "{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}").stdout
    rows = {line.split("|")[0]: line.split("|")[1:] for line in out.splitlines()}
    assert rows["Images"][:2] == ["1", "1"] and rows["Images"][2].endswith("MB")
    assert rows["Containers"][:2] == ["1", "1"] and rows["Containers"][2].startswith("20")  # ~204.8kB written
    assert rows["Local Volumes"][:2] == ["1", "1"] and rows["Local Volumes"][2].startswith("30")  # ~307.2kB
    status, body = service.request("GET", "/system/df")
    doc = json.loads(body)
    assert status == 200 and doc["LayersSize"] > 0 and doc["BuildCache"] == []
    assert doc["Volumes"][0]["UsageData"]["RefCount"] == 1 and doc["Containers"][0]["SizeRw"] >= 200 * 1024
    service.docker("rm", "-f", "dfbox")
    mydocker("volume", "rm", "dfvol")


def test_mydocker_events_and_system_df(mydocker):
    since = time.time()
    mydocker("run", "--rm", "--name", "clievents", "busybox", "sh", "-c", "exit 2", rc=2)
    until = time.time() + 0.2
    time.sleep(0.3)
    out = mydocker("events", "--since", f"{since:.3f}", "--until", f"{until:.3f}", "-f", "type=container", "--format",
                   "{{.Action}} {{.Actor.Attributes.name}}").out  # the network's connect and disconnect left out
    assert out.splitlines() == ["create clievents", "start clievents", "die clievents", "destroy clievents"]
    out = mydocker("system", "events", "--since", f"{since:.3f}", "--until", f"{until:.3f}", "-f", "event=die").out
    assert "container die" in out and "exitCode=2" in out and len(out.splitlines()) == 1
    assert "invalid filter 'bogus'" in mydocker("events", "-f", "bogus=1", "--until", "1", rc=1).err
    table = mydocker("system", "df").out.splitlines()
    assert table[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert table[1].split()[:3] == ["Images", "1", "0"] and table[2].split()[:3] == ["Containers", "0", "0"]


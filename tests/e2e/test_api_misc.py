"""Docker semantics the clients see through `mydocker system service` and the mydocker CLI: a
`network connect` that outlives restarts, the pre-defined networks, the events of images, networks and
volumes, image filters, `system df -v`, `docker cp` from a stopped container's volume."""

from __future__ import annotations

import json
import os
import shutil
import socket
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
    assert _networks(service, "multi") == {"bridge": "", "second": ""}  # Docker lists them, without addresses
    net("start", "multi")
    assert set(_networks(service, "multi")) == {"bridge", "second"}


def test_links_on_a_user_network_show_in_the_endpoint_settings(net, service):  # noqa: F811
    service.docker("network", "create", "--subnet", free_subnet(), "linked")
    service.docker("run", "-d", "--name", "target", "--network", "linked", "busybox", "sleep", "60")
    service.docker("run", "-d", "--name", "linker", "--network", "linked", "--link", "target:db", "busybox",
                   "sleep", "60")
    doc = json.loads(service.docker("inspect", "linker").stdout)[0]
    # Docker: HostConfig.Links holds the default bridge's legacy links only; a user network's are the endpoint's
    assert doc["HostConfig"]["Links"] is None
    assert doc["NetworkSettings"]["Networks"]["linked"]["Links"] == ["target:db"]
    assert json.loads(service.docker("inspect", "target").stdout)[0]["NetworkSettings"]["Networks"]["linked"][
        "Links"] is None
    assert service.docker("exec", "linker", "ping", "-c", "1", "-W", "2", "db", rc=None).returncode == 0


def test_the_predefined_networks_are_always_listed_and_never_removed(net, service):  # noqa: F811
    ls = service.docker("network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}").stdout.splitlines()
    assert sorted(ls) == ["bridge bridge local", "host host local", "none null local"]
    assert sorted(line.split()[1:3] for line in net("network", "ls").out.splitlines()[1:]) == \
        [["bridge", "bridge"], ["host", "host"], ["none", "null"]]
    docs = json.loads(service.docker("network", "inspect", "bridge", "host", "none").stdout)
    assert [(d["Name"], d["Driver"], d["Scope"]) for d in docs] == \
        [("bridge", "bridge", "local"), ("host", "host", "local"), ("none", "null", "local")]
    ids = {d["Name"]: d["Id"] for d in docs}
    assert json.loads(service.docker("network", "inspect", ids["host"][:12]).stdout)[0]["Name"] == "host"
    # the default bridge keeps its id when it is made on first use
    cid = service.docker("run", "-d", "--network", "host", "busybox", "sleep", "60").stdout.strip()
    service.docker("run", "-d", "--name", "onbridge", "busybox", "sleep", "60")
    assert json.loads(service.docker("network", "inspect", "bridge").stdout)[0]["Id"] == ids["bridge"]
    assert list(json.loads(service.docker("network", "inspect", "host").stdout)[0]["Containers"]) == [cid]
    for name in ("bridge", "host", "none"):
        refused = service.docker("network", "rm", name, rc=1)
        assert f"{name} is a pre-defined network and cannot be removed" in refused.stderr
        assert f"{name} is a pre-defined network and cannot be removed" in net("network", "rm", name, rc=1).err
    status, _body = service.request("DELETE", f"/networks/{ids['host']}")
    assert status == 403
    builtin = service.docker("network", "ls", "-f", "type=builtin", "--format", "{{.Name}}").stdout.split()
    assert sorted(builtin) == ["bridge", "host", "none"]
    assert service.docker("network", "ls", "-f", "driver=null", "-q").stdout.split() == [ids["none"][:12]]


def _events(service, since: float, until: float, *filters: str) -> list[str]:
    args = [a for f in filters for a in ("--filter", f)]
    return service.docker("events", "--since", f"{since:.6f}", "--until", f"{until:.6f}", *args, "--format",
                          "{{.Type}} {{.Action}} {{or .Actor.Attributes.name .Actor.ID}}").stdout.splitlines()


def test_events_of_images_networks_and_volumes(net, service, tmp_path):  # noqa: F811
    since = time.time()
    service.docker("tag", "busybox", "evimg:1")
    service.docker("network", "create", "--subnet", free_subnet(), "evnet")
    service.docker("volume", "create", "evvol")
    service.docker("run", "--rm", "--name", "evbox", "--network", "evnet", "-v", "evvol:/data", "busybox", "true")
    net("rmi", "evimg:1")  # the mydocker CLI writes to the same log
    service.docker("save", "-o", str(tmp_path / "bb.tar"), "busybox")
    service.docker("load", "-i", str(tmp_path / "bb.tar"))
    service.docker("import", "-c", "LABEL team=ev", str(tmp_path / "bb.tar"), "evimp:1")
    service.docker("rmi", "evimp:1")
    service.docker("network", "rm", "evnet")
    service.docker("volume", "rm", "evvol")
    until = time.time() + 0.2
    time.sleep(0.3)
    images = _events(service, since, until, "type=image")
    assert [line.split()[1] for line in images] == ["tag", "untag", "save", "load", "tag", "import", "untag",
                                                    "delete"], images
    assert images[0] == "image tag evimg:1" and images[4] == "image tag evimp:1"
    assert _events(service, since, until, "type=network") == [
        "network create evnet", "network connect evnet", "network disconnect evnet", "network destroy evnet"]
    assert _events(service, since, until, "type=volume") == [
        "volume create evvol", "volume mount evvol", "volume unmount evvol", "volume destroy evvol"]
    # Docker's order around a container's start and exit
    assert _events(service, since, until, "event=start", "event=connect", "event=mount", "event=die",
                   "event=unmount", "event=disconnect", "event=destroy") == [
        "network connect evnet", "volume mount evvol", "container start evbox", "container die evbox",
        "volume unmount evvol", "network disconnect evnet", "container destroy evbox", "network destroy evnet",
        "volume destroy evvol"]
    # the filters of each kind: by name (a prefix), the image by name without its tag, by label, by event
    assert _events(service, since, until, "network=evn", "event=connect") == ["network connect evnet"]
    assert [e.split()[1] for e in _events(service, since, until, "volume=evvol")] == ["create", "mount", "unmount",
                                                                                      "destroy"]
    assert _events(service, since, until, "image=evimg") == ["image tag evimg:1"]
    assert [e.split()[1] for e in _events(service, since, until, "type=image", "label=team=ev")] == ["tag", "import",
                                                                                                    "untag"]
    detail = json.loads(service.docker("events", "--since", f"{since:.6f}", "--until", f"{until:.6f}", "--filter",
                                       "event=mount", "--format", "{{json .}}").stdout)
    assert detail["Actor"]["ID"] == "evvol" and detail["Actor"]["Attributes"]["destination"] == "/data"
    assert detail["Actor"]["Attributes"]["read/write"] == "true" and detail["Actor"]["Attributes"]["driver"] == "local"
    assert _events(service, since, until, "type=volume", "volume=nosuch") == []
    # the mydocker CLI reads them the same way
    out = net("events", "--since", f"{since:.6f}", "--until", f"{until:.6f}", "-f", "type=network", "--format",
              "{{.Action}}").out
    assert out.split() == ["create", "connect", "disconnect", "destroy"]
    # docker-py
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=f"unix://{service.sock}")
    try:
        docs = list(client.events(since=since, until=until, decode=True, filters={"type": "volume", "event": "create"}))
    finally:
        client.close()
    assert [(d["Type"], d["Action"], d["Actor"]["ID"]) for d in docs] == [("volume", "create", "evvol")]


def test_image_filters_dangling_before_since_and_reference_patterns(service, mydocker, tmp_path):
    service.docker("save", "-o", str(tmp_path / "bb.tar"), "busybox")
    for name in ("old:1", "mid:1", None):  # three images, a second apart (Created has whole seconds)
        time.sleep(1.05)
        mydocker("import", str(tmp_path / "bb.tar"), *([name] if name else []))
    images = lambda *f: service.docker("images", *[a for x in f for a in ("-f", x)], "--format",  # noqa: E731
                                       "{{.Repository}}:{{.Tag}}").stdout.split()
    mine = lambda *f: mydocker("images", *[a for x in f for a in ("-f", x)], "--format",  # noqa: E731
                               "{{.Repository}}:{{.Tag}}").out.split()
    for ask in (images, mine):
        assert ask("dangling=true") == ["<none>:<none>"]
        assert sorted(ask("dangling=false")) == ["busybox:latest", "mid:1", "old:1"]
        assert sorted(ask("before=mid:1")) == ["busybox:latest", "old:1"]
        assert ask("since=mid:1") == ["<none>:<none>"]
        assert ask("since=old:1", "dangling=false") == ["mid:1"]
        assert sorted(ask("reference=*:1")) == ["mid:1", "old:1"]
        assert ask("reference=m?d") == ["mid:1"] and ask("reference=busy*") == ["busybox:latest"]
    mid = json.loads(service.docker("image", "inspect", "mid:1").stdout)[0]["Id"]
    assert service.docker("images", "-q", "m*").stdout.split() == [mid.split(":")[1][:12]]
    assert "invalid filter 'bogus'" in service.docker("images", "-f", "bogus=1", rc=1).stderr


def test_system_df_verbose_shared_size_and_local_volumes(service, mydocker, tmp_path):
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text("FROM busybox\nRUN echo hi > /hi\n")
    service.docker("build", "-q", "-t", "child:1", str(tmp_path / "ctx"))
    service.docker("run", "-d", "--name", "dfv", "-v", "dfvol:/data", "-v", f"{tmp_path}:/host", "busybox",
                   "sleep", "60")
    out = service.docker("system", "df", "-v", "--format", "{{json .}}").stdout
    doc = json.loads(out)
    images = {i["Repository"]: i for i in doc["Images"]}
    base = json.loads(service.docker("image", "inspect", "busybox").stdout)[0]["Size"]
    assert images["busybox"]["SharedSize"] == images["child"]["SharedSize"] != "0B", images
    status, body = service.request("GET", "/system/df")
    api = json.loads(body)
    shared = {i["RepoTags"][0]: i["SharedSize"] for i in api["Images"]}
    assert shared == {"busybox:latest": base, "child:1": base}  # the busybox layer, in both
    sizes = {i["RepoTags"][0]: i["Size"] for i in api["Images"]}
    assert api["LayersSize"] == sizes["child:1"]  # the shared layer counted once
    assert [c["LocalVolumes"] for c in doc["Containers"]] == ["1"]  # the bind is not a local volume
    assert api["BuildCache"] == []  # the classic builder's cache is its intermediate images, as Docker's
    service.docker("rm", "-f", "dfv")
    mydocker("volume", "rm", "dfvol")


def test_cp_from_and_to_a_stopped_container_sees_its_volumes_and_binds(service, mydocker, tmp_path):
    (tmp_path / "bound").mkdir()
    (tmp_path / "bound" / "b.txt").write_text("bound\n")
    service.docker("run", "-d", "--name", "cpstop", "-v", "cpvol:/data", "-v", f"{tmp_path / 'bound'}:/ro:ro",
                   "busybox", "sh", "-c", "echo in-volume > /data/f && touch /done && exec sleep 300")
    deadline = time.monotonic() + 10
    while mydocker("exec", "cpstop", "test", "-e", "/done", rc=None).rc != 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    service.docker("stop", "-t", "0", "cpstop")
    service.docker("cp", "cpstop:/data/f", str(tmp_path / "out"))
    assert (tmp_path / "out").read_text() == "in-volume\n"
    mydocker("cp", "cpstop:/ro/b.txt", str(tmp_path / "b-out"))
    assert (tmp_path / "b-out").read_text() == "bound\n"
    (tmp_path / "new").write_text("copied in\n")
    service.docker("cp", str(tmp_path / "new"), "cpstop:/data/")  # into the volume, not the rootfs under it
    volume = json.loads(service.docker("volume", "inspect", "cpvol").stdout)[0]["Mountpoint"]
    assert sorted(os.listdir(volume)) == ["f", "new"]
    assert service.docker("cp", str(tmp_path / "new"), "cpstop:/ro/", rc=1).returncode == 1  # read-only there too
    assert not os.path.exists(tmp_path / "bound" / "new")
    with open("/proc/self/mountinfo") as f:  # nothing stays mounted after the copies
        assert mydocker.root not in f.read()
    service.docker("start", "cpstop")
    assert service.docker("exec", "cpstop", "cat", "/data/new").stdout == "copied in\n"
    service.docker("rm", "-f", "cpstop")
    mydocker("volume", "rm", "cpvol")


def _pty(service, *argv: str):
    pexpect = pytest.importorskip("pexpect")
    return pexpect.spawn(argv[0], list(argv[1:]), encoding="utf-8", timeout=20, dimensions=(30, 100),
                         env=service.env)


def _detach(child, keys: str) -> int:
    import pexpect
    time.sleep(0.3)  # the shell is at its prompt, reading
    child.send(keys)
    child.expect(pexpect.EOF, timeout=10)
    child.close()
    return child.exitstatus


def _running(service, name: str) -> bool:
    return service.docker("inspect", "-f", "{{.State.Running}}", name).stdout.strip() == "true"


def _exec_detaches(service, *argv: str) -> None:
    """An exec'd shell of container dt, detached from with ctrl-p ctrl-q, runs on."""
    child = _pty(service, *argv)
    child.expect("# ")
    child.sendline("echo $$ > /exec.pid")
    child.expect("# ")
    assert _detach(child, "\x10\x11") == 1 and "read escape sequence" in child.before  # docker's CLI says so
    time.sleep(0.5)
    assert service.docker("exec", "dt", "sh", "-c", "kill -0 $(cat /exec.pid) && echo alive").stdout == "alive\n"


def test_detach_keys_leave_the_container_and_the_exec_running(service, mydocker):
    child = _pty(service, "docker", "run", "-it", "--name", "dt", "busybox", "sh")
    child.expect("# ")
    assert _detach(child, "\x10\x11") == 0 and _running(service, "dt")  # ctrl-p ctrl-q, Docker's default
    child = _pty(service, "docker", "attach", "--detach-keys", "ctrl-x,x", "dt")
    child.sendline("echo at$((6*7))")
    child.expect("at42")
    assert _detach(child, "\x18x") == 1 and "read escape sequence" in child.before and _running(service, "dt")
    # an exec's shell runs on after its client detached
    _exec_detaches(service, "docker", "exec", "-it", "dt", "sh")
    # the mydocker CLI: attach (default and other keys) and exec -it
    child = _pty(service, *mydocker.argv("attach", "dt"))
    child.sendline("echo mine$((6*7))")
    child.expect("mine42")
    assert _detach(child, "\x10\x11") == 1 and "read escape sequence" in child.before and _running(service, "dt")
    child = _pty(service, *mydocker.argv("attach", "--detach-keys", "ctrl-@,a", "dt"))
    child.sendline("echo again")
    child.expect("again")
    assert _detach(child, "\x00a") == 1 and _running(service, "dt")
    _exec_detaches(service, *mydocker.argv("exec", "-it", "dt", "sh"))
    # mydocker run -it: its supervisor outlives the detach, records the exit and tears down as ever
    child = _pty(service, *mydocker.argv("run", "-it", "--name", "mine", "--detach-keys", "ctrl-x,x", "busybox",
                                         "sh", "-c", "trap 'exit 7' TERM; while :; do read line; echo got $line; done"))
    child.sendline("one")
    child.expect("got one")
    assert _detach(child, "\x18x") == 0 and _running(service, "mine")
    mydocker("stop", "-t", "5", "mine")
    assert mydocker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "mine").out == "exited 7\n"
    mydocker("rm", "mine")
    bad = mydocker("attach", "--detach-keys", "ctrl-1", "dt", rc=1)  # the docker CLI: 1 outside run/create
    assert "Invalid detach keys (ctrl-1)" in bad.err
    service.docker("rm", "-f", "dt")


def test_the_api_attach_detaches_on_its_detach_keys(service):
    service.docker("run", "-di", "--name", "cat", "busybox", "cat")  # no tty: the service reads the keys
    status, body = service.request("POST", "/containers/cat/attach?stream=1&stdin=1&stdout=1&detachKeys=ctrl-1")
    assert status == 400 and "Invalid detach keys" in json.loads(body)["message"]
    for query, keys in (("&detachKeys=ctrl-x,x", b"\x18x"), ("", b"\x10\x11")):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(service.sock)
        s.sendall(f"POST /containers/cat/attach?stream=1&stdin=1&stdout=1{query} HTTP/1.1\r\nHost: d\r\n"
                  "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(4096)
        assert data.startswith(b"HTTP/1.1 101")
        s.sendall(b"hello\n")
        while b"hello" not in data:
            data += s.recv(4096)
        s.sendall(keys + b"after\n")
        deadline = time.monotonic() + 10
        while (chunk := s.recv(4096)) and time.monotonic() < deadline:
            data += chunk
        s.close()
        assert chunk == b"" and b"after" not in data.partition(b"hello")[2]  # the stream ended, the rest kept back
        assert _running(service, "cat")
    service.docker("rm", "-f", "cat")


def test_push_and_pull_events(service, tmp_path, monkeypatch):
    from tests.registry import Registry, need_registry
    need_registry()
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "engine-config"))  # the engine's credentials: not root's
    registry = Registry(str(tmp_path))
    try:
        name = f"{registry.host}/team/ev:1"
        service.docker("tag", "busybox", name)
        since = time.time()
        service.docker("push", name, timeout=180)
        service.docker("rmi", name)
        service.docker("pull", name, timeout=180)
        until = time.time() + 0.2
        time.sleep(0.3)
    finally:
        registry.stop()
    out = service.docker("events", "--since", f"{since:.6f}", "--until", f"{until:.6f}", "--filter", "type=image",
                         "--format", "{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}").stdout.splitlines()
    assert out[0] == f"push {name} {registry.host}/team/ev" and out[-1] == f"pull {name} {registry.host}/team/ev", out
    assert [line.split()[0] for line in out] == ["push", "untag", "pull"]

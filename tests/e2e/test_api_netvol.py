"""The API's networks and volumes, and user networks from container create, driven by the real clients:
the docker CLI 28, docker-py and Debian's docker-compose 1.29 against `mydocker system service`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest

from tests.e2e.test_api_service import each_cli, service  # noqa: F401 - fixture
from tests.e2e.test_network_cli import HTTPD, free_port, free_subnet, http_get, net, no_leaks  # noqa: F401 - fixtures

pytestmark = pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker CLI on PATH")


def _message(body: bytes) -> str:
    return json.loads(body)["message"]


@each_cli
def test_network_endpoints_with_the_docker_cli(net, service):  # noqa: F811
    subnet = free_subnet()
    service.docker("network", "create", "--label", "team=a", "--subnet", subnet, "one")
    service.docker("network", "create", "two")
    dup = service.docker("network", "create", "one", rc=1)
    assert "network with name one already exists" in dup.stderr
    ls = lambda *f: service.docker("network", "ls", "--format", "{{.Name}}", *f).stdout.split()  # noqa: E731
    assert ls("-f", "label=team=a") == ["one"]
    assert ls("-f", "label=team=b") == [] and ls("-f", "name=tw") == ["two"]
    assert set(ls("-f", "driver=bridge")) >= {"one", "two"}
    doc = json.loads(service.docker("network", "inspect", "one").stdout)[0]
    assert (doc["Name"], doc["Scope"], doc["Driver"], doc["Internal"], doc["EnableIPv6"]) == \
        ("one", "local", "bridge", False, False)
    assert doc["IPAM"]["Config"] == [{"Subnet": subnet, "Gateway": subnet.rsplit(".", 1)[0] + ".1"}]
    assert doc["Labels"] == {"team": "a"} and doc["Options"] == {} and len(doc["Id"]) == 64
    # containers join, are listed, connect and disconnect
    cid = service.docker("run", "-d", "--name", "c1", "--network", "one", "busybox", "sleep", "60").stdout.strip()
    members = json.loads(service.docker("network", "inspect", "one").stdout)[0]["Containers"]
    assert list(members) == [cid] and members[cid]["Name"] == "c1"
    assert members[cid]["IPv4Address"].startswith(subnet.rsplit(".", 1)[0] + ".")
    service.docker("network", "connect", "--alias", "extra", "two", "c1")
    nets = json.loads(service.docker("inspect", "c1").stdout)[0]["NetworkSettings"]["Networks"]
    # API < 1.44 (the 20.10 client's 1.41): Docker puts the short id among the aliases too
    short = [] if service.cli == "docker" else [cid[:12]]
    assert set(nets) == {"one", "two"} and nets["two"]["Aliases"] == [*short, "extra"]
    service.docker("network", "disconnect", "two", "c1")
    assert set(json.loads(service.docker("inspect", "c1").stdout)[0]["NetworkSettings"]["Networks"]) == {"one"}
    # Docker's statuses: a pre-defined network 403, a missing one 404
    refused = service.docker("network", "rm", "bridge", rc=1)
    assert "bridge is a pre-defined network and cannot be removed" in refused.stderr
    status, body = service.request("DELETE", "/v1.50/networks/none")
    assert status == 403
    status, body = service.request("GET", "/v1.50/networks/nosuch")
    assert (status, _message(body)) == (404, "network nosuch not found")
    status, body = service.request("POST", "/v1.50/networks/create", b'{"Name": "x1", "EnableIPv6": true}')
    assert status == 501 and "EnableIPv6" in _message(body)
    # prune with a label filter removes the unused networks that match, nothing else
    service.docker("rm", "-f", "c1")
    assert "one" in service.docker("network", "prune", "-f", "--filter", "label=team=a").stdout
    assert ls("-f", "name=one") == ["none"] and ls("-f", "name=two") == ["two"]  # a substring, as Docker's
    service.docker("network", "rm", "two")


@each_cli
def test_volume_endpoints_with_the_docker_cli(net, service):  # noqa: F811
    service.docker("volume", "create", "--label", "a=1", "v1")
    service.docker("volume", "create", "v2")
    ls = lambda *f: service.docker("volume", "ls", "-q", *f).stdout.split()  # noqa: E731
    assert ls() == ["v1", "v2"] and ls("-f", "label=a=1") == ["v1"] and ls("-f", "label=a") == ["v1"]
    assert ls("-f", "name=v2") == ["v2"]
    service.docker("run", "-d", "--name", "user", "-v", "v1:/data", "busybox", "sleep", "60")
    assert ls("-f", "dangling=true") == ["v2"] and ls("-f", "dangling=false") == ["v1"]
    doc = json.loads(service.docker("volume", "inspect", "v1").stdout)[0]
    assert set(doc) == {"CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"}
    assert (doc["Name"], doc["Driver"], doc["Labels"], doc["Scope"]) == ("v1", "local", {"a": "1"}, "local")
    busy = service.docker("volume", "rm", "v1", rc=1)
    assert "remove v1: volume is in use - [user]" in busy.stderr
    assert service.request("DELETE", "/v1.50/volumes/v1")[0] == 409
    assert "no such volume" in service.docker("volume", "rm", "nosuch", rc=1).stderr.lower()  # 20.10: "No such"
    service.docker("volume", "rm", "-f", "nosuch")  # force: a missing volume is no error
    status, body = service.request("POST", "/v1.50/volumes/create", b'{"Name": "v3", "DriverOpts": {"type": "nfs"}}')
    assert status == 501 and "type" in _message(body) and "v3" not in ls()
    status, body = service.request("GET", "/v1.50/volumes?filters=" + '{"dangling":["maybe"]}'.replace('"', "%22"))
    assert status == 400
    # docker-py's shapes, and an anonymous name when none is given
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=f"unix://{service.sock}")
    try:
        made = client.volumes.create(labels={"b": "2"})
        assert len(made.name) == 64 and made.attrs["Labels"] == {"b": "2"}
        assert [v.name for v in client.volumes.list(filters={"label": "b=2"})] == [made.name]
        made.remove()
    finally:
        client.close()
    # prune: named volumes only with all=true, and only those the label filter matches
    service.docker("rm", "-f", "user")
    if service.cli == "docker":
        assert service.docker("volume", "prune", "-f").stdout.count("v1") == 0
        pruned = service.docker("volume", "prune", "-a", "-f", "--filter", "label=a=1").stdout
    else:  # API < 1.42 (no -a): named volumes are pruned too, as dockerd does for such a client
        pruned = service.docker("volume", "prune", "-f", "--filter", "label=a=1").stdout
    assert "v1" in pruned and "v2" not in pruned and ls() == ["v2"]
    service.docker("volume", "rm", "v2")


def test_containers_on_a_user_network_reach_each_other_by_name_and_alias(net, service):  # noqa: F811
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=f"unix://{service.sock}")
    try:
        client.networks.create("appnet", ipam=docker.types.IPAMConfig(
            pool_configs=[docker.types.IPAMPool(subnet=free_subnet())]), labels={"app": "x"})
        # NetworkingConfig.EndpointsConfig with aliases (the network named there, as compose does)
        client.api.create_container("busybox", ["sh", "-c", HTTPD], name="web",
                                    host_config=client.api.create_host_config(network_mode="appnet"),
                                    networking_config=client.api.create_networking_config(
                                        {"appnet": client.api.create_endpoint_config(aliases=["www", "front"])}))
        client.api.start("web")
        fetch = "for i in $(seq 20); do wget -qO- http://$0/ && break; sleep 0.2; done"
        for name in ("web", "www", "front"):
            out = service.docker("run", "--rm", "--network", "appnet", "busybox", "sh", "-c", fetch, name).stdout
            assert out.startswith("hello from"), (name, out)
        # the docker CLI's --network-alias, resolved by a docker-py container
        service.docker("run", "-d", "--name", "db", "--network", "appnet", "--network-alias", "database",
                       "busybox", "sleep", "60")
        ping = "for i in $(seq 5); do ping -c 1 -W 2 database >/dev/null && echo ok && break; done"  # a loaded host
        out = client.containers.run("busybox", ["sh", "-c", ping],
                                    network="appnet", remove=True)
        assert out == b"ok\n"
        # HostConfig.Links on a user network: an alias that the linking container alone sees
        out = service.docker("run", "--rm", "--network", "appnet", "--link", "web:backend", "busybox", "sh", "-c",
                             fetch, "backend").stdout
        assert out.startswith("hello from")
        unlinked = service.docker("run", "--rm", "--network", "appnet", "busybox", "grep", "-w", "backend",
                                  "/etc/hosts", rc=1)
        assert unlinked.stdout == ""
        legacy = service.docker("run", "--rm", "--link", "web:backend", "busybox", "true", rc=125)
        assert "user-defined networks" in legacy.stderr
        aliases = client.api.inspect_container("web")["NetworkSettings"]["Networks"]["appnet"]["Aliases"]
        assert aliases == ["www", "front"]  # API 1.44+: the short id is not an alias (it is in DNSNames)
    finally:
        client.close()


def test_connecting_a_created_container_back_to_its_network_keeps_its_ports(net, service):  # noqa: F811
    """docker-compose 1.29 disconnects each new container from its network and connects it again (to
    set its aliases) before starting it: its published port must survive (it was lost before)."""
    service.docker("network", "create", "--subnet", free_subnet(), "back")
    port = free_port()
    body = {"Image": "busybox", "Cmd": ["sh", "-c", HTTPD],
            "HostConfig": {"NetworkMode": "back", "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1",
                                                                             "HostPort": str(port)}]}}}
    status, answer = service.request("POST", "/v1.41/containers/create?name=srv", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    assert status == 201, answer
    cid = json.loads(answer)["Id"]
    for verb, doc in (("disconnect", {"Container": cid}),
                      ("connect", {"Container": cid, "EndpointConfig": {"Aliases": ["srv", cid[:12], "site"]}})):
        status, answer = service.request("POST", f"/v1.41/networks/back/{verb}", json.dumps(doc).encode(),
                                         {"Content-Type": "application/json"})
        assert status == 200, answer
    service.docker("start", "srv")
    assert http_get(f"http://127.0.0.1:{port}/").startswith("hello from")
    assert service.docker("port", "srv").stdout == f"80/tcp -> 127.0.0.1:{port}\n"
    out = service.docker("run", "--rm", "--network", "back", "busybox", "wget", "-qO-", "http://site/").stdout
    assert out.startswith("hello from")
    # the aliases it was connected with are kept for its next start
    service.docker("restart", "-t", "1", "srv")
    assert http_get(f"http://127.0.0.1:{port}/").startswith("hello from")
    out = service.docker("run", "--rm", "--network", "back", "busybox", "wget", "-qO-", "http://site/").stdout
    assert out.startswith("hello from")
    # API < 1.44: the short id among the aliases, as compose 1.29 expects
    status, answer = service.request("GET", "/v1.41/containers/srv/json")
    assert cid[:12] in json.loads(answer)["NetworkSettings"]["Networks"]["back"]["Aliases"]


COMPOSE_FILE = """\
version: "3.7"
services:
  web:
    image: busybox
    command: sh -c 'echo hello from web > /www/index.html && exec httpd -f -p 80 -h /www'
    labels:
      app.role: server
    volumes:
      - data:/www
    ports:
      - "127.0.0.1:{port}:80"
  client:
    image: busybox
    depends_on: [web]
    labels:
      app.role: client
    command: sh -c 'nslookup web; while true; do wget -qO- http://web/ && echo; sleep 0.5; done'
volumes:
  data:
    labels:
      app.data: "yes"
"""


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="needs Debian's docker-compose")
def test_docker_compose_up_scale_down(net, service, tmp_path):  # noqa: F811
    port = free_port()
    (tmp_path / "docker-compose.yml").write_text(COMPOSE_FILE.format(port=port))
    env = {**service.env, "COMPOSE_PROJECT_NAME": "mdproj"}

    def compose(*args: str) -> str:
        proc = subprocess.run(["docker-compose", *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=180, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, f"docker-compose {args}: {proc.stdout}\n{proc.stderr}\n{service.log()}"
        return proc.stdout + proc.stderr

    compose("up", "-d")
    assert http_get(f"http://127.0.0.1:{port}/", timeout=10) == "hello from web\n"
    ps = compose("ps")
    assert "mdproj_web_1" in ps and "mdproj_client_1" in ps and f"127.0.0.1:{port}->80/tcp" in ps
    deadline = time.monotonic() + 20  # the client reaches web by its service name
    while "hello from web" not in compose("logs", "client") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert "hello from web" in compose("logs", "client")
    # the service name resolves by DNS too (the embedded resolver), not only through /etc/hosts
    web_ip = json.loads(service.docker("inspect", "mdproj_web_1").stdout)[0]["NetworkSettings"]["Networks"][
        "mdproj_default"]["IPAddress"]
    assert f"Name:\tweb\nAddress: {web_ip}\n" in service.docker("logs", "mdproj_client_1").stdout
    labels = json.loads(service.docker("inspect", "mdproj_web_1").stdout)[0]["Config"]["Labels"]
    assert labels["app.role"] == "server" and labels["com.docker.compose.project"] == "mdproj"
    volume = json.loads(service.docker("volume", "inspect", "mdproj_data").stdout)[0]
    assert volume["Labels"]["app.data"] == "yes" and volume["Labels"]["com.docker.compose.project"] == "mdproj"
    compose("up", "-d", "--scale", "client=2")
    assert "recreate" not in compose("up", "-d", "--scale", "client=2").lower()  # nothing changed: nothing redone
    names = service.docker("ps", "--filter", "label=com.docker.compose.service=client",
                           "--format", "{{.Names}}").stdout.split()
    assert sorted(names) == ["mdproj_client_1", "mdproj_client_2"]
    deadline = time.monotonic() + 20
    while "hello from web" not in service.docker("logs", "mdproj_client_2").stdout and time.monotonic() < deadline:
        time.sleep(0.5)
    assert "hello from web" in service.docker("logs", "mdproj_client_2").stdout
    # stop/start (compose disconnects and connects each stopped container) and a recreate (rename,
    # image ContainerConfig) keep the port and the name
    compose("stop", "-t", "1")
    compose("start")
    assert http_get(f"http://127.0.0.1:{port}/", timeout=10) == "hello from web\n"
    assert "Recreating" in compose("up", "-d", "--force-recreate", "web")
    assert http_get(f"http://127.0.0.1:{port}/", timeout=10) == "hello from web\n"
    out = service.docker("exec", "mdproj_client_1", "wget", "-qO-", "http://web/", rc=None)
    if out.returncode == 0:  # exec is another group's endpoint: checked when it is there
        assert out.stdout == "hello from web\n"
    compose("down", "-v")
    assert service.docker("ps", "-aq").stdout == ""
    assert "mdproj" not in service.docker("network", "ls").stdout
    assert service.docker("volume", "ls", "-q").stdout == ""
    volumes = os.path.join(net.root, "volumes")
    assert not os.path.isdir(volumes) or os.listdir(volumes) == []  # no data left on disk either

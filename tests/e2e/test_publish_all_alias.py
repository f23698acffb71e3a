"""-P/--publish-all (the image's EXPOSE and --expose, each to a free host port) and --network-alias
(more names for a container on its user network, resolvable by its peers)."""

from __future__ import annotations

import json

from tests.e2e.test_network_cli import HTTPD, free_port, free_subnet, http_get, net, no_leaks  # noqa: F401 - fixtures


def test_publish_all_maps_every_exposed_port(net, tmp_path):  # noqa: F811
    (tmp_path / "Dockerfile").write_text("FROM busybox\nEXPOSE 80\n")
    net("build", "-q", "-t", "exposing", str(tmp_path))
    net("run", "-d", "--name", "web", "-P", "--expose", "8081", "--expose", "9000-9001/udp", "exposing",
        "sh", "-c", HTTPD)
    lines = net("port", "web").out.splitlines()
    mapped = {line.split(" -> ")[0]: int(line.rsplit(":", 1)[1]) for line in lines}
    assert set(mapped) == {"80/tcp", "8081/tcp", "9000/udp", "9001/udp"}, lines
    assert all(port > 0 for port in mapped.values()) and len(set(mapped.values())) == 4
    assert http_get(f"http://127.0.0.1:{mapped['80/tcp']}/").startswith("hello from")
    info = json.loads(net("inspect", "web").out)[0]
    assert info["HostConfig"]["PublishAllPorts"] is True
    assert set(info["Config"]["ExposedPorts"]) == {"80/tcp", "8081/tcp", "9000/udp", "9001/udp"}
    net("rm", "-f", "web")
    # without -P, EXPOSE publishes nothing; an explicit -p is kept by -P as given
    net("run", "-d", "--name", "quiet", "exposing", "sleep", "60")
    assert net("port", "quiet").out == ""
    err = net("run", "--rm", "--expose", "http", "busybox", "true", rc=125).err
    assert "invalid port 'http'" in err and len(err.strip().splitlines()) == 1
    net("rm", "-f", "quiet")
    port = free_port()
    net("run", "-d", "--name", "given", "-P", "-p", f"127.0.0.1:{port}:80", "exposing", "sleep", "60")
    assert net("port", "given").out == f"80/tcp -> 127.0.0.1:{port}\n"
    net("rm", "-f", "given")
    net("rmi", "exposing")


def test_network_alias_resolves_for_peers_and_survives_restart(net):  # noqa: F811
    net("network", "create", "--subnet", free_subnet(), "aliasnet")
    net("run", "-d", "--name", "srv", "--network", "aliasnet", "--network-alias", "db", "--network-alias", "cache",
        "busybox", "sh", "-c", HTTPD)
    fetch = "for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://db/ && break; sleep 0.2; done; " \
            "ping -c 1 -W 2 cache >/dev/null && echo pinged"
    out = net("run", "--rm", "--network", "aliasnet", "busybox", "sh", "-c", fetch).out
    assert out.startswith("hello from") and "pinged" in out
    net("stop", "-t", "1", "srv")
    net("start", "srv")
    out = net("run", "--rm", "--network", "aliasnet", "busybox", "sh", "-c", fetch).out
    assert out.startswith("hello from") and "pinged" in out
    # a container on another network does not see the alias
    net("network", "create", "--subnet", free_subnet(), "othernet")
    out = net("run", "--rm", "--network", "othernet", "busybox", "grep", "-w", "db", "/etc/hosts", rc=1).out
    assert out == ""
    err = net("run", "--rm", "--network-alias", "x1", "busybox", "true", rc=125).err
    assert "user-defined networks" in err and len(err.strip().splitlines()) == 1

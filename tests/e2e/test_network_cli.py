"""Networking as a user drives it: `run --network/-p/--ip`, `network ...`, `port`; the book's 7.1
(an HTTP server container reachable from the host through -p). Traffic stays on loopback and on
the bridges these tests create. UDP publishing is covered in tests/integration/test_network_engine.py
(busybox has no UDP server applet)."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import time
import urllib.request

import pytest

from mydocker.engine.networks import root_tag
from tests.netkit import links_named, settled_links

HTTPD = "mkdir -p /www && echo hello from $(hostname) > /www/index.html && exec httpd -f -p 80 -h /www"


@pytest.fixture
def no_leaks(roots):
    """Overrides the suite's host-wide check, scoped to this test's roots: other engineers' tests
    run containers (mounts, cgroups, bridges, veths) on this host at the same time. Every link a
    private root makes is named md<its tag>..., so this root's leaks are findable."""
    root, runroot = roots
    tag = root_tag(root)
    base = os.path.dirname(root)

    def state() -> dict:
        with open("/proc/self/mountinfo") as f:
            mounts = {line.split()[4] for line in f if line.split()[4].startswith(base)}
        links = {n for n in os.listdir("/sys/class/net") if n.startswith(f"md{tag}")}
        netns_dir = os.path.join(runroot, "netns")
        return {"mounts": mounts, "links": links,
                "netns": set(os.listdir(netns_dir)) if os.path.isdir(netns_dir) else set()}

    before = state()
    yield
    after = state()
    after["links"] = settled_links(lambda: links_named(f"md{tag}"), before["links"])  # veths go with their netns
    assert after == before


@pytest.fixture
def net(mydocker):
    """The CLI, plus: after the test every container is removed, then no bridge, veth, netns or nft
    table of this root is left."""
    yield mydocker
    for cid in mydocker("ps", "-aq", rc=None).out.split():
        mydocker("rm", "-f", cid, rc=None)
    mydocker("network", "prune", "-f", rc=None)
    tag = root_tag(mydocker.root)
    assert settled_links(lambda: links_named(f"md{tag}"), set()) == set()  # veths go with their netns
    nft = subprocess.run(["nft", "list", "table", "ip", f"mydocker-{tag}"], capture_output=True, text=True)
    assert nft.returncode != 0, nft.stdout


def free_subnet(_seed: int = 0) -> str:
    """A random /24 in 10.96.0.0/14 that no host route covers: these tests may run twice at once on
    this host (several engineers), and other tests' bridges are routes too."""
    import random
    routes = [ipaddress.IPv4Network(line.split()[0]) for line in
              subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout.splitlines()
              if line.split()[0] != "default"]
    for _ in range(1000):
        candidate = ipaddress.IPv4Network(f"10.{96 + random.randrange(4)}.{random.randrange(256)}.0/24")
        if not any(candidate.overlaps(r) for r in routes):
            return str(candidate)
    pytest.skip("no free /24 in 10.96.0.0/14 on this host")


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 5) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_default_bridge_gives_eth0_a_route_and_etc_files(net):
    out = net("run", "--rm", "--hostname", "box", "busybox", "sh", "-c",
              "ip -o -4 addr show eth0; ip route; cat /etc/hostname /etc/hosts /etc/resolv.conf").out
    assert "inet 172." in out or "inet 10." in out
    assert "default via" in out and "dev eth0" in out
    assert "box\n" in out and "127.0.0.1\tlocalhost" in out
    resolvers = [line.split()[1] for line in out.splitlines() if line.startswith("nameserver")]
    assert resolvers and not any(r.startswith("127.") or r == "::1" for r in resolvers)


def test_http_server_reachable_from_the_host_through_publish(net):
    """The book's 7.1, with busybox httpd standing in for nginx."""
    any_ip, local = free_port(), free_port()
    net("run", "-d", "--name", "web", "-p", f"{any_ip}:80", "-p", f"127.0.0.1:{local}:80", "busybox", "sh", "-c", HTTPD)
    assert http_get(f"http://127.0.0.1:{any_ip}/").startswith("hello from")
    assert http_get(f"http://127.0.0.1:{local}/").startswith("hello from")
    # hairpin: from a container, and from the server itself, through the host's side of the bridge
    gateway = net("exec", "web", "ip", "route").out.split()[2]
    url = f"http://{gateway}:{any_ip}/"
    assert net("run", "--rm", "busybox", "wget", "-qO-", url).out.startswith("hello from")
    assert net("exec", "web", "wget", "-qO-", url).out.startswith("hello from")
    assert net("port", "web").out.splitlines() == [f"80/tcp -> 0.0.0.0:{any_ip}", f"80/tcp -> 127.0.0.1:{local}"]
    assert net("port", "web", "80").out.splitlines() == [f"0.0.0.0:{any_ip}", f"127.0.0.1:{local}"]
    busy = net("run", "--rm", "-p", f"{any_ip}:80", "busybox", "true", rc=125)
    assert f"{any_ip}/tcp is already published" in busy.err


def test_containers_on_a_user_network_reach_each_other_by_name(net):
    net("network", "create", "--subnet", free_subnet(11), "appnet")
    net("run", "-d", "--name", "web", "--network", "appnet", "busybox", "sh", "-c", HTTPD)
    out = net("run", "--rm", "--network", "appnet", "busybox", "sh", "-c",
              "for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://web/ && break; sleep 0.2; done; "
              "ping -c 1 -W 2 web >/dev/null && echo pinged").out
    assert out.startswith("hello from") and "pinged" in out


def test_different_networks_are_isolated(net):
    net("network", "create", "--subnet", free_subnet(31), "neta")
    net("network", "create", "--subnet", free_subnet(47), "netb")
    net("run", "-d", "--name", "srv", "--network", "neta", "busybox", "sh", "-c", HTTPD)
    a_ip = json.loads(net("network", "inspect", "neta").out)[0]["Containers"]
    a_ip = next(iter(a_ip.values()))["IPv4Address"].split("/")[0]
    ping = ["busybox", "ping", "-c", "1", "-W", "2", a_ip]
    same = net("run", "--rm", "--network", "neta", *ping, rc=None)
    other = net("run", "--rm", "--network", "netb", *ping, rc=None)
    assert same.rc == 0 and other.rc != 0


def test_fixed_ip_full_subnet_and_bad_flags(net):
    subnet = ipaddress.IPv4Network(free_subnet(63))
    tiny = str(ipaddress.IPv4Network((subnet.network_address, 30)))
    net("network", "create", "--subnet", tiny, "tiny")
    first = str(subnet.network_address + 2)
    assert f"inet {first}/30" in net("run", "--rm", "--network", "tiny", "--ip", first, "busybox",
                                     "ip", "-o", "-4", "addr", "show", "eth0").out
    net("run", "-d", "--name", "holder", "--network", "tiny", "busybox", "sleep", "300")
    full = net("run", "--rm", "--network", "tiny", "busybox", "true", rc=125)
    assert f"no free IP address left in subnet {tiny}" in full.err
    assert "--ip needs a user-defined network" in net("run", "--rm", "--ip", "10.1.1.1", "busybox", "true", rc=125).err
    assert "invalid protocol" in net("run", "--rm", "-p", "80/sctp", "busybox", "true", rc=125).err
    assert "network nosuch not found" in net("run", "--rm", "--network", "nosuch", "busybox", "true", rc=125).err
    assert "has active endpoints (holder)" in net("network", "rm", "tiny", rc=1).err
    assert "already exists" in net("network", "create", "--subnet", tiny, "tiny", rc=1).err
    assert "reserved" in net("network", "create", "bridge", rc=1).err
    # a failed run leaves no container behind
    assert net("ps", "-aq").out.split() == [net("ps", "-aq", "--no-trunc").out.split()[0][:12]]


def test_none_host_and_container_modes(net):
    none = net("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link").out
    assert [line.split()[1] for line in none.splitlines()] == ["lo:"]
    host = net("run", "--rm", "--network", "host", "busybox", "ip", "-o", "link").out
    seen = {line.split()[1].split("@")[0].rstrip(":") for line in host.splitlines()}
    assert seen >= set(os.listdir("/sys/class/net")) & {"lo", "eth0"}
    net("run", "-d", "--name", "web", "busybox", "sh", "-c", HTTPD)
    web_ip = net("exec", "web", "ip", "-o", "-4", "addr", "show", "eth0").out.split()[3]
    joined = net("run", "--rm", "--network", "container:web", "busybox", "sh", "-c",
                 "ip -o -4 addr show eth0; wget -qO- http://127.0.0.1/").out
    assert web_ip in joined and "hello from" in joined


def test_network_ls_inspect_connect_disconnect_prune(net):
    net("network", "create", "--subnet", free_subnet(79), "--label", "team=a", "one")
    net("network", "create", "two")  # a free subnet is chosen
    names = [line.split()[1] for line in net("network", "ls").out.splitlines()[1:]]
    assert {"one", "two"} <= set(names)
    two = json.loads(net("network", "inspect", "two").out)[0]
    assert two["Driver"] == "bridge" and two["IPAM"]["Config"][0]["Subnet"] and two["Containers"] == {}
    assert json.loads(net("network", "inspect", "one").out)[0]["Labels"] == {"team": "a"}
    net("run", "-d", "--name", "cc", "--network", "one", "busybox", "sleep", "300")
    net("network", "connect", "--alias", "cee", "two", "cc")
    links = net("exec", "cc", "ip", "-o", "-4", "addr").out
    assert " eth0 " in links and " eth1 " in links
    assert "cc" in [v["Name"] for v in json.loads(net("network", "inspect", "two").out)[0]["Containers"].values()]
    net("network", "disconnect", "two", "cc")
    assert " eth1 " not in net("exec", "cc", "ip", "-o", "-4", "addr").out
    assert net("network", "prune", "-f").out.split() == ["Deleted", "Networks:", "two"]
    assert "network nosuch not found" in net("network", "inspect", "nosuch", rc=1).err


def test_stop_releases_the_address_and_start_attaches_again(net):
    net("network", "create", "--subnet", free_subnet(97), "life")
    port = free_port()
    net("run", "-d", "--name", "cc", "--network", "life", "-p", f"{port}:80", "busybox", "sh", "-c", HTTPD)
    assert http_get(f"http://127.0.0.1:{port}/").startswith("hello")
    net("stop", "-t", "1", "cc")
    assert json.loads(net("network", "inspect", "life").out)[0]["Containers"] == {}
    assert net("port", "cc").out == ""
    net("start", "cc")
    assert http_get(f"http://127.0.0.1:{port}/").startswith("hello")


def test_nft_runs_once_per_start_and_removal_with_p_and_never_without(net, tmp_path, monkeypatch):
    """The network's rules are made with it; a container only adds and deletes its published ports."""
    log = tmp_path / "nft.log"
    wrapper = tmp_path / "logged-bin"
    wrapper.mkdir()
    (wrapper / "nft").write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec /usr/sbin/nft "$@"\n')
    (wrapper / "nft").chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrapper}:{os.environ['PATH']}")

    def calls() -> int:
        return len(log.read_text().splitlines()) if log.exists() else 0

    net("network", "create", "--subnet", free_subnet(101), "counted")
    assert calls() == 1
    net("run", "--rm", "--network", "counted", "busybox", "true")
    assert calls() == 1
    net("run", "-d", "--name", "pub", "--network", "counted", "-p", "80", "busybox", "sleep", "60")
    assert calls() == 2
    net("rm", "-f", "pub")
    assert calls() == 3
    net("run", "-d", "--name", "keep", "busybox", "sleep", "60")  # the default bridge, made now: its rules
    assert calls() == 4
    net("run", "--rm", "busybox", "true")
    net("run", "--rm", "--network", "counted", "busybox", "true")
    assert calls() == 4
    net("rm", "-f", "keep")  # the last one on a private root's default network: it goes, with its rules
    net("network", "rm", "counted")
    assert calls() == 6


@pytest.mark.slow
def test_fifty_parallel_detached_runs_get_fifty_addresses(net):
    net("network", "create", "--subnet", free_subnet(113), "many")
    procs = [subprocess.Popen(net.argv("run", "-d", "--network", "many", "busybox", "sleep", "300"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(50)]
    results = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _out, err in results if err][:3]
    containers = json.loads(net("network", "inspect", "many").out)[0]["Containers"]
    addresses = {c["IPv4Address"] for c in containers.values()}
    assert len(containers) == 50 and len(addresses) == 50


@pytest.mark.slow
def test_sigkill_during_run_then_rm_leaves_no_network_object(net):
    """`run` killed at 12 moments spread over its set-up; `rm -f` then leaves no veth, netns, rule
    or address (the default network, its bridge and nft table are this root's: the fixture checks)."""
    import signal
    start = time.monotonic()
    net("run", "--rm", "-p", "80", "busybox", "true")
    duration = time.monotonic() - start
    for i in range(12):
        proc = subprocess.Popen(net.argv("run", "-d", "--name", f"k{i}", "-p", "80", "busybox",
                                         "sleep", "300"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(duration * i / 12)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        net("rm", "-f", f"k{i}", rc=None)
    # `run -d` hands the container to the monitor, which may still create it after the CLI died (as
    # dockerd would); let those land, then `rm -f` what exists: the fixture checks nothing is left.
    time.sleep(1.5)
    for cid in net("ps", "-aq").out.split():
        net("rm", "-f", cid)
    assert net("ps", "-aq").out == ""


def test_a_default_bridge_run_loads_no_heavy_module(mydocker):
    """Issue 20: `run` on the default bridge makes the endpoint with the project's own netlink
    messages (mydocker/network/netlink.py): pyroute2 (asyncio, multiprocessing: ~150 ms of imports)
    and dataclasses are not loaded, and the container still gets its address, MAC and route."""
    with open(mydocker.exe) as f:
        interpreter = f.readline()[2:].split()[0]  # the launcher's own `#!python -IS`
    argv = [interpreter, "-X", "importtime", "-IS",
            *mydocker.argv("run", "--rm", "busybox", "sh", "-c",
                           "ip -o -4 addr show eth0; ip link show eth0; ip route")]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                          env={**os.environ, "MYDOCKER_FORKSERVER": "0"})  # its own imports, not a server's
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    heavy = sorted(m for m in loaded if m.split(".")[0] in ("pyroute2", "asyncio", "multiprocessing", "dataclasses"))
    assert heavy == []
    assert "mydocker.network.bridge" in loaded  # the measurement did see the network path
    address = proc.stdout.split()[3]  # "2: eth0    inet 172.x.y.z/16 brd ..."
    ip = address.split("/")[0]
    assert ipaddress.ip_address(ip) in ipaddress.ip_network(address, strict=False)
    assert "02:42:" + ":".join(f"{int(o):02x}" for o in ip.split(".")) in proc.stdout
    assert "default via " in proc.stdout

"""Overlay networks across three simulated hosts, with a real etcd.

Each "host" is a network namespace with its own mount namespace (held by a sleeping process, whose
/sys shows the host's links) and its own mydocker root, plugged by a veth into an underlay bridge
this test creates on a private subnet that nothing routes. etcd listens on the underlay bridge's
address, so the hosts reach it the way real hosts would. Everything is removed in a finalizer.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import time

import pytest

from tests.unit.test_cluster import ETCD, EtcdServer, free_port

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, links)"),
              pytest.mark.timeout(600)]

HOSTS = 3


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=check)


def free_subnet() -> ipaddress.IPv4Network:
    routes = []
    for line in sh("ip", "-4", "route", "show", "table", "all").stdout.splitlines():
        words = line.split()
        dst = words[1] if words[0] in ("local", "broadcast", "unicast") else words[0]
        if dst[0].isdigit():
            routes.append(ipaddress.IPv4Network(dst, strict=False))
    for third in range(1, 255):
        net = ipaddress.IPv4Network(f"10.251.{(os.getpid() + third) % 254 + 1}.0/24")
        if not any(net.overlaps(r) for r in routes):
            return net
    pytest.skip("no free 10.251.x.0/24 for the underlay")


class Host:
    def __init__(self, sim: Sim, i: int) -> None:
        self.name = f"{sim.tag}h{i}"
        self.root = os.path.join(sim.base, f"host{i}", "root")
        self.runroot = os.path.join(sim.base, f"host{i}", "run")
        self.address = str(sim.underlay[10 + i])
        self.sim = sim
        self.holder: subprocess.Popen | None = None

    def up(self) -> None:
        sim = self.sim
        sh("ip", "netns", "add", self.name)
        sh("ip", "link", "add", f"{self.name}v", "type", "veth", "peer", "name", "eth0", "netns", self.name)
        sh("ip", "link", "set", f"{self.name}v", "master", sim.bridge, "up")
        sh("ip", "-n", self.name, "addr", "add", f"{self.address}/{sim.underlay.prefixlen}", "dev", "eth0")
        sh("ip", "-n", self.name, "link", "set", "eth0", "up")
        sh("ip", "-n", self.name, "link", "set", "lo", "up")
        os.makedirs(self.root)
        with open(os.path.join(self.root, "daemon.json"), "w") as f:
            json.dump({"cluster-store": sim.etcd.url}, f)
        # a mount namespace whose /sys/class/net shows this host's links (a sysfs mounted inside its
        # netns, bound over the net directories only: the cgroup mounts under /sys stay); a sleeper keeps it
        sysfs = os.path.join(sim.base, f"{self.name}-sysfs")
        os.makedirs(sysfs)
        script = (f"mount -t sysfs sysfs {sysfs} && mount --bind {sysfs}/class/net /sys/class/net && "
                  f"mount --bind {sysfs}/devices/virtual/net /sys/devices/virtual/net && umount -l {sysfs} && "
                  "exec sleep infinity")
        self.holder = subprocess.Popen(["nsenter", f"--net=/run/netns/{self.name}", "unshare", "-m",
                                        "--propagation", "slave", "sh", "-c", script])
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if os.readlink(f"/proc/{self.holder.pid}/exe").endswith("sleep"):
                break
            time.sleep(0.02)

    def argv(self, *args: str) -> list[str]:
        return ["nsenter", "-t", str(self.holder.pid), "-m", "-n", "--",
                os.path.join(self.sim.bindir, "mydocker"), "--root", self.root, "--runroot", self.runroot, *args]

    def cli(self, *args: str, rc: int | None = 0, timeout: float = 120) -> subprocess.CompletedProcess:
        proc = subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=timeout)
        if rc is not None:
            assert proc.returncode == rc, f"{self.name}$ mydocker {' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
        return proc

    def inside(self, *argv: str) -> str:
        return subprocess.run(["nsenter", "-t", str(self.holder.pid), "-m", "-n", "--", *argv],
                              capture_output=True, text=True).stdout

    def endpoint(self, name: str) -> tuple[str, str]:
        """(IP, MAC) of the local container `name` on ovl, from `network inspect`."""
        [net] = json.loads(self.cli("network", "inspect", "ovl").stdout)
        [ep] = [e for e in net["Containers"].values() if e["Name"] == name]
        return ep["IPv4Address"].split("/")[0], ep["MacAddress"]

    def fdb(self) -> set[tuple[str, str]]:
        out = set()
        for link in json.loads(self.inside("ip", "-j", "link", "show", "type", "vxlan") or "[]"):
            for entry in json.loads(self.inside("bridge", "-j", "fdb", "show", "dev", link["ifname"]) or "[]"):
                if entry.get("dst"):
                    out.add((entry["mac"], entry["dst"]))
        return out

    def log(self, since: int = 0) -> str:
        """The overlay agent's log, from byte `since`."""
        try:
            with open(os.path.join(self.runroot, "overlay-agent.log"), "rb") as f:
                f.seek(since)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def down(self) -> None:
        if self.holder is not None:
            ids = self.cli("ps", "-aq", rc=None, timeout=60).stdout.split()
            if ids:
                self.cli("rm", "-f", *ids, rc=None, timeout=120)
            for net in self.cli("network", "ls", "-q", rc=None, timeout=60).stdout.split():
                self.cli("network", "rm", net, rc=None, timeout=60)
            self.holder.kill()
            self.holder.wait()
        # the agent, should it still run (its pid file)
        try:
            with open(os.path.join(self.runroot, "overlay-agent.pid")) as f:
                pid = int(f.read().strip() or 0)
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                ours = self.runroot.encode() in f.read()
            if pid and ours:
                os.kill(pid, 9)
        except (OSError, ValueError):
            pass
        sh("ip", "netns", "del", self.name, check=False)
        sh("ip", "link", "del", f"{self.name}v", check=False)


class Sim:
    def __init__(self, base: str, bindir: str) -> None:
        self.base = base
        self.bindir = bindir
        self.tag = f"mdt{os.getpid() & 0xfff:03x}"
        self.bridge = f"{self.tag}u"
        self.underlay = free_subnet()
        self.hosts = [Host(self, i) for i in range(HOSTS)]

    def up(self) -> None:
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "addr", "add", f"{self.underlay[1]}/{self.underlay.prefixlen}", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        self.etcd = EtcdServer(os.path.join(self.base, "etcd", "data"), host=str(self.underlay[1]))
        self.etcd.start()
        for h in self.hosts:
            h.up()

    def down(self) -> None:
        for h in self.hosts:
            try:
                h.down()
            except Exception:  # noqa: BLE001 - the rest must go too
                pass
        if getattr(self, "etcd", None):
            self.etcd.stop()
        sh("ip", "link", "del", self.bridge, check=False)


@pytest.fixture(scope="module")
def sim(tmp_path_factory, bindir):
    if not os.path.exists(ETCD):
        pytest.skip("etcd is not installed: apt-get install -y etcd-server")
    for tool in ("nsenter", "bridge", "ip"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is missing")
    s = Sim(str(tmp_path_factory.mktemp("overlay")), bindir)
    try:
        s.up()
        yield s
    finally:
        s.down()


def wait_for(check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_containers_reach_each_other_across_hosts(sim):
    h0, h1, h2 = sim.hosts
    h0.cli("network", "create", "--driver", "overlay", "--subnet", "10.252.0.0/24", "ovl")
    for h in (h1, h2):  # every host sees it
        assert "ovl" in h.cli("network", "ls").stdout
        assert "overlay" in h.cli("network", "ls").stdout
    h0.cli("run", "-d", "--name", "alpha", "--network", "ovl", "busybox", "httpd", "-f", "-p",
           "80", "-h", "/etc")
    h1.cli("run", "-d", "--name", "beta", "--network", "ovl", "busybox", "sleep", "1000")
    ip_a, _ = h0.endpoint("alpha")
    # by IP and by name, from host 1 and host 2, over VXLAN
    assert h1.cli("exec", "beta", "ping", "-c", "1", "-W", "3", ip_a).returncode == 0
    out = h2.cli("run", "--rm", "--network", "ovl", "busybox", "wget", "-qO-", "http://alpha/hostname").stdout
    assert out.strip() == h0.cli("exec", "alpha", "cat", "/etc/hostname").stdout.strip()
    assert "alpha" in h1.cli("exec", "beta", "cat", "/etc/hosts").stdout.split()
    assert h0.cli("exec", "alpha", "ping", "-c", "1", "-W", "3", "beta").returncode == 0  # learnt by the agent's watch
    mtu = h1.cli("exec", "beta", "cat", "/sys/class/net/eth0/mtu").stdout.strip()
    assert mtu == str(1500 - 50)


def test_sixty_concurrent_runs_on_three_hosts_get_distinct_addresses(sim):
    """3 hosts x 20 `mydocker run -d` at once, all through the CLI: every run succeeds and the 60
    containers hold 60 different addresses (the store's CAS allocation, not luck)."""
    from mydocker.network.etcd import Client
    per_host = 20
    runs = []
    for n in range(per_host):
        for i, h in enumerate(sim.hosts):
            name = f"many{i}x{n}"
            runs.append((h, name, subprocess.Popen(
                h.argv("run", "-d", "--name", name, "--network", "ovl", "busybox", "sleep", "1000"),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    try:
        failed = []
        for h, name, proc in runs:
            out, err = proc.communicate(timeout=300)
            if proc.returncode != 0:
                failed.append(f"{h.name} {name}: rc={proc.returncode} {err.strip()}")
        assert not failed, "\n".join(failed)
        records = [json.loads(kv.value) for kv in Client(sim.etcd.url).get_prefix("/mydocker/endpoints/ovl/")[0]]
        ours = {r["name"]: r["ip"] for r in records if r["name"].startswith("many")}
        assert sorted(ours) == sorted(name for _, name, _ in runs)
        assert len(set(ours.values())) == len(runs) == 60
        for h in sim.hosts:  # what each host wired agrees with the store
            [net] = json.loads(h.cli("network", "inspect", "ovl").stdout)
            local = {e["Name"]: e["IPv4Address"].split("/")[0] for e in net["Containers"].values()
                     if e["Name"].startswith("many")}
            assert len(local) == per_host and all(ours[name] == ip for name, ip in local.items()), local
    finally:
        removals = [subprocess.Popen(h.argv("rm", "-f", *[name for hh, name, _ in runs if hh is h]),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                    for h in sim.hosts]
        for proc in removals:
            proc.communicate(timeout=300)
    left = [kv.key for kv in Client(sim.etcd.url).get_prefix("/mydocker/endpoints/ovl/")[0] if "many" in kv.value]
    assert left == []


def test_store_outage_keeps_traffic_and_fails_clearly(sim):
    h0, h1, _ = sim.hosts
    ip_a, _ = h0.endpoint("alpha")
    sim.etcd.stop()
    try:
        assert h1.cli("exec", "beta", "ping", "-c", "1", "-W", "3", ip_a).returncode == 0
        failed = h1.cli("run", "--rm", "--network", "ovl", "busybox", "true", rc=None)
        assert failed.returncode == 125
        assert "cluster store" in failed.stderr and "unreachable" in failed.stderr
        assert len(failed.stderr.strip().splitlines()) == 1
    finally:
        sim.etcd.start()
    # store operations succeed again, and the running containers still talk
    h1.cli("run", "--rm", "--network", "ovl", "busybox", "true")
    assert h1.cli("exec", "beta", "ping", "-c", "1", "-W", "3", "alpha").returncode == 0


def test_container_started_after_store_restart_is_seen_everywhere(sim):
    """The agents' watches die with etcd: they must reconnect, resync and watch again, so a container
    started after the restart reaches (and is reached from) the other hosts by IP and by name."""
    h0, h1, _ = sim.hosts
    mark = len(h0.log().encode())
    sim.etcd.stop()
    time.sleep(1.5)  # long enough for every agent to notice the broken watch and retry at least once
    sim.etcd.start()
    h1.cli("run", "-d", "--name", "delta", "--network", "ovl", "busybox", "sleep", "1000")
    ip_d, mac_d = h1.endpoint("delta")
    # host 0 learns it from its agent's watch, which had to be re-established after a full read
    assert wait_for(lambda: "watching again from revision" in h0.log(mark)), h0.log(mark)
    assert wait_for(lambda: (mac_d, h1.address) in h0.fdb()), (h0.fdb(), h0.log(mark))
    assert wait_for(lambda: "delta" in h0.cli("exec", "alpha", "cat", "/etc/hosts").stdout.split()), h0.log(mark)
    ping = h0.cli("exec", "alpha", "ping", "-c", "1", "-W", "3", ip_d, rc=None)
    assert ping.returncode == 0, (ping.stdout, h0.cli("exec", "alpha", "ip", "neigh").stdout, mac_d)
    assert h0.cli("exec", "alpha", "ping", "-c", "1", "-W", "3", "delta").returncode == 0
    h1.cli("rm", "-f", "delta")
    assert wait_for(lambda: mac_d not in {m for m, _ in h0.fdb()}), h0.fdb()


def test_removing_a_container_clears_it_everywhere(sim):
    h0, h1, h2 = sim.hosts
    from mydocker.network.etcd import Client
    h2.cli("run", "-d", "--name", "gamma", "--network", "ovl", "busybox", "sleep", "1000")
    _, mac_b = h1.endpoint("beta")
    assert wait_for(lambda: all(mac_b in {m for m, _ in h.fdb()} for h in (h0, h2))), (h0.fdb(), h2.fdb())
    h1.cli("rm", "-f", "beta")
    assert wait_for(lambda: not any(mac_b in {m for m, _ in h.fdb()} for h in (h0, h2))), \
        (h0.fdb(), h2.fdb(), Client(sim.etcd.url).get_prefix("/mydocker/")[0])
    assert "beta" not in h0.cli("exec", "alpha", "cat", "/etc/hosts").stdout.split()
    keys = [kv.key for kv in Client(sim.etcd.url).get_prefix("/mydocker/endpoints/ovl/")[0]]
    assert len(keys) == 2, keys  # only alpha's and gamma's
    h2.cli("rm", "-f", "gamma")
    assert wait_for(lambda: len(h0.fdb()) == 0), h0.fdb()  # nothing remote is left for host 0


def test_reconcile_leaves_overlay_bridges_without_an_address(sim):
    """`network reconcile` makes each network's host objects through its driver: an overlay bridge
    gets no gateway address (every host would answer for it), and a host without endpoints on the
    overlay gets no bridge for it (it used to get the bridge driver's bridge, with the address)."""
    h0, h1, _ = sim.hosts
    bridges = {}
    for h in (h0, h1):
        [net] = json.loads(h.cli("network", "inspect", "ovl").stdout)
        bridges[h] = net["Options"]["com.docker.network.bridge.name"]
        h.cli("network", "reconcile")
    inspected = json.loads(h0.cli("network", "inspect", "ovl").stdout)[0]
    assert "alpha" in {e["Name"] for e in inspected["Containers"].values()}
    assert "inet " not in h0.inside("ip", "-4", "addr", "show", "dev", bridges[h0])
    assert h1.inside("ip", "link", "show", bridges[h1]) == ""  # no endpoint of ovl on host 1

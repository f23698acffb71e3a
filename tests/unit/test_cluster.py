"""The etcd client and the cluster store, against a real etcd started on 127.0.0.1 by the test."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from mydocker.errors import Conflict, InvalidArgument
from mydocker.network import cluster
from mydocker.network.etcd import Client, StoreUnavailable, parse_url, prefix_end

ETCD = shutil.which("etcd") or "/usr/bin/etcd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EtcdServer:
    """One etcd member on loopback with a private data dir; start/stop can be repeated (same ports)."""

    def __init__(self, data_dir: str, host: str = "127.0.0.1") -> None:
        self.data_dir = data_dir
        self.host = host
        self.client_port, self.peer_port = free_port(), free_port()
        self.url = f"etcd://{host}:{self.client_port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        c, p = f"http://{self.host}:{self.client_port}", f"http://127.0.0.1:{self.peer_port}"
        os.makedirs(os.path.dirname(self.data_dir), exist_ok=True)
        self.log = open(os.path.join(os.path.dirname(self.data_dir), "etcd.log"), "ab")
        self.proc = subprocess.Popen(
            [ETCD, "--name", "t", "--data-dir", self.data_dir, "--listen-client-urls", c, "--advertise-client-urls", c,
             "--listen-peer-urls", p, "--initial-advertise-peer-urls", p, "--initial-cluster", f"t={p}"],
            stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                Client(self.url, timeout=0.5).get("/health-probe")
                return
            except StoreUnavailable:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"etcd exited with {self.proc.returncode}, see {self.log.name}")
                time.sleep(0.1)
        raise RuntimeError(f"etcd did not answer within 20 s, see {self.log.name}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()


@pytest.fixture(scope="module")
def etcd(tmp_path_factory):
    if not os.path.exists(ETCD):
        pytest.skip("etcd is not installed: apt-get install -y etcd-server")
    server = EtcdServer(str(tmp_path_factory.mktemp("etcd") / "data"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(etcd):
    c = Client(etcd.url)
    yield c
    c.delete_prefix("/")  # every key this test wrote


def store(client, tmp_path, name: str) -> cluster.ClusterStore:
    return cluster.ClusterStore(client, str(tmp_path / name))


# the setting

def test_parse_url():
    assert parse_url("etcd://10.0.0.5:2379,10.0.0.6:2379") == [("10.0.0.5", 2379), ("10.0.0.6", 2379)]
    for bad in ("10.0.0.5:2379", "etcd://host", "consul://a:1"):
        with pytest.raises(InvalidArgument):
            parse_url(bad)
    assert prefix_end("/a/") == "/a0"


def test_store_url_order(tmp_path, monkeypatch):
    monkeypatch.delenv(cluster.ENV, raising=False)
    assert cluster.store_url(str(tmp_path)) is None
    (tmp_path / "daemon.json").write_text(json.dumps({"cluster-store": "etcd://1.2.3.4:1"}))
    assert cluster.store_url(str(tmp_path)) == "etcd://1.2.3.4:1"
    monkeypatch.setenv(cluster.ENV, "etcd://5.6.7.8:2")
    assert cluster.store_url(str(tmp_path)) == "etcd://5.6.7.8:2"
    monkeypatch.delenv(cluster.ENV)
    (tmp_path / "daemon.json").write_text("{not json")
    with pytest.raises(InvalidArgument, match="daemon.json"):
        cluster.store_url(str(tmp_path))


def test_unreachable_store_is_one_clear_line():
    c = Client(f"etcd://127.0.0.1:{free_port()},127.0.0.1:{free_port()}", timeout=0.5)
    with pytest.raises(StoreUnavailable, match="unreachable.*start etcd") as e:
        c.get("/x")
    assert "\n" not in str(e.value)


# the client

def test_cas_create_and_guarded_delete(client):
    assert client.create("/t/k", "one")
    assert not client.create("/t/k", "two")
    assert client.get("/t/k").value == "one"
    assert not client.delete("/t/k", "two")
    assert client.delete("/t/k", "one")
    assert client.get("/t/k") is None


def test_watch_delivers_puts_and_deletes(client):
    _, rev = client.get_prefix("/w/")
    watch = client.watch_prefix("/w/", rev + 1)
    try:
        assert watch.events(0.2) == []
        client.put("/w/a", "1")
        client.put("/w/b", "2")
        client.delete("/w/a")
        seen = []
        deadline = time.monotonic() + 5
        while len(seen) < 3 and time.monotonic() < deadline:
            seen += watch.events(0.5)
        assert seen == [("PUT", "/w/a", "1"), ("PUT", "/w/b", "2"), ("DELETE", "/w/a", "")]
    finally:
        watch.close()


def test_watch_from_a_compacted_revision_fails_loudly(client):
    """etcd cancels a watch whose start revision it compacted away: the events it would have sent
    are lost, so the watcher must hear of it (and re-read), not wait forever on a silent stream."""
    client.put("/c/a", "1")
    _, old = client.get_prefix("/c/")
    client.put("/c/a", "2")
    _, now = client.get_prefix("/c/")
    client.call("/v3/kv/compaction", {"revision": str(now), "physical": True})
    watch = client.watch_prefix("/c/", old)
    try:
        with pytest.raises(StoreUnavailable, match="cancelled the watch.*compacted"):
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                watch.events(0.5)
    finally:
        watch.close()


def test_agent_folds_watch_events_per_network():
    from mydocker.network import overlay
    p = "/mydocker/endpoints/"
    state = {f"{p}ovl/c1": json.dumps({"ip": "10.0.0.2"})}
    changed = overlay.apply_events(state, [("PUT", f"{p}ovl/c1", state[f"{p}ovl/c1"]),  # no change
                                     ("PUT", f"{p}other/c2", json.dumps({"ip": "10.1.0.2"})),
                                     ("DELETE", f"{p}gone/c3", "")])               # not known
    assert changed == {"other"}
    assert overlay.apply_events(state, [("DELETE", f"{p}ovl/c1", "")]) == {"ovl"}
    assert overlay.endpoints_by_network(state) == {"other": [{"ip": "10.1.0.2"}]}


def test_overlay_mac_follows_the_address():
    from mydocker.network.links import ip_mac
    assert ip_mac("10.252.0.4") == "02:42:0a:fc:00:04"
    assert ip_mac("10.252.0.4") != ip_mac("10.252.0.5")


def test_lease_expiry_removes_records(client):
    lease = client.lease_grant(2)
    client.put("/l/x", "v", lease)
    assert client.lease_keepalive(lease) == 2
    deadline = time.monotonic() + 10
    while client.get("/l/x") is not None and time.monotonic() < deadline:
        time.sleep(0.25)
    assert client.get("/l/x") is None
    assert client.lease_keepalive(lease) == 0


# the cluster store

def test_network_definition_is_shared_and_checked(client, tmp_path):
    a, b = store(client, tmp_path, "a"), store(client, tmp_path, "b")
    first = a.create_network("ovl", "10.88.0.0/16", "10.88.0.1", "id1", "now")
    assert b.create_network("ovl", "10.88.0.0/16", "10.88.0.1", "id2", "now") == first  # joins it
    with pytest.raises(Conflict, match="subnet 10.88.0.0/16"):
        b.create_network("ovl", "10.89.0.0/16", "10.89.0.1", "id3", "now")
    with pytest.raises(Conflict, match="overlaps"):
        b.create_network("other", "10.88.5.0/24", "10.88.5.1", "id4", "now")
    second = b.create_network("two", "10.90.0.0/24", "10.90.0.1", "id5", "now")
    assert second["vni"] != first["vni"]
    assert [n["name"] for n in a.networks()] == ["ovl", "two"]


def test_concurrent_hosts_never_share_an_address(client, tmp_path):
    """3 hosts x 20 concurrent allocations: 60 distinct addresses (threads here stand for hosts)."""
    hosts = [store(client, tmp_path, f"h{i}") for i in range(3)]
    hosts[0].create_network("ovl", "10.88.0.0/24", "10.88.0.1", "id", "now")
    got, errors = [], []

    def run(h, n):
        try:
            got.append(h.allocate("ovl", f"c{n}"))
        except Exception as e:  # noqa: BLE001
            errors.append(e)
    threads = [threading.Thread(target=run, args=(h, f"{i}-{n}")) for i, h in enumerate(hosts) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(got) == 60 and len(set(got)) == 60
    assert "10.88.0.1" not in got


def test_exhaustion_and_fixed_ip(client, tmp_path):
    a = store(client, tmp_path, "a")
    a.create_network("tiny", "10.91.0.0/30", "10.91.0.1", "id", "now")
    assert a.allocate("tiny", "c1") == "10.91.0.2"
    with pytest.raises(Conflict, match="no free address"):
        a.allocate("tiny", "c2")
    a.release("tiny", "c1", "10.91.0.2")
    with pytest.raises(InvalidArgument):
        a.allocate("tiny", "c3", "10.91.0.1")
    assert a.allocate("tiny", "c3", "10.91.0.2") == "10.91.0.2"
    with pytest.raises(Conflict, match="already in use"):
        store(client, tmp_path, "b").allocate("tiny", "c4", "10.91.0.2")


def test_release_only_frees_own_address(client, tmp_path):
    a, b = store(client, tmp_path, "a"), store(client, tmp_path, "b")
    a.create_network("ovl", "10.92.0.0/24", "10.92.0.1", "id", "now")
    ip = a.allocate("ovl", "c1")
    b.release("ovl", "c1", ip)  # not b's
    assert client.get(f"{cluster.PREFIX}ipam/ovl/{ip}") is not None


def test_endpoints_and_network_removal(client, tmp_path):
    a = store(client, tmp_path, "a")
    a.create_network("ovl", "10.93.0.0/24", "10.93.0.1", "id", "now")
    a.register_host("192.0.2.1")
    ip = a.allocate("ovl", "c1")
    a.publish("ovl", {"container": "c1", "name": "web", "ip": ip, "mac": "02:00:00:00:00:01", "vtep": "192.0.2.1"})
    assert a.hosts() == {a.host: {"vtep": "192.0.2.1"}}
    [ep] = a.endpoints("ovl")
    assert ep["name"] == "web" and ep["host"] == a.host
    with pytest.raises(Conflict, match="still has endpoints"):
        a.remove_network("ovl")
    a.unpublish("ovl", "c1")
    a.release("ovl", "c1", ip)
    a.remove_network("ovl")
    assert a.network("ovl") is None and not client.get_prefix(f"{cluster.PREFIX}vni/")[0]


def test_host_identity_and_lease_persist(client, tmp_path):
    a = store(client, tmp_path, "a")
    again = store(client, tmp_path, "a")
    assert a.host == again.host
    assert a.lease() == again.lease()


def test_dead_host_records_expire(client, tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "LEASE_TTL", 2)
    a = store(client, tmp_path, "a")
    a.create_network("ovl", "10.94.0.0/24", "10.94.0.1", "id", "now")
    a.register_host("192.0.2.1")
    ip = a.allocate("ovl", "c1")
    a.publish("ovl", {"container": "c1", "name": "web", "ip": ip, "mac": "", "vtep": "192.0.2.1"})
    deadline = time.monotonic() + 10  # nobody renews: the host "died"
    while a.endpoints("ovl") and time.monotonic() < deadline:
        time.sleep(0.25)
    assert a.endpoints("ovl") == [] and a.hosts() == {}
    assert client.get(f"{cluster.PREFIX}ipam/ovl/{ip}") is None  # its address is free again


def test_store_outage_fails_clearly_and_recovers(etcd, client, tmp_path):
    a = store(client, tmp_path, "a")
    a.create_network("ovl", "10.95.0.0/24", "10.95.0.1", "id", "now")
    etcd.stop()
    try:
        with pytest.raises(StoreUnavailable, match="unreachable"):
            a.allocate("ovl", "c1")
    finally:
        etcd.start()
    assert a.allocate("ovl", "c1") == "10.95.0.2"

"""Kubernetes' Container Runtime Interface: a private containerd's CRI plugin runs pods on
mydocker-runtime, driven over gRPC by the Python CRI client (PyPI container-runtime-interface-api,
v1), the calls a kubelet makes. The same test code runs with runc as the handler: what passes there
must pass with ours. Skips, saying why, only when containerd, its CRI plugin or the client is missing.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from tests import crikit

pytestmark = pytest.mark.slow
HANDLERS = ("mydocker", "runc")
CGROUP_PARENT = f"/mydocker-cri-{os.getpid()}"
TIMEOUT = 30  # every CRI call: nothing may hang


@pytest.fixture(scope="module")
def containerd(bindir, tmp_path_factory):
    for binary in ("containerd", "ctr", "runc"):
        if not crikit.find(binary):
            pytest.skip(f"{binary} is not installed (apt-get install {binary})")
    if not os.path.exists("/usr/lib/cni/bridge"):
        pytest.skip("the CNI plugins are not installed (apt-get install containernetworking-plugins)")
    pytest.importorskip("cri_api",
                        reason="the CRI client is not installed (pip install container-runtime-interface-api)")
    base = tmp_path_factory.mktemp("mydocker-cri")
    netns_before = host_netns()
    daemon = crikit.Containerd(base, {"mydocker": os.path.join(bindir, "mydocker-runtime"),
                                      "runc": crikit.find("runc")})
    try:
        daemon.start()
        if not daemon.has_cri():
            pytest.skip(f"this containerd has no working CRI plugin: {daemon.log_tail(500)}")
        daemon.import_images()
        yield daemon
    finally:
        daemon.stop()
        leftover = daemon.shims()
        for pid in leftover:  # started by this daemon: a failed test may leave them
            os.kill(pid, 9)
        daemon.unmount_all()
        crikit.remove_cgroup_tree(CGROUP_PARENT)
        crikit.remove_netns(host_netns() - netns_before)
        daemon.remove_bridge()
        assert not leftover, f"shims left running after the tests: {leftover}"


def host_netns() -> set[str]:
    """The named netns containerd's CRI makes (cni-<uuid>); others' (podman's netns-<uuid>, on this
    shared host or from another test) are not this daemon's doing."""
    names = os.listdir("/var/run/netns") if os.path.isdir("/var/run/netns") else []
    return {n for n in names if n.startswith("cni-")}


def bridge_ports(bridge: str) -> set[str]:
    path = f"/sys/class/net/{bridge}/brif"
    return set(os.listdir(path)) if os.path.isdir(path) else set()


def cni_results(network: str) -> set[str]:
    path = "/var/lib/cni/results"
    return {n for n in os.listdir(path) if n.startswith(network)} if os.path.isdir(path) else set()


def ipam_leases(daemon) -> set[str]:
    path = daemon.ipam_dir / daemon.network
    return {n for n in os.listdir(path) if n[0].isdigit()} if path.is_dir() else set()


class Pods:
    """The CRI calls of one test, for one handler; tears down what it made, then checks nothing is left."""

    def __init__(self, daemon, handler: str, logs: str) -> None:
        from cri_api.v1 import api_pb2 as pb
        self.pb, self.daemon, self.handler, self.logs = pb, daemon, handler, logs
        self.rt, self.images = crikit.cri_stubs(daemon.sock)
        self.pods: list[str] = []

    def run_pod(self, name: str, host_network: bool = False) -> tuple[str, object]:
        pb = self.pb
        ns = pb.NamespaceOption(network=pb.NODE if host_network else pb.POD, pid=pb.POD, ipc=pb.POD)
        # as the kubelet: no hostname for a pod on the host's network (it has no UTS namespace of its own)
        config = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, uid=f"uid-{name}-{self.handler}", namespace="default"),
            hostname="" if host_network else name, log_directory=os.path.join(self.logs, name),
            linux=pb.LinuxPodSandboxConfig(cgroup_parent=CGROUP_PARENT,
                                           security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns)))
        os.makedirs(config.log_directory, exist_ok=True)
        pod = self.rt.RunPodSandbox(pb.RunPodSandboxRequest(config=config, runtime_handler=self.handler),
                                    timeout=TIMEOUT).pod_sandbox_id
        self.pods.append(pod)
        return pod, config

    def create(self, pod: str, pod_config, name: str, command: list[str], resources=None) -> str:
        pb = self.pb
        config = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=name), image=pb.ImageSpec(image=crikit.BUSYBOX_IMAGE),
            command=command, log_path=f"{name}.log",
            linux=pb.LinuxContainerConfig(resources=resources, security_context=pb.LinuxContainerSecurityContext(
                namespace_options=pod_config.linux.security_context.namespace_options)))
        cid = self.rt.CreateContainer(pb.CreateContainerRequest(pod_sandbox_id=pod, config=config,
                                                                sandbox_config=pod_config),
                                                                timeout=TIMEOUT).container_id
        self.rt.StartContainer(pb.StartContainerRequest(container_id=cid), timeout=TIMEOUT)
        return cid

    def status(self, cid: str):
        return self.rt.ContainerStatus(self.pb.ContainerStatusRequest(container_id=cid, verbose=True),
                                       timeout=TIMEOUT)

    def pid(self, cid: str) -> int:
        return json.loads(self.status(cid).info["info"])["pid"]

    def exec(self, cid: str, *cmd: str):
        return self.rt.ExecSync(self.pb.ExecSyncRequest(container_id=cid, cmd=list(cmd), timeout=20),
                                timeout=TIMEOUT)

    def teardown(self) -> None:
        pb = self.pb
        for pod in self.pods:
            self.rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod), timeout=TIMEOUT)
            self.rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=TIMEOUT)


@pytest.fixture(params=HANDLERS)
def pods(request, containerd, tmp_path):
    netns, results = host_netns(), cni_results(containerd.network)
    session = Pods(containerd, request.param, str(tmp_path / "logs"))
    try:
        yield session
    finally:
        session.teardown()
    pb = session.pb
    assert not session.rt.ListPodSandbox(pb.ListPodSandboxRequest(), timeout=TIMEOUT).items
    assert not session.rt.ListContainers(pb.ListContainersRequest(), timeout=TIMEOUT).containers
    deadline = time.monotonic() + 10
    while containerd.shims() and time.monotonic() < deadline:  # a shim exits just after its task's delete
        time.sleep(0.05)
    left = {"shims": containerd.shims(), "netns": sorted(host_netns() - netns),
            "cni results": sorted(cni_results(containerd.network) - results),
            "ip leases": sorted(ipam_leases(containerd)),
            "bridge ports": sorted(bridge_ports(containerd.bridge)),
            "cgroups": [d.name for d in os.scandir(f"/sys/fs/cgroup/memory{CGROUP_PARENT}") if d.is_dir()]
            if os.path.isdir(f"/sys/fs/cgroup/memory{CGROUP_PARENT}") else [],
            "processes": sorted(ours())}
    assert not any(left.values()), f"left behind: {left}"


def ours() -> dict[int, bytes]:
    """The tests' container processes on the host (pid: cmdline): `sleep 970NN`, numbers no one else uses."""
    found = {}
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if cmdline.startswith(b"sleep\x00970"):
            found[int(pid)] = cmdline
    return found


def cgroup_file(pid: int, controller: str, name: str) -> str:
    with open(f"/proc/{pid}/cgroup") as f:
        path = next(line.strip().split(":", 2)[2] for line in f
                    if controller in line.split(":")[1].split(","))
    with open(f"/sys/fs/cgroup/{controller}{path}/{name}") as f:
        return f.read().strip()


def test_pod_on_cni_network(pods):
    pb = pods.pb
    pod, config = pods.run_pod("web")
    status = pods.rt.PodSandboxStatus(pb.PodSandboxStatusRequest(pod_sandbox_id=pod), timeout=TIMEOUT).status
    assert status.state == pb.SANDBOX_READY
    ip = status.network.ip
    assert ip.startswith("10.199.21."), status
    mib = 1 << 20
    resources = pb.LinuxContainerResources(memory_limit_in_bytes=64 * mib, cpu_period=100000, cpu_quota=50000,
                                           cpu_shares=512)
    # TERM is ignored (so Stop must KILL after its timeout) and a child is left in the shared PID namespace
    main = pods.create(pod, config, "main", ["sh", "-c", "echo hello; echo oops >&2; trap '' TERM; "
                                             "sleep 97001 & exec sleep 97002"],
                       resources)
    st = pods.status(main).status
    assert st.state == pb.CONTAINER_RUNNING, st
    # CRI-format logs: "<RFC 3339 time> <stream> F <line>"
    log = os.path.join(config.log_directory, "main.log")
    deadline = time.monotonic() + 5
    while not (os.path.exists(log) and "oops" in open(log).read()):
        assert time.monotonic() < deadline, f"no CRI log at {log}"
        time.sleep(0.05)
    lines = [line.split(" ", 3) for line in open(log).read().splitlines()]
    assert sorted((stream, tag, text) for _, stream, tag, text in lines) == [("stderr", "F", "oops"),
                                                                           ("stdout", "F", "hello")]
    assert all(stamp[:4].isdigit() and "T" in stamp for stamp, *_ in lines)
    # ExecSync: output and exit codes
    ran = pods.exec(main, "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (ran.stdout, ran.stderr, ran.exit_code) == (b"out\n", b"err\n", 3)
    assert pods.exec(main, "true").exit_code == 0
    assert ip in pods.exec(main, "ip", "-4", "addr", "show", "eth0").stdout.decode()
    # resource limits, then UpdateContainerResources, as the host's cgroup files show them
    pid = pods.pid(main)
    assert cgroup_file(pid, "memory", "memory.limit_in_bytes") == str(64 * mib)
    assert cgroup_file(pid, "cpu", "cpu.cfs_quota_us") == "50000"
    assert cgroup_file(pid, "cpu", "cpu.shares") == "512"
    pods.rt.UpdateContainerResources(pb.UpdateContainerResourcesRequest(
        container_id=main, linux=pb.LinuxContainerResources(memory_limit_in_bytes=96 * mib, cpu_period=100000,
                                                            cpu_quota=30000, cpu_shares=256)), timeout=TIMEOUT)
    assert cgroup_file(pid, "memory", "memory.limit_in_bytes") == str(96 * mib)
    assert cgroup_file(pid, "cpu", "cpu.cfs_quota_us") == "30000"
    assert cgroup_file(pid, "cpu", "cpu.shares") == "256"
    stats = pods.rt.ContainerStats(pb.ContainerStatsRequest(container_id=main), timeout=TIMEOUT).stats
    assert stats.attributes.id == main and stats.memory.working_set_bytes.value > 0
    assert stats.cpu.usage_core_nano_seconds.value > 0
    # a second container shares the pod's network and PID namespaces
    side = pods.create(pod, config, "side", ["sleep", "97003"])
    for ns in ("net", "pid"):
        mine, theirs = (pods.exec(c, "readlink", f"/proc/self/ns/{ns}").stdout for c in (main, side))
        assert mine == theirs and mine, ns
    assert b"97002" in pods.exec(side, "ps", "-o", "args").stdout  # main's process, seen from side
    assert ip in pods.exec(side, "ip", "-4", "addr", "show", "eth0").stdout.decode()
    # StopContainer: TERM (ignored), KILL after the timeout; the child left in the shared PID ns dies too
    began = time.monotonic()
    pods.rt.StopContainer(pb.StopContainerRequest(container_id=main, timeout=2), timeout=TIMEOUT)
    took = time.monotonic() - began
    assert 1.9 < took < 15, f"StopContainer took {took:.1f}s"
    st = pods.status(main).status
    assert st.state == pb.CONTAINER_EXITED and st.exit_code == 137, st
    deadline = time.monotonic() + 5
    while any(b"97001" in cmdline for cmdline in ours().values()):
        assert time.monotonic() < deadline, "the child of the stopped container outlived it"
        time.sleep(0.05)
    pods.rt.RemoveContainer(pb.RemoveContainerRequest(container_id=main), timeout=TIMEOUT)
    ids = [c.id for c in pods.rt.ListContainers(pb.ListContainersRequest(), timeout=TIMEOUT).containers]
    assert ids == [side]
    pods.rt.StopContainer(pb.StopContainerRequest(container_id=side, timeout=10), timeout=TIMEOUT)  # TERM is enough
    assert pods.status(side).status.exit_code == 143
    pods.rt.RemoveContainer(pb.RemoveContainerRequest(container_id=side), timeout=TIMEOUT)


def test_exit_on_its_own_is_recorded(pods):
    """The container exits by itself: its exit code is seen within a second, and the pod tears down."""
    pb = pods.pb
    pod, config = pods.run_pod("job")
    began = time.monotonic()
    cid = pods.create(pod, config, "job", ["sh", "-c", "exit 7"])
    while (st := pods.status(cid).status).state != pb.CONTAINER_EXITED:
        assert time.monotonic() - began < 1.0, f"no exit recorded after a second: {st}"
        time.sleep(0.02)
    assert st.exit_code == 7
    # a sibling still running when the pod is stopped: StopPodSandbox stops it
    pods.create(pod, config, "left", ["sleep", "97004"])
    pods.rt.RemoveContainer(pb.RemoveContainerRequest(container_id=cid), timeout=TIMEOUT)


def test_pod_on_host_network(pods):
    pb = pods.pb
    pod, config = pods.run_pod("hostnet", host_network=True)
    cid = pods.create(pod, config, "main", ["sleep", "97005"])
    assert pods.exec(cid, "readlink", "/proc/self/ns/net").stdout.decode().strip() == os.readlink("/proc/self/ns/net")
    assert pods.exec(cid, "sh", "-c", "exit 5").exit_code == 5
    pods.rt.StopContainer(pb.StopContainerRequest(container_id=cid, timeout=5), timeout=TIMEOUT)
    pods.rt.RemoveContainer(pb.RemoveContainerRequest(container_id=cid), timeout=TIMEOUT)

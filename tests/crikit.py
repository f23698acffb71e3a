"""A private containerd with its CRI plugin on, for the CRI tests and bench/cri.py: its own root,
state, socket, runtime roots, CNI config and IPAM dir, all under one base directory; a bridge of its
own; images built here (busybox from the host's busybox-static, a pause image whose process waits
for signals) and imported with `ctr -n k8s.io images import`. Nothing touches a system containerd.

Runtime handlers: "runc" (runc), "mydocker" (mydocker-runtime), and "crun" when asked; each is
containerd's `io.containerd.runc.v2` shim with `options.BinaryName`, as the README sets it up.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

# Set before grpc loads (it reads it then): grpc's fork handlers restart its threads in the parent
# right after a fork, and the runtime forks its init from inside unshare(CLONE_NEWPID), where no
# thread can be made, so grpc aborts the process. The suite runs in one process: once the CRI tests
# have loaded grpc, every later in-process create would die (tests/integration/test_grpc_fork.py).
os.environ["GRPC_ENABLE_FORK_SUPPORT"] = "false"

NAMESPACE = "k8s.io"  # the CRI plugin's containerd namespace
PAUSE_IMAGE = "localhost/mydocker-pause:1"
BUSYBOX_IMAGE = "localhost/mydocker-busybox:1"
# pid 1 of a pod: waits for signals, exits on TERM/INT, reaps what is re-parented to it (ash's wait)
PAUSE_CMD = ["/bin/sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait; done"]


def find(binary: str) -> str | None:
    return shutil.which(binary) or next((p for p in (f"/usr/bin/{binary}", f"/usr/sbin/{binary}")
                                         if os.path.exists(p)), None)


def build_image_archives(base: Path) -> list[Path]:
    """docker-archives of the busybox and pause images (one busybox layer each)."""
    from mydocker.image.busybox import build_layer, find_host_busybox
    from tests.imagekit import docker_archive
    layer_path = base / "busybox-layer.tar"
    with open(layer_path, "wb") as out:
        build_layer(find_host_busybox(), out)
    layer = layer_path.read_bytes()
    layer_path.unlink()
    archives = []
    for name, tag, cmd in (("busybox", BUSYBOX_IMAGE, ["sh"]), ("pause", PAUSE_IMAGE, PAUSE_CMD)):
        path = base / f"{name}.tar"
        path.write_bytes(docker_archive([layer], [tag], cmd=cmd))
        archives.append(path)
    return archives


def cni_config(name: str, bridge: str, subnet: str, ipam_dir: Path) -> dict:
    """A bridge network of its own: no masquerade (no firewall rules on the host), its own IPAM dir."""
    return {"cniVersion": "0.4.0", "name": name, "plugins": [{
        "type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": False, "hairpinMode": True,
        "ipam": {"type": "host-local", "dataDir": str(ipam_dir), "ranges": [[{"subnet": subnet}]],
                 "routes": [{"dst": "0.0.0.0/0"}]}}]}


class Containerd:
    """containerd with the CRI plugin, under `base`; `handlers` maps a runtime handler to a binary."""

    def __init__(self, base: Path, handlers: dict[str, str], bridge: str = "mydocker-cri0",
                 subnet: str = "10.199.21.0/24") -> None:
        self.base, self.handlers, self.bridge, self.subnet = base, handlers, bridge, subnet
        self.sock = str(base / "containerd.sock")
        self.network = f"{bridge}-net"
        self.ipam_dir = base / "cni-ipam"
        self.proc: subprocess.Popen | None = None

    def config(self) -> str:
        b = self.base
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        lines = [
            "version = 2", f'root = "{b}/root"', f'state = "{b}/state"',
            'disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",'
            ' "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper",'
            ' "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]',
            f'[grpc]\n  address = "{self.sock}"', f'[ttrpc]\n  address = "{self.sock}.ttrpc"',
            '[debug]\n  address = ""', '[metrics]\n  address = ""',
            f'[plugins."io.containerd.internal.v1.opt"]\n  path = "{b}/opt"',
            f'[{cri}]\n  sandbox_image = "{PAUSE_IMAGE}"\n  stream_server_address = "127.0.0.1"\n'
            '  stream_server_port = "0"\n  enable_selinux = false\n  disable_apparmor = true\n'
            # root here lacks CAP_SYS_RESOURCE: a pause's -998 could not be set, by runc either
            '  restrict_oom_score_adj = true',
            f'[{cri}.cni]\n  bin_dir = "/usr/lib/cni"\n  conf_dir = "{b}/cni"\n  max_conf_num = 1',
            f'[{cri}.containerd]\n  snapshotter = "overlayfs"\n  default_runtime_name = "{next(iter(self.handlers))}"',
        ]
        for name, binary in self.handlers.items():
            lines.append(f'[{cri}.containerd.runtimes.{name}]\n  runtime_type = "io.containerd.runc.v2"\n'
                         f'[{cri}.containerd.runtimes.{name}.options]\n  BinaryName = "{binary}"\n'
                         f'  Root = "{b}/runtime-{name}"\n  SystemdCgroup = false')
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 30) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        (self.base / "cni").mkdir(exist_ok=True)
        (self.base / "cni" / "10-mydocker.conflist").write_text(
            json.dumps(cni_config(self.network, self.bridge, self.subnet, self.ipam_dir)))
        (self.base / "config.toml").write_text(self.config())
        log = open(self.base / "containerd.log", "w")
        self.proc = subprocess.Popen([find("containerd") or "containerd", "--config", str(self.base / "config.toml")],
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"containerd did not start: {self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return (self.base / "containerd.log").read_text()[-chars:]
        except OSError:
            return ""

    def ctr(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([find("ctr") or "ctr", "-a", self.sock, "-n", NAMESPACE, *args], capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=True)

    def import_images(self) -> None:
        for archive in build_image_archives(self.base):
            self.ctr("images", "import", str(archive))

    def has_cri(self) -> bool:
        out = self.ctr("plugins", "ls").stdout
        return any(line.split()[:2] == ["io.containerd.grpc.v1", "cri"] and line.split()[-1] == "ok"
                   for line in out.splitlines() if line.strip())

    def shims(self) -> list[int]:
        """Pids of the shims this containerd started (their command line names its socket)."""
        found = []
        for pid in (p for p in os.listdir("/proc") if p.isdigit()):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"containerd-shim-runc-v2") and self.sock.encode() in argv:
                found.append(int(pid))
        return found

    def stop(self) -> None:
        """Stop containerd by its pid; kill the shims it started if a test left them (by pid)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def remove_bridge(self) -> None:
        """The bridge plugin never removes its bridge: ours goes with the daemon."""
        if os.path.exists(f"/sys/class/net/{self.bridge}"):
            subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)

    def unmount_all(self) -> None:
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f if line.split()[4].startswith(str(self.base))]
        for point in sorted(points, key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True)


def cri_stubs(sock: str):
    """(runtime, image) service stubs of CRI v1 over containerd's socket."""
    import grpc
    from cri_api.v1 import api_pb2_grpc
    channel = grpc.insecure_channel(f"unix://{sock}")
    return api_pb2_grpc.RuntimeServiceStub(channel), api_pb2_grpc.ImageServiceStub(channel)


def kill_cgroup_tree(name: str) -> list[int]:
    """SIGKILL, by pid, every process left under the pods' cgroup parent (a failed test's pods: the
    shims are gone, their containers not). Returns the pids."""
    pids = set()
    for dirpath, _, files in os.walk(f"/sys/fs/cgroup/pids/{name.strip('/')}"):
        if "cgroup.procs" in files:
            with open(os.path.join(dirpath, "cgroup.procs")) as f:
                pids.update(int(p) for p in f.read().split())
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return sorted(pids)


def remove_netns(names: set[str]) -> None:
    """`ip netns del` the network namespaces a failed test's pods left (their CNI DEL never ran)."""
    for name in names:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def remove_cgroup_tree(name: str) -> None:
    """Remove the pods' cgroup parent (containerd leaves the parent it was given), deepest first."""
    if kill_cgroup_tree(name):
        time.sleep(0.2)  # let the killed leave their cgroups
    for top in os.listdir("/sys/fs/cgroup"):
        path = os.path.join("/sys/fs/cgroup", top, name.strip("/"))
        if os.path.isdir(path) and not os.path.islink(path):
            for dirpath, _, _ in sorted(os.walk(path, topdown=False), key=lambda w: -len(w[0])):
                try:
                    os.rmdir(dirpath)
                except OSError:
                    pass

"""A Kubernetes pod's start and teardown through containerd's CRI plugin, with mydocker-runtime, runc
and crun as the runtime handler (each containerd's `io.containerd.runc.v2` shim with BinaryName), in
one run of one private containerd, printed as ratios to runc.

    python3 bench/cri.py [--runs 20] [--host-network] [--json FILE]

- pod start: RunPodSandbox (the pause container, and CNI ADD on a private bridge unless
  --host-network) + CreateContainer + StartContainer of `sleep 3600`;
- teardown: StopPodSandbox + RemovePodSandbox (the container killed, CNI DEL, both tasks deleted).

Handlers take turns pod by pod, so background load hits each alike; two untimed pods per handler
first. The private containerd, its images (busybox and a pause image built from the host's
busybox-static) and its CNI bridge are those of the CRI tests (tests/crikit.py), so this needs the
test extra's CRI client (`pip install container-runtime-interface-api`). crun 1.8 cannot create
cgroups on a hybrid host while /sys/fs/cgroup/unified holds only hugetlb: its handler is a wrapper
that runs each crun call in `unshare -m` with a tmpfs over that directory (as runtime_latency.py does).
Target: mydocker-runtime ≤ 1.0× runc on both. Timings on a loaded host are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from _common import Result, Stats, print_table, results_json  # noqa: E402

CGROUP_PARENT = f"/mydocker-cri-bench-{os.getpid()}"
CRUN_WRAPPER = """#!/bin/sh
# crun with a tmpfs over the unified hierarchy, in a private mount namespace (see bench/cri.py)
exec unshare --mount --propagation private /bin/sh -c \
  'mount -t tmpfs none /sys/fs/cgroup/unified 2>/dev/null; exec {crun} "$@"' crun "$@"
"""


def handlers(base: Path) -> dict[str, str]:
    from mydocker import launcher
    bindir = base / "bin"
    launcher.install(str(bindir))
    found = {"runc": shutil.which("runc") or "/usr/sbin/runc", "mydocker": str(bindir / "mydocker-runtime")}
    crun = shutil.which("crun")
    if crun and shutil.which("unshare"):
        wrapper = bindir / "crun-hybrid"
        wrapper.write_text(CRUN_WRAPPER.format(crun=crun))
        wrapper.chmod(0o755)
        found["crun"] = str(wrapper)
    return found


class Bench:
    def __init__(self, sock: str, logs: Path, host_network: bool) -> None:
        from cri_api.v1 import api_pb2 as pb
        from tests.crikit import cri_stubs
        self.pb, self.logs, self.host_network = pb, logs, host_network
        self.rt, _ = cri_stubs(sock)
        self.n = 0

    def pod(self, handler: str) -> tuple[float, float]:
        """(start, teardown) of one pod in milliseconds."""
        pb = self.pb
        self.n += 1
        name = f"bench-{handler}-{self.n}"
        ns = pb.NamespaceOption(network=pb.NODE if self.host_network else pb.POD)
        config = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, uid=name, namespace="bench"),
            hostname="" if self.host_network else name, log_directory=str(self.logs / name),
            linux=pb.LinuxPodSandboxConfig(cgroup_parent=CGROUP_PARENT,
                                           security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns)))
        from tests.crikit import BUSYBOX_IMAGE
        container = pb.ContainerConfig(metadata=pb.ContainerMetadata(name="main"),
                                       image=pb.ImageSpec(image=BUSYBOX_IMAGE),
                                       command=["sleep", "3600"], log_path="main.log")
        t0 = time.perf_counter()
        pod = self.rt.RunPodSandbox(pb.RunPodSandboxRequest(config=config, runtime_handler=handler),
                                    timeout=60).pod_sandbox_id
        cid = self.rt.CreateContainer(pb.CreateContainerRequest(pod_sandbox_id=pod, config=container,
                                                                sandbox_config=config), timeout=60).container_id
        self.rt.StartContainer(pb.StartContainerRequest(container_id=cid), timeout=60)
        t1 = time.perf_counter()
        self.rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod), timeout=60)
        self.rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)
        t2 = time.perf_counter()
        return (t1 - t0) * 1000, (t2 - t1) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="pods per handler (default 20)")
    parser.add_argument("--warmups", type=int, default=2)
    parser.add_argument("--host-network", action="store_true", help="pods on the host's network: no CNI")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    try:
        import cri_api  # noqa: F401
    except ImportError:
        print("skipped: the CRI client is missing (pip install container-runtime-interface-api)")
        return 0
    from tests import crikit
    base = Path(tempfile.mkdtemp(prefix="mydocker-cri-bench-"))
    tools = handlers(base)
    daemon = crikit.Containerd(base / "containerd", tools, bridge="mydocker-crib0", subnet="10.199.22.0/24")
    samples: dict[str, dict[str, list[float]]] = {"start": {}, "teardown": {}}
    skipped: dict[str, str] = {}
    try:
        daemon.start()
        if not daemon.has_cri():
            print("skipped: this containerd has no CRI plugin")
            return 0
        daemon.import_images()
        bench = Bench(daemon.sock, base / "logs", args.host_network)
        live = list(tools)
        for handler in list(live):
            try:
                for _ in range(args.warmups):
                    bench.pod(handler)
            except Exception as e:  # noqa: BLE001 - a failing tool is reported, not fatal
                skipped[handler] = str(getattr(e, "details", lambda: e)()).splitlines()[0][:200]
                live.remove(handler)
        for _ in range(args.runs):
            for handler in live:
                start, teardown = bench.pod(handler)
                samples["start"].setdefault(handler, []).append(start)
                samples["teardown"].setdefault(handler, []).append(teardown)
    finally:
        daemon.stop()
        daemon.unmount_all()
        crikit.remove_cgroup_tree(CGROUP_PARENT)
        daemon.remove_bridge()
        shutil.rmtree(base, ignore_errors=True)
    names = {"mydocker": "mydocker-runtime", "runc": "runc", "crun": "crun"}
    tables = {}
    for phase, title in (("start", "pod start: RunPodSandbox + CreateContainer + StartContainer"),
                         ("teardown", "pod teardown: StopPodSandbox + RemovePodSandbox")):
        results = [Result(names[h], stats=Stats.of(samples[phase][h])) if h in samples[phase]
                   else Result(names[h], skipped=skipped.get(h, "no samples")) for h in tools]
        print_table(title + (" (host network)" if args.host_network else " (CNI bridge)"), results, "runc")
        print()
        tables[phase] = results
    if args.json:
        Path(args.json).write_text(json.dumps([results_json(k, v, "runc") for k, v in tables.items()], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

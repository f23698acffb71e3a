"""Memory cost of an idle detached container, beyond the container's own processes.

Starts N (default 100) detached `sleep` containers with mydocker, lets them idle, and measures the
PSS (proportional set size: shared pages divided among their sharers) and RSS of what mydocker keeps
running for them: its monitor (engine/monitor.py; one per engine root, parent of every detached
container). The same with podman: N `podman run -d`, the sum over their conmon processes. And a bare
`python3 -c 'sleep'` for scale (a monitor per container written in Python would cost about that).

Target: mydocker <= 1 MB PSS per idle detached container at N = 100.

    python3 bench/idle_cost.py [-n 100] [--no-podman] [--mydocker PATH] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import (BenchError, build_busybox_rootfs, check_run, cgroups_named, mounts_under,  # noqa: E402
                     remove_cgroups, tar_dir, unmount_all)

TARGET_MB = 1.0


def memory_kb(pid: int) -> tuple[int, int]:
    """(Pss, Rss) in kB from /proc/<pid>/smaps_rollup."""
    values = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if parts[0] in ("Pss:", "Rss:"):
                values[parts[0]] = int(parts[1])
    return values["Pss:"], values["Rss:"]


def processes_named(comm: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/comm") as f:
                    if f.read().strip() == comm:
                        found.append(int(name))
            except OSError:
                continue
    return found


def find_mydocker(explicit: str | None) -> str:
    if explicit:
        return explicit
    # this checkout (an installed /usr/local/bin/mydocker may be older: pass --mydocker for it), through the
    # product's own launcher
    bindir = tempfile.mkdtemp(prefix="mdbench-bin-")
    subprocess.run([sys.executable, "-m", "mydocker.launcher", bindir], check=True, capture_output=True,
                   cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.join(bindir, "mydocker")


def measure_mydocker(tmp: Path, exe: str, n: int) -> dict:
    base = [exe, "--root", str(tmp / "md-root"), "--runroot", str(tmp / "md-run")]
    env = {**os.environ, "MYDOCKER_MONITOR_IDLE": "1"}
    started = time.monotonic()
    ids = []
    try:
        for _ in range(n):
            ids.append(check_run([*base, "run", "-d", "--network", "none", "busybox", "sleep", "100000"], env,
                                 timeout=300).strip())
        took = time.monotonic() - started
        time.sleep(2)  # idle
        with open(tmp / "md-run" / "monitor.lock") as f:
            monitor = int(f.read())
        pss, rss = memory_kb(monitor)
        monitors = 1
    finally:
        for i in range(0, len(ids), 20):
            subprocess.run([*base, "rm", "-f", *ids[i:i + 20]], env=env, capture_output=True)
        _wait_monitor_exit(tmp / "md-run")
    return {"tool": "mydocker", "containers": n, "processes": monitors, "pss_kb": pss, "rss_kb": rss,
            "start_seconds": round(took, 1), "note": "one monitor per engine root"}


def _wait_monitor_exit(runroot: Path, timeout: float = 10) -> None:
    """The monitor leaves MYDOCKER_MONITOR_IDLE seconds after its last container: no process is left."""
    try:
        pid = int((runroot / "monitor.lock").read_text())
    except (OSError, ValueError):
        return
    deadline = time.monotonic() + timeout
    while _cmdline_has(pid, "mydocker.engine.monitor") and time.monotonic() < deadline:
        time.sleep(0.1)


def measure_podman(tmp: Path, n: int, tag: str) -> dict:
    from run_latency import IMAGE, podman_contender
    rootfs_tar = tar_dir(build_busybox_rootfs(tmp / "rootfs"), tmp / "rootfs.tar")
    contender = podman_contender(tmp, rootfs_tar, f"/{tag}/podman")
    if not hasattr(contender, "cmd"):
        return {"tool": "podman/conmon", "skipped": contender.skipped}
    podman = contender.cmd[:contender.cmd.index("run")]
    env = contender.env
    ids = []
    started = time.monotonic()
    try:
        for _ in range(n):
            ids.append(check_run([*podman, "run", "-d", "--network", "none", "--cgroup-parent", f"/{tag}/podman",
                                  "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=20000:20000",
                                  IMAGE, "sleep", "100000"], env).strip())
        took = time.monotonic() - started
        time.sleep(2)
        conmons = [pid for pid in processes_named("conmon") if _cmdline_has(pid, str(tmp))]
        pss = rss = 0
        for pid in conmons:
            p, r = memory_kb(pid)
            pss, rss = pss + p, rss + r
    finally:
        for i in range(0, len(ids), 20):
            subprocess.run([*podman, "rm", "-f", "-t", "0", *ids[i:i + 20]], env=env, capture_output=True)
    return {"tool": "podman/conmon", "containers": n, "processes": len(conmons), "pss_kb": pss, "rss_kb": rss,
            "start_seconds": round(took, 1), "note": "one conmon per container"}


def _cmdline_has(pid: int, text: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return text.encode() in f.read()
    except OSError:
        return False


def measure_python() -> dict:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.5)
        pss, rss = memory_kb(proc.pid)
    finally:
        proc.kill()
        proc.wait()
    return {"tool": "bare python3", "containers": 1, "processes": 1, "pss_kb": pss, "rss_kb": rss,
            "note": "what a monitor per container in Python would cost"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100, help="containers (default 100)")
    parser.add_argument("--no-podman", action="store_true", help="skip podman")
    parser.add_argument("--mydocker", help="the mydocker executable (default: this checkout)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    tag = f"mdbench-{uuid.uuid4().hex[:8]}"
    results = []
    with tempfile.TemporaryDirectory(prefix=f"{tag}-") as name:
        tmp = Path(name)
        try:
            results.append(measure_mydocker(tmp, find_mydocker(args.mydocker), args.n))
            if not args.no_podman:
                try:
                    results.append(measure_podman(tmp, args.n, tag))
                except BenchError as e:
                    results.append({"tool": "podman/conmon", "skipped": str(e)})
            results.append(measure_python())
        finally:
            unmount_all(tmp)
            remove_cgroups(tag)  # podman's --cgroup-parent: ours to remove
            leaks = mounts_under(tmp) + cgroups_named(tag)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"Idle cost per detached container (N = {args.n}; target mydocker <= {TARGET_MB} MB PSS)")
    print(f"{'tool':<16}{'processes':>10}{'PSS total':>12}{'PSS/ctr':>10}{'RSS/ctr':>10}   note")
    for r in results:
        if "skipped" in r:
            print(f"{r['tool']:<16}skipped ({r['skipped']})")
            continue
        per = r["containers"]
        print(f"{r['tool']:<16}{r['processes']:>10}{r['pss_kb'] / 1024:>10.2f}MB{r['pss_kb'] / 1024 / per:>8.3f}MB"
              f"{r['rss_kb'] / 1024 / per:>8.3f}MB   {r['note']}")
    if leaks:
        print(f"leak: {leaks}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

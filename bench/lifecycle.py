"""One detached container's life: `run -d` + `stop` + `rm`, mydocker against podman.

Each cycle runs `sleep 100000` detached, stops it with `-t 0` (the stop signal, then SIGKILL at once,
so neither tool waits out a grace period that `sleep` as PID 1 would ignore) and removes it. Cycles
alternate between the tools so background load hits both alike; the per-step medians are printed too.

podman: every path under a temp dir (as bench/run_latency.py sets it up), `--cgroup-manager cgroupfs
--network none --ulimit nofile=20000:20000 --ulimit nproc=20000:20000`, runtime runc, the image
`podman import`ed from the same busybox rootfs. mydocker: private --root/--runroot, its busybox image,
`--network none` as podman.

`--network bridge`: mydocker on its default bridge, podman on a network of the bench's own (its
default one's bridge, podman0, is the host's); each kept up by one idle container for the bench's
duration, as a user's default root keeps its default network (a private root makes it on first use
and removes it with its last container).

Target: mydocker's cycle <= 0.5x podman's with --network none, <= 0.3x with the bridge (median).

    python3 bench/lifecycle.py [--runs 20] [--warmups 2] [--network none|bridge] [--mydocker PATH] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import (BenchError, build_busybox_rootfs, cgroups_named, check_run, mounts_under,  # noqa: E402
                     remove_cgroups, tar_dir, unmount_all)
from idle_cost import _wait_monitor_exit, find_mydocker  # noqa: E402

TARGET = {"none": 0.5, "bridge": 0.3}
NETWORK = "benchnet"  # podman's, for --network bridge
KEEPER = "benchkeeper"
STEPS = ("run -d", "stop", "rm")


def timed(cmd: list[str], env: dict | None) -> tuple[float, str]:
    started = time.perf_counter_ns()
    out = check_run(cmd, env)
    return (time.perf_counter_ns() - started) / 1e6, out.strip()


def cycle(base: list[str], run_args: list[str], env: dict | None) -> list[float]:
    t_run, cid = timed([*base, "run", "-d", *run_args], env)
    t_stop, _ = timed([*base, "stop", "-t", "0", cid], env)
    t_rm, _ = timed([*base, "rm", cid], env)
    return [t_run, t_stop, t_rm]


def keep_networks_up(contenders: dict, skipped: dict[str, str]) -> None:
    """One idle container per tool on the network its cycles use, for the bench's duration."""
    for tool, (base, run_args, env) in contenders.items():
        try:
            if tool == "podman":
                check_run([*base, "network", "create", NETWORK], env)  # a bridge name and subnet free on the host
            check_run([*base, "run", "-d", "--name", KEEPER, *run_args], env)
        except BenchError as e:
            skipped[tool] = f"keeping its network up: {e}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmups", type=int, default=2)
    parser.add_argument("--mydocker", help="the mydocker executable (default: this checkout)")
    parser.add_argument("--network", choices=("none", "bridge"), default="none")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    tag = f"mdbench-{uuid.uuid4().hex[:8]}"
    samples: dict[str, list[list[float]]] = {"mydocker": [], "podman": []}
    skipped: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix=f"{tag}-") as name:
        tmp = Path(name)
        exe = find_mydocker(args.mydocker)
        md_net = ["--network", "none"] if args.network == "none" else []  # [] : the default bridge
        contenders = {"mydocker": ([exe, "--root", str(tmp / "md-root"), "--runroot", str(tmp / "md-run")],
                                   [*md_net, "busybox", "sleep", "100000"], {**os.environ})}
        from run_latency import IMAGE, podman_contender
        podman = podman_contender(tmp, tar_dir(build_busybox_rootfs(tmp / "rootfs"), tmp / "rootfs.tar"),
                                  f"/{tag}/podman")
        if hasattr(podman, "cmd"):
            contenders["podman"] = (podman.cmd[:podman.cmd.index("run")],
                                    ["--network", "none" if args.network == "none" else NETWORK,
                                     "--cgroup-parent", f"/{tag}/podman",
                                     "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=20000:20000",
                                     IMAGE, "sleep", "100000"], podman.env)
        else:
            skipped["podman"] = podman.skipped
        try:
            if args.network == "bridge":
                keep_networks_up(contenders, skipped)
            for i in range(args.warmups + args.runs):
                for tool, (base, run_args, env) in contenders.items():
                    if tool in skipped:
                        continue
                    try:
                        times = cycle(base, run_args, env)
                    except BenchError as e:
                        skipped[tool] = str(e)
                        continue
                    if i >= args.warmups:
                        samples[tool].append(times)
        finally:
            for tool, (base, _run_args, env) in contenders.items():  # the keepers, whatever a failed cycle left
                ids = subprocess.run([*base, "ps", "-aq"], env=env, capture_output=True, text=True).stdout.split()
                if ids:
                    subprocess.run([*base, "rm", "-f", *ids], env=env, capture_output=True)
                if tool == "podman" and args.network == "bridge":
                    subprocess.run([*base, "network", "rm", "-f", NETWORK], env=env, capture_output=True)
            _wait_monitor_exit(tmp / "md-run")
            unmount_all(tmp)
            remove_cgroups(tag)
            leaks = mounts_under(tmp) + cgroups_named(tag)
    summary = {}
    for tool, rows in samples.items():
        if rows:
            summary[tool] = {"cycle_ms": statistics.median(sum(r) for r in rows),
                             **{step: statistics.median(r[k] for r in rows) for k, step in enumerate(STEPS)}}
    if args.json:
        print(json.dumps({"runs": args.runs, "network": args.network, "median_ms": summary, "skipped": skipped,
                          "load": os.getloadavg()}, indent=2))
        return 0
    print(f"run -d + stop -t 0 + rm, --network {args.network}, median of {args.runs} cycles "
          f"(target mydocker <= {TARGET[args.network]}x podman; load {os.getloadavg()[0]:.1f})")
    print(f"{'tool':<10}{'cycle':>10}{'run -d':>10}{'stop':>10}{'rm':>10}{'ratio':>9}")
    base = summary.get("podman", {}).get("cycle_ms")
    for tool, s in summary.items():
        ratio = f"{s['cycle_ms'] / base:.2f}x" if base else "-"
        print(f"{tool:<10}{s['cycle_ms']:>8.0f}ms{s['run -d']:>8.0f}ms{s['stop']:>8.0f}ms{s['rm']:>8.0f}ms{ratio:>9}")
    for tool, why in skipped.items():
        print(f"{tool:<10}skipped ({why})")
    if leaks:
        print(f"leak: {leaks}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

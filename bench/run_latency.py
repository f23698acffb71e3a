#!/usr/bin/env python3
"""Latency of running `true` in a fresh container: runc, crun, podman and mydocker, one busybox rootfs.

    python3 bench/run_latency.py [--runs 30] [--warmups 3] [--mydocker PATH] [--no-network-rows] [--json]

One row per path a user takes, for podman and mydocker alike, all timed round-robin in one run:
`--network none`; the default bridge; a user network with `-p 127.0.0.1::80` (a published port).
The network stays up while the bench runs, as a user's default root keeps it: with a private --root
mydocker makes its default network on first use and removes it with its last container, so one
idle container (`sleep`) stays on it for the bench's duration (podman: on the bench's own network,
which stands in for its default one, whose bridge name, podman0, is shared by the host).
The bridge rows' notes give their ratio to the `--network none` row of the same tool. mydocker's
rows run through its CLI's fork server (mydocker/forkserver_client.py), as a user's second command
within 30 s does; `mydocker in-proc` is the same `--network none` run in a process of its own, as a
first command (or one the server declines) runs.

Everything it creates lives in one temp dir and in cgroups named after a random tag; both are
removed at the end and checked for leaks. A tool that fails is reported as skipped; the exit code
is non-zero only for a bug in this script.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import (BenchError, Contender, Result, Stats, build_busybox_rootfs, cgroups_named,  # noqa: E402
                     check_run, mounts_under, print_table, remove_cgroups, results_json, tar_dir,
                     time_interleaved, unmount_all)

TITLE = "run_latency"
UNIFIED = "/sys/fs/cgroup/unified"
IMAGE = "localhost/benchbox"
# Paths the tools create on the host when missing; removed again if we caused them and they are empty.
HOST_DIRS = ("/run/runc",)
CRUN_NS, NS_ONLY = "crun+ns", "ns only"
IN_PROCESS = "in-proc"  # mydocker's row without its CLI's fork server
BENCH_NET = "benchnet"  # mydocker's user network (private root), and podman's (private config dir)
KEEPER = "benchkeeper"


def is_hybrid() -> bool:
    """cgroup v1 controllers plus a cgroup2 mount at /sys/fs/cgroup/unified (crun refuses this)."""
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == UNIFIED and " - cgroup2 " in line for line in f)


def in_private_mountns(tmpfs_over: str, cmd: list[str]) -> list[str]:
    """`cmd` run in a private mount namespace where an empty tmpfs hides `tmpfs_over`."""
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount -t tmpfs none "$0" && exec "$@"', tmpfs_over, *cmd]


def make_bundle(bundle: Path, rootfs: Path, cgroups_path: str) -> Path:
    bundle.mkdir()
    check_run(["runc", "spec", "--bundle", str(bundle)])
    config_file = bundle / "config.json"
    config = json.loads(config_file.read_text())
    config["process"]["terminal"] = False
    config["process"]["args"] = ["true"]
    config["root"] = {"path": str(rootfs), "readonly": True}
    config["linux"]["cgroupsPath"] = cgroups_path
    config_file.write_text(json.dumps(config, indent=2))
    return bundle


def runc_contender(tmp: Path, bundle: Path, cid: str) -> Contender:
    return Contender("runc", ["runc", "--root", str(tmp / "runc-state"), "run", "--bundle", str(bundle), cid])


def crun_contenders(tmp: Path, bundle: Path, cid: str) -> list[Contender]:
    """crun, and on hybrid cgroups the private-mount-namespace wrapper it needs, timed alone too."""
    run = ["crun", "--root", str(tmp / "crun-state"), "run", "--bundle", str(bundle), cid]
    if not is_hybrid():
        return [Contender("crun", run)]
    return [Contender(CRUN_NS, in_private_mountns(UNIFIED, run), note="crun inside the ns wrapper"),
            Contender(NS_ONLY, in_private_mountns(UNIFIED, ["true"]),
                      note="wrapper alone: unshare -m, tmpfs over cgroup2, exec true")]


@dataclass
class NetworkSide:
    """A tool's network rows: what to run before the timed runs (a user network, an idle container
    keeping the bridge up) and after them, and the two commands timed."""
    name: str
    env: dict | None
    before: list[list[str]]
    after: list[list[str]]
    bridge: list[str]
    published: list[str]

    def contenders(self) -> list[Contender | Result]:
        try:
            for cmd in self.before:
                check_run(cmd, self.env, timeout=300)
        except BenchError as e:
            return [Result(f"{self.name} bridge", skipped=str(e)), Result(f"{self.name} -p", skipped=str(e))]
        return [Contender(f"{self.name} bridge", self.bridge, self.env),
                Contender(f"{self.name} -p", self.published, self.env, note="user network, -p 127.0.0.1::80")]

    def undo(self) -> None:
        for cmd in self.after:
            subprocess.run(cmd, env=self.env, capture_output=True)


def mydocker_network_side(none: Contender) -> NetworkSide:
    """The default bridge (kept up by an idle container) and a user network, in mydocker's root."""
    base = none.cmd[:none.cmd.index("run")]
    return NetworkSide("mydocker", none.env,
                       before=[[*base, "network", "create", BENCH_NET],
                               [*base, "run", "-d", "--name", KEEPER, "busybox", "sleep", "100000"]],
                       after=[[*base, "rm", "-f", KEEPER], [*base, "network", "rm", BENCH_NET]],
                       bridge=[*base, "run", "--rm", "busybox", "true"],
                       published=[*base, "run", "--rm", "--network", BENCH_NET, "-p", "127.0.0.1::80",
                                  "busybox", "true"])


def podman_network_side(none: Contender) -> NetworkSide:
    """A network of the bench's own (not the default one, whose bridge podman0 the host shares),
    kept up by an idle container: podman's bridge row and its -p row both use it."""
    base = none.cmd[:none.cmd.index("run")]
    flags = none.cmd[none.cmd.index("none") + 1:-2]  # --cgroup-parent, --ulimit...
    net = ["--network", BENCH_NET]
    return NetworkSide("podman", none.env,
                       # podman picks a bridge name and subnet free on the host
                       before=[[*base, "network", "create", BENCH_NET],
                               [*base, "run", "-d", "--name", KEEPER, *net, *flags, IMAGE, "sleep", "100000"]],
                       after=[[*base, "rm", "-f", "-t", "0", KEEPER], [*base, "network", "rm", "-f", BENCH_NET]],
                       bridge=[*base, "run", "--rm", *net, *flags, IMAGE, "true"],
                       published=[*base, "run", "--rm", *net, "-p", "127.0.0.1::80", *flags, IMAGE, "true"])


def podman_contender(tmp: Path, rootfs_tar: Path, cgroup_parent: str) -> Contender | Result:
    """podman with all its state under `tmp`, the rootfs imported as an image; a Result if it fails."""
    base = tmp / "podman"
    (base / "tmpfiles").mkdir(parents=True)
    conf = base / "containers.conf"
    conf.write_text('[engine]\nlock_type = "file"\n')  # locks under --tmpdir, not /dev/shm/libpod_lock
    env = {**os.environ, "CONTAINERS_CONF": str(conf), "TMPDIR": str(base / "tmpfiles")}
    # podman 4.3 writes its blob-info cache to /var/lib/containers/cache whatever --root says:
    # hide that behind a tmpfs while importing.
    hide = next(p for p in ("/var/lib/containers/cache", "/var/lib/containers", "/var/lib") if os.path.isdir(p))
    errors = []
    for driver in ("overlay", "vfs"):
        d = base / driver
        podman = ["podman", "--root", str(d / "root"), "--runroot", str(d / "run"), "--tmpdir", str(d / "tmp"),
                  "--storage-driver", driver, "--events-backend", "file", "--cgroup-manager", "cgroupfs",
                  "--runtime", "runc",  # crun refuses hybrid cgroups
                  "--network-config-dir", str(d / "net"), "--volumepath", str(d / "volumes")]
        run = [*podman, "run", "--rm", "--network", "none", "--cgroup-parent", cgroup_parent,
               "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=20000:20000", IMAGE, "true"]
        try:
            check_run(in_private_mountns(hide, [*podman, "import", str(rootfs_tar), IMAGE]), env)
            check_run(run, env)
            return Contender("podman", run, env, note=f"storage {driver}, runtime runc")
        except BenchError as e:
            errors.append(f"{driver}: {e}")
    return Result("podman", skipped="; ".join(errors))


def find_mydocker(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    if os.access("/usr/local/bin/mydocker", os.X_OK):
        return "/usr/local/bin/mydocker"
    return shutil.which("mydocker")


def mydocker_contender(tmp: Path, mydocker: str | None) -> Contender | Result:
    if mydocker is None:
        return Result("mydocker", skipped="not found: pass --mydocker PATH")
    cmd = [mydocker, "--root", str(tmp / "mydocker" / "root"), "--runroot", str(tmp / "mydocker" / "run"),
           "run", "--rm", "--network", "none", "busybox", "true"]  # as podman: no network for either
    try:
        check_run(cmd, timeout=300)  # provisions the busybox image on first use
    except BenchError as e:
        return Result("mydocker", skipped=str(e))
    return Contender("mydocker", cmd, note="--network none (fork server); target <= 1.50x runc")


def measure(tmp: Path, tag: str, mydocker: str | None, runs: int, warmups: int, networks: bool) -> list[Result]:
    rootfs = build_busybox_rootfs(tmp / "rootfs")
    rootfs_tar = tar_dir(rootfs, tmp / "rootfs.tar")
    bundle = make_bundle(tmp / "bundle", rootfs, f"/{tag}/ctr")
    runc_id, crun_id = f"{tag}-runc", f"{tag}-crun"
    podman = podman_contender(tmp, rootfs_tar, f"/{tag}/podman")
    mine = mydocker_contender(tmp, mydocker)
    entries: list[Contender | Result] = [runc_contender(tmp, bundle, runc_id),
                                         *crun_contenders(tmp, bundle, crun_id), podman, mine]
    if isinstance(mine, Contender):  # a first command, or one the fork server declines: all in its own process
        entries.append(Contender(f"{mine.name} {IN_PROCESS}", mine.cmd, {**os.environ, "MYDOCKER_FORKSERVER": "0"},
                                 note="--network none, no fork server (MYDOCKER_FORKSERVER=0)"))
    sides = []
    if networks:
        sides = [side(c) for side, c in ((podman_network_side, podman), (mydocker_network_side, mine))
                 if isinstance(c, Contender)]
    try:
        for side in sides:
            entries += side.contenders()
        contenders = [e for e in entries if isinstance(e, Contender)]
        timings = time_interleaved(contenders, runs, warmups)
    finally:
        for side in sides:
            side.undo()
        subprocess.run(["runc", "--root", str(tmp / "runc-state"), "delete", "-f", runc_id], capture_output=True)
        crun_delete = ["crun", "--root", str(tmp / "crun-state"), "delete", "-f", crun_id]
        subprocess.run(in_private_mountns(UNIFIED, crun_delete) if is_hybrid() else crun_delete, capture_output=True)

    results = []
    for e in entries:
        if isinstance(e, Result):
            results.append(e)
            continue
        t = timings[e.name]
        if isinstance(t, str):
            results.append(Result("crun" if e.name == CRUN_NS else e.name, skipped=t))
        else:
            results.append(Result(e.name, Stats.of(t), note=e.note))
        if e.name.endswith(" bridge") and isinstance(t, list) and isinstance(none := timings.get(e.name[:-7]), list):
            results[-1].note = f"{statistics.median(t) / statistics.median(none):.2f}x its --network none row"
        if e.name == NS_ONLY and isinstance(t, list) and isinstance(raw := timings[CRUN_NS], list):
            wrapper = statistics.median(t)
            results.append(Result("crun net", Stats.of([s - wrapper for s in raw]),
                                  note=f"{CRUN_NS} minus the median of {NS_ONLY}"))
    return results


# --- cleanup and leak checks -------------------------------------------------------------------

def processes_using(path: Path) -> list[int]:
    """PIDs whose command line mentions `path` (only what this bench started can: the dir is new)."""
    needle = str(path).encode()
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if needle in f.read():
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


def cgroup_has_procs(path: str) -> bool:
    try:
        with open(os.path.join(path, "cgroup.procs")) as f:
            return bool(f.read().strip())
    except OSError:
        return False


def cleanup(tmp: Path, tag: str, host_dirs_missing: list[str]) -> list[str]:
    """Remove everything the bench made; return what had leaked (and was then removed)."""
    leaks = []
    deadline = time.monotonic() + 10
    while (pids := processes_using(tmp)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in pids:
        leaks.append(f"process {pid} still running, killed")
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if mounts := mounts_under(tmp):
        leaks.append(f"mounts under the temp dir, unmounted: {' '.join(mounts)}")
        unmount_all(tmp)
    # The parent cgroups (bundle cgroupsPath, podman --cgroup-parent) are ours to remove; a cgroup
    # still holding a process is a leak.
    busy = [d for top in cgroups_named(tag) for d, _, _ in os.walk(top) if cgroup_has_procs(d)]
    if busy:
        leaks.append(f"cgroups still holding processes: {' '.join(busy)}")
    remove_cgroups(tag)
    for path in host_dirs_missing:
        try:
            os.rmdir(path)
        except OSError:
            if os.path.exists(path):
                leaks.append(f"{path} created and not empty")
    if left := mounts_under(tmp):
        raise RuntimeError(f"mounts remain under {tmp}: {left}")
    shutil.rmtree(tmp)
    if left := cgroups_named(tag):
        raise RuntimeError(f"cgroups remain: {left}")
    return leaks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs per tool (default 30)")
    parser.add_argument("--warmups", type=int, default=3, help="untimed runs first (default 3)")
    parser.add_argument("--mydocker", metavar="PATH", help="mydocker executable (default: from PATH)")
    parser.add_argument("--no-network-rows", action="store_true",
                        help="only --network none (no bridge or -p rows)")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmups < 0:
        parser.error("--runs must be >= 1 and --warmups >= 0")
    if os.geteuid() != 0:
        parser.error("needs root")

    tag = f"mdbench-{secrets.token_hex(4)}"
    tmp = Path(tempfile.mkdtemp(prefix=f"{tag}."))
    host_dirs_missing = [p for p in HOST_DIRS if not os.path.exists(p)]
    try:
        results = measure(tmp, tag, find_mydocker(args.mydocker), args.runs, args.warmups,
                          not args.no_network_rows)
    finally:
        leaks = cleanup(tmp, tag, host_dirs_missing)

    if args.json:
        out = results_json(TITLE, results, "runc")
        out.update(runs=args.runs, warmups=args.warmups, leaks=leaks)
        print(json.dumps(out, indent=2))
    else:
        print_table(TITLE, results, "runc")
        for leak in leaks:
            print(f"  leak: {leak}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

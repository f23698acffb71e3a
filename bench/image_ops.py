#!/usr/bin/env python3
"""Image operations on a container with 200 MB of changed files.

    python3 bench/image_ops.py [--runs 3] [--mb 200] [--mydocker PATH] [--json]

1. `mydocker commit` and `mydocker save` against `tar -c | gzip -1` of the container's upper
   directory (the same bytes), timed in the same run: target ≤ 1.3×.
2. `mydocker load` of the saved archive (into an empty root each time) against `podman load` of
   the same archive (into an empty vfs store each time): target ≤ 1.0×. mydocker unpacks layers on
   first use, so `load + first run` (load, then `run --rm IMAGE true`) is reported too.

The changed files are half incompressible (urandom) and half binaries (copies of busybox), so
gzip does realistic work. Everything lives in one temp dir, removed at the end; mounts are checked.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import (BenchError, Result, Stats, check_run, mounts_under, print_table,  # noqa: E402
                     results_json, unmount_all)

REPO = Path(__file__).resolve().parent.parent


def timed(cmd: list[str] | str, shell: bool = False, before=None) -> float:
    if before:
        before()
    start = time.perf_counter_ns()
    proc = subprocess.run(cmd, shell=shell, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = (time.perf_counter_ns() - start) / 1e6
    if proc.returncode != 0:
        raise BenchError(f"{cmd if shell else ' '.join(cmd)}: exit {proc.returncode}: "
                         f"{proc.stderr.decode(errors='replace').strip()[:200]}")
    return elapsed


def series(runs: int, cmd, shell: bool = False, before=None) -> Stats:
    return Stats.of([timed(cmd, shell, before) for _ in range(runs)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mb", type=int, default=200, help="megabytes of changed files")
    parser.add_argument("--mydocker", help="mydocker launcher (default: one written for this checkout)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="mydocker-bench-image-"))
    try:
        return run(base, args)
    finally:
        unmount_all(base)
        leaked = mounts_under(base)
        shutil.rmtree(base, ignore_errors=True)
        if leaked:
            print(f"LEAKED mounts: {leaked}", file=sys.stderr)


def run(base: Path, args) -> int:
    exe = args.mydocker
    if not exe:
        check_run([sys.executable, "-m", "mydocker.launcher", str(base / "bin")],
                  env=dict(os.environ, PYTHONPATH=str(REPO)))
        exe = str(base / "bin" / "mydocker")
    root, runroot = base / "root", base / "run"
    md = [exe, "--root", str(root), "--runroot", str(runroot)]
    half = args.mb // 2
    script = (f"mkdir -p /data && cd /data && i=0; while [ $i -lt {half} ]; do "
              f"dd if=/dev/urandom of=r$i bs=1M count=1 2>/dev/null; i=$((i+1)); done; "
              f"i=0; while [ $i -lt {max(1, half // 2)} ]; do cp /bin/busybox b$i; i=$((i+1)); done")
    check_run([*md, "run", "--name", "big", "busybox", "sh", "-c", script], timeout=600)
    container = json.loads(check_run([sys.executable, "-c",
                                      "import sqlite3,sys,json;db=sqlite3.connect(sys.argv[1]);"
                                      "print(json.dumps(db.execute(\"select id from containers where name='big'\")"
                                      ".fetchone()[0]))", str(root / "mydocker.db")]))
    upper = root / "containers" / container / "upper"
    size = int(check_run(["du", "-sm", str(upper)]).split()[0])

    results_commit = [
        Result("tar|gzip -1", series(args.runs, f"tar -C {upper} -cf - . | gzip -1 > {base}/upper.tgz", shell=True)),
        Result("mydocker commit", series(args.runs, [*md, "commit", "big", "big:1"])),
        Result("mydocker save", series(args.runs, [*md, "save", "-o", str(base / "big.tar"), "big:1"])),
    ]
    archive = base / "big.tar"

    fresh_root = base / "loadroot"

    def reset_mydocker() -> None:
        unmount_all(fresh_root)
        shutil.rmtree(fresh_root, ignore_errors=True)

    podman_root, podman_run = base / "proot", Path(tempfile.mkdtemp(prefix="mdb-prun-"))
    podman = ["podman", "--root", str(podman_root), "--runroot", str(podman_run), "--storage-driver", "vfs",
              "--cgroup-manager", "cgroupfs"]

    def reset_podman() -> None:
        subprocess.run([*podman, "system", "reset", "-f"], capture_output=True)
        shutil.rmtree(podman_root, ignore_errors=True)

    load_md = [exe, "--root", str(fresh_root), "--runroot", str(base / "loadrun")]
    results_load = [Result("podman load", skipped="podman not installed")]
    try:
        if shutil.which("podman"):
            results_load[0] = Result("podman load", series(args.runs, [*podman, "load", "-i", str(archive)],
                                                           before=reset_podman))
    except BenchError as e:
        results_load[0] = Result("podman load", skipped=str(e))
    finally:
        reset_podman()
        shutil.rmtree(podman_run, ignore_errors=True)
    results_load.append(Result("mydocker load", series(args.runs, [*load_md, "load", "-i", str(archive)],
                                                       before=reset_mydocker)))
    first_run = f"{' '.join(load_md)} load -i {archive} && {' '.join(load_md)} run --rm big:1 true"
    results_load.append(Result("mydocker load+first run", series(args.runs, first_run, shell=True,
                                                                  before=reset_mydocker),
                               note="(unpacks the layers)"))
    reset_mydocker()

    title_c = f"commit/save of {size} MB of changed files"
    title_l = f"load of a {archive.stat().st_size // 1_000_000} MB archive"
    if args.json:
        print(json.dumps([results_json(title_c, results_commit, "tar|gzip -1"),
                          results_json(title_l, results_load, "podman load")], indent=1))
    else:
        print_table(title_c, results_commit, "tar|gzip -1")
        print(f"  targets: commit, save ≤ 1.3x\n")
        print_table(title_l, results_load, "podman load")
        print(f"  target: load ≤ 1.0x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

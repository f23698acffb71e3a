"""`mydocker-runtime run` of a busybox bundle (/bin/true) against `runc run` and `crun run`, and
`mydocker-runtime state` against `runc state`, measured in one run and printed as ratios.

    python3 bench/runtime_latency.py [--runs 40] [--json out.json]

`run` is timed two ways, both reported:
- alternating run by run, so a busy host slows both alike. But each run then also pays for the
  kernel's deferred clean-up of the other tool's last container: cgroup removal finishes in
  workqueues after RCU grace periods, holding the cgroup mutex that the next container's first
  mkdir needs. runc's leaves more of it (measured here: our first mkdir took 3.1 ms after a runc run,
  0.16 ms after one of ours; runc took 19.9 ms after one of ours, 23.7 ms after its own).
- in blocks of BLOCK runs per tool, the first of each block dropped: each tool follows itself and
  pays for its own clean-up, as on a host that runs only one of them; blocks alternate for drift.

`mydocker-runtime` hands a foreground `run` to its fork server (mydocker/forkserver_client.py), which a
first run starts and which lingers 30 s after its last command: the `mydocker-runtime` rows are a run
that finds it, as every run but a user's first does; `mydocker-runtime in-proc` is the same run in a
process of its own (MYDOCKER_FORKSERVER=0), as a first run, or one the server cannot take.

crun cannot create cgroups on this hybrid host while /sys/fs/cgroup/unified holds only hugetlb, so
crun runs in a private mount namespace with a tmpfs over that directory (`unshare -m`); runc is
timed there again, and crun's ratio is to that runc. Every tool runs the same config.json (from
`runc spec`, with /bin/true and no terminal); states live on tmpfs (/run) as each tool's default
does.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BenchError, Result, Stats, build_busybox_rootfs, print_table, results_json  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def make_bundle(base: Path) -> Path:
    bundle = base / "bundle"
    build_busybox_rootfs(bundle / "rootfs")
    subprocess.run(["runc", "spec", "--bundle", str(bundle)], check=True)
    config = json.loads((bundle / "config.json").read_text())
    config["process"]["terminal"] = False
    config["process"]["args"] = ["/bin/true"]
    (bundle / "config.json").write_text(json.dumps(config, indent=1))
    return bundle


def our_runtime(base: Path) -> str:
    """The checkout's launcher (python -IS, as installed), unless MYDOCKER_RUNTIME names another."""
    if os.environ.get("MYDOCKER_RUNTIME"):
        return os.environ["MYDOCKER_RUNTIME"]
    bindir = base / "bin"
    subprocess.run([sys.executable, "-m", "mydocker.launcher", str(bindir)], check=True, cwd=REPO,
                   stdout=subprocess.DEVNULL)
    return str(bindir / "mydocker-runtime")


IN_PROCESS = "mydocker-runtime in-proc"
ENVIRONMENTS = {IN_PROCESS: {**os.environ, "MYDOCKER_FORKSERVER": "0"}}


def once(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter_ns()
    proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    elapsed = (time.perf_counter_ns() - start) / 1e6
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(argv[:4])}...: exit {proc.returncode}: {proc.stderr.decode().strip()[:200]}")
    return elapsed


def interleaved(commands: dict[str, list[str]], cwd: Path, runs: int, warmups: int = 3) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for i in range(warmups + runs):
        for name, argv in commands.items():
            elapsed = once(argv, cwd, ENVIRONMENTS.get(name))
            if i >= warmups:
                samples[name].append(elapsed)
    return samples


BLOCK = 10


def in_blocks(commands: dict[str, list[str]], cwd: Path, runs: int, block: int = BLOCK) -> dict[str, list[float]]:
    """`runs` samples per tool, taken in blocks of `block` + 1 runs of one tool (the first, which
    follows another tool's run, is not kept)."""
    samples: dict[str, list[float]] = {name: [] for name in commands}
    while any(len(kept) < runs for kept in samples.values()):
        for name, argv in commands.items():
            for i in range(block + 1):
                elapsed = once(argv, cwd, ENVIRONMENTS.get(name))
                if i and len(samples[name]) < runs:
                    samples[name].append(elapsed)
    return samples


def run_commands(tools: dict[str, str], roots: Path) -> dict[str, list[str]]:
    return {name: [exe, "--root", str(roots / f"r{i}"), "run", f"bench-{i}"]
            for i, (name, exe) in enumerate(tools.items())}


def inner_crun(bundle: Path, roots: Path, runs: int) -> None:
    """In a private mount namespace: hide the unified hierarchy from crun, time crun and runc."""
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/sys/fs/cgroup/unified"], check=True)
    samples = interleaved(run_commands({"crun": "crun", "runc (private ns)": "runc"}, roots / "private"), bundle, runs)
    print(json.dumps(samples))


FLOOR = "python -IS, no work"


def interpreter_floor(launcher: str) -> list[str]:
    """The launcher's own interpreter and flags, starting and leaving at once: what any Python
    command costs here before its first line runs."""
    with open(launcher) as f:
        shebang = f.readline()[2:].split()
    return [*shebang, "-c", "import posix; posix._exit(0)"]


def state_samples(tools: dict[str, str], bundle: Path, roots: Path, runs: int) -> dict[str, list[float]]:
    created = []
    try:
        for name, exe in tools.items():
            subprocess.run([exe, "--root", str(roots / name), "create", f"state-{name}"], cwd=bundle, check=True)
            created.append((name, exe))
        commands = {name: [exe, "--root", str(roots / name), "state", f"state-{name}"] for name, exe in tools.items()}
        commands[FLOOR] = interpreter_floor(tools["mydocker-runtime"])
        return interleaved(commands, bundle, runs)
    finally:
        for name, exe in created:
            subprocess.run([exe, "--root", str(roots / name), "delete", "--force", f"state-{name}"], cwd=bundle)


def result(name: str, samples: dict[str, list[float]]) -> Result:
    return Result(name, Stats.of(samples[name])) if samples.get(name) else Result(name, skipped="not measured")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--inner-crun", nargs=2, metavar=("BUNDLE", "ROOTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner_crun:
        inner_crun(Path(args.inner_crun[0]), Path(args.inner_crun[1]), args.runs)
        return 0
    if os.geteuid() != 0 or not shutil.which("runc"):
        print("needs root and runc", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="mydocker-bench-") as tmp:
        base = Path(tmp)
        roots = Path(tempfile.mkdtemp(prefix="mydocker-bench-", dir="/run"))
        try:
            bundle = make_bundle(base)
            ours = our_runtime(base)
            tools = {"runc": "runc", "mydocker-runtime": ours, IN_PROCESS: ours}
            run = interleaved(run_commands(tools, roots), bundle, args.runs)
            blocks = in_blocks(run_commands(tools, roots), bundle, args.runs)
            del tools[IN_PROCESS]
            crun_note = ""
            if shutil.which("crun") and shutil.which("unshare"):
                proc = subprocess.run(["unshare", "--mount", sys.executable, __file__, "--runs", str(args.runs),
                                       "--inner-crun", str(bundle), str(roots)], capture_output=True, text=True)
                if proc.returncode == 0:
                    run.update(json.loads(proc.stdout))
                else:
                    crun_note = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"
            state = state_samples(tools, bundle, roots, args.runs)
        finally:
            shutil.rmtree(roots, ignore_errors=True)
    run_results = [result(n, run) for n in ("runc", "mydocker-runtime", IN_PROCESS)]
    print_table("run /bin/true, alternating run by run", run_results, "runc")
    print()
    block_results = [result(n, blocks) for n in ("runc", "mydocker-runtime", IN_PROCESS)]
    print_table(f"run /bin/true, in blocks of {BLOCK} runs per tool", block_results, "runc")
    if "crun" in run:
        print()
        print_table("run /bin/true in a private mount namespace (crun's set-up)",
                    [result("runc (private ns)", run), result("crun", run)], "runc (private ns)")
    elif crun_note:
        print(f"\ncrun skipped: {crun_note}")
    print()
    state_results = [result(n, state) for n in ("runc", "mydocker-runtime", FLOOR)]
    print_table("state", state_results, "runc")
    if args.json:
        out = {"run": results_json("run, alternating", run_results, "runc"),
               "run_blocks": results_json(f"run, blocks of {BLOCK}", block_results, "runc"),
               "state": results_json("state", state_results, "runc")}
        if "crun" in run:
            out["run_private_ns"] = results_json("run (private mount namespace)",
                                                 [result("runc (private ns)", run), result("crun", run)],
                                                 "runc (private ns)")
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

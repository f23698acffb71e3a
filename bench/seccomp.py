"""Seccomp: what Docker's default profile costs mydocker, and our compiler against libseccomp.

Measures, on this machine, in one run:
1. engine: Docker-format profile -> OCI linux.seccomp (JSON load + includes/excludes), per `run`;
2. runtime: compiling that object to classic BPF with mydocker.runtime.seccomp (done in `create`,
   before the fork), and the same filter built and exported by libseccomp 2.5 through ctypes
   (what a binding such as pyseccomp would do), dlopen included;
3. init: loading the ready program (no_new_privs + seccomp(2)) in a forked child;
4. filter cost per syscall: getppid() in a loop without a filter, under our program (balanced tree)
   and under libseccomp's (compares rule by rule);
5. `mydocker run --rm busybox true` with the default profile against `--security-opt
   seccomp=unconfined`, round-robin; the difference is seccomp's share of `run` latency.

    python3 bench/seccomp.py [--runs 30] [--mydocker PATH]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "unit"))


def median_ms(fn, runs: int) -> float:
    samples = []
    for _ in range(runs):
        began = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - began) / 1e6)
    return statistics.median(samples)


def in_child(fn) -> float:
    """Run fn in a forked child (a filter cannot be removed); return the ms it reported."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.write(w, repr(fn()).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = os.read(r, 100)
    os.close(r)
    os.waitpid(pid, 0)
    return float(data)


def load_time(code: bytes) -> float:
    from mydocker.runtime import seccomp

    def child() -> float:
        began = time.perf_counter_ns()
        seccomp.install(seccomp.Program(code, 0), no_new_privileges=True)
        return (time.perf_counter_ns() - began) / 1e6
    return statistics.median(in_child(child) for _ in range(15))


def syscall_ns(code: bytes | None, calls: int = 200_000) -> float:
    from mydocker.runtime import seccomp
    libc = ctypes.CDLL(None)

    def child() -> float:
        if code is not None:
            seccomp.install(seccomp.Program(code, 0), no_new_privileges=True)
        getppid = libc.getppid
        began = time.perf_counter_ns()
        for _ in range(calls):
            getppid()
        return (time.perf_counter_ns() - began) / calls
    return statistics.median(in_child(child) for _ in range(5))


def run_latency(mydocker: str, runs: int) -> tuple[float, float, float] | str:
    """Medians with and without the profile, and the median of the round-by-round differences
    (each round runs both back to back, so load spikes cancel better than in the two medians)."""
    tmp = tempfile.mkdtemp(prefix="mdbench-seccomp-")
    base = [mydocker, "--root", f"{tmp}/root", "--runroot", f"{tmp}/run", "run", "--rm"]
    variants = {"default": base + ["busybox", "true"],
                "unconfined": base + ["--security-opt", "seccomp=unconfined", "busybox", "true"]}
    try:
        for cmd in variants.values():  # provisions the image, warms the caches
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode:
                return f"skipped ({proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode})"
        times: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(runs):
            for name, cmd in variants.items():
                began = time.perf_counter_ns()
                subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                times[name].append((time.perf_counter_ns() - began) / 1e6)
        paired = [a - b for a, b in zip(times["default"], times["unconfined"])]
        return statistics.median(times["default"]), statistics.median(times["unconfined"]), statistics.median(paired)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


_COLD = """
import sys, time
sys.path.insert(0, {root!r})
import mydocker.engine.containers, mydocker.engine.bundle_config, mydocker.runtime.create  # what `run` imports anyway
began = time.perf_counter_ns()
from mydocker.engine.security import SecurityOptions, apply_security
from mydocker.runtime import seccomp
config = apply_security({{"process": {{"user": {{"uid": 0}}, "args": ["true"]}}, "linux": {{}}}}, SecurityOptions())
seccomp.prepare(config["linux"]["seccomp"])
print((time.perf_counter_ns() - began) / 1e6)
"""


def cold_path_ms(runs: int = 15) -> float:
    """Everything the default profile adds to one `mydocker run`, imports included (python -IS)."""
    code = _COLD.format(root=ROOT)
    return statistics.median(float(subprocess.run([sys.executable, "-IS", "-c", code], capture_output=True,
                                                  text=True, check=True).stdout) for _ in range(runs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--mydocker", default=None,
                        help="the mydocker executable (default: a launcher for this checkout)")
    args = parser.parse_args(argv)

    from mydocker.engine import security
    from mydocker.runtime import seccomp
    profile_ms = median_ms(lambda: security.to_oci_seccomp(security.default_profile(), security.DEFAULT_CAPS), 50)
    oci = security.to_oci_seccomp(security.default_profile(), security.DEFAULT_CAPS)
    ours_ms = median_ms(lambda: seccomp.compile_seccomp(oci), 50)
    ours = seccomp.compile_seccomp(oci).code
    print(f"engine: default profile -> OCI linux.seccomp   {profile_ms:6.2f} ms")
    print(f"runtime: our compiler                            {ours_ms:6.2f} ms  ({len(ours) // 8} instructions)")
    theirs = None
    try:
        from seccomp_oracle import LibSeccomp

        def act(name, errno):
            return seccomp._action(name, errno, "bench")
        began = time.perf_counter_ns()
        lib = LibSeccomp()
        dlopen_ms = (time.perf_counter_ns() - began) / 1e6
        lib_ms = median_ms(lambda: lib.export(oci, act), 50)
        theirs = lib.export(oci, act)
        print(f"runtime: libseccomp 2.5 via ctypes               {lib_ms:6.2f} ms  ({len(theirs) // 8} instructions)"
              f" + {dlopen_ms:.2f} ms dlopen and ctypes set-up")
    except OSError as e:
        print(f"runtime: libseccomp skipped ({e})")
    print(f"init: no_new_privs + seccomp(2) of the program    {load_time(ours):6.3f} ms")
    base = syscall_ns(None)
    print(f"syscall getppid(): no filter {base:.0f} ns, our filter {syscall_ns(ours):.0f} ns"
          + (f", libseccomp's {syscall_ns(theirs):.0f} ns" if theirs else "") + " (Python call loop included)")
    cold = cold_path_ms()
    print(f"cold, in a fresh interpreter (what one `run` pays): imports + apply_security + compile {cold:.2f} ms")
    mydocker = args.mydocker
    if mydocker is None:
        from mydocker import launcher
        bindir = tempfile.mkdtemp(prefix="mdbench-bin-")
        launcher.install(bindir)
        mydocker = os.path.join(bindir, "mydocker")
    try:
        result = run_latency(mydocker, args.runs)
    finally:
        if args.mydocker is None:
            shutil.rmtree(bindir, ignore_errors=True)
    if isinstance(result, str):
        print(f"run --rm busybox true: {result}")
    else:
        with_filter, without, paired = result
        print(f"run --rm busybox true: default profile {with_filter:.1f} ms, seccomp=unconfined {without:.1f} ms "
              f"(medians of {args.runs}); paired difference {paired:+.1f} ms "
              f"= {paired / with_filter * 100:+.1f}% of run")
        print(f"  of which engine+compiler+load measured above: {profile_ms + ours_ms + load_time(ours):.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

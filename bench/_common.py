"""Helpers shared by the benchmarks: a busybox rootfs, timing, a ratio table, leak checks.

Stdlib only, and independent of the `mydocker` package: a bench measures mydocker from outside.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import statistics
import subprocess
import tarfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HOST_BUSYBOX = "/bin/busybox"
_DIRS = {"bin": 0o755, "dev": 0o755, "etc": 0o755, "home": 0o755, "proc": 0o555, "root": 0o700,
         "sys": 0o555, "tmp": 0o1777, "usr": 0o755, "usr/bin": 0o755, "usr/sbin": 0o755,
         "var": 0o755}
_ETC = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
    "etc/group": "root:x:0:\nnogroup:x:65534:\n",
}


class BenchError(Exception):
    """A tool under test failed; the message is the first line of what it said."""


def build_busybox_rootfs(dest: Path, busybox: str = HOST_BUSYBOX) -> Path:
    """Make a minimal root filesystem in `dest`: /bin/busybox, its applets as hard links, /etc files."""
    for name, mode in _DIRS.items():
        (dest / name).mkdir(parents=True, exist_ok=True)
        os.chmod(dest / name, mode)
    binary = dest / "bin" / "busybox"
    shutil.copy2(busybox, binary)
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in set(applets) - {"busybox"}:
        link = dest / "bin" / applet
        if not link.exists():
            os.link(binary, link)
    for name, text in _ETC.items():
        (dest / name).write_text(text)
    return dest


def tar_dir(src: Path, out: Path) -> Path:
    """Tar the contents of `src` (paths relative to it), e.g. to `podman import` a rootfs."""
    with tarfile.open(out, "w") as tar:
        for entry in sorted(os.listdir(src)):
            tar.add(src / entry, arcname=entry)
    return out


def first_line(text: str | bytes | None, default: str = "no output") -> str:
    """The first non-empty line; for a Python traceback, its last line (the exception)."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not lines:
        return default
    return lines[-1] if lines[0].startswith("Traceback (most recent call last)") else lines[0]


def run_blocking(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 120,
                 capture: bool = False) -> tuple[int, bytes, bytes]:
    """Run `cmd` and wait in a blocking waitpid: (exit code, stdout, stderr); killed after `timeout`.

    Not subprocess.run(timeout=...): with a timeout, Popen.wait polls with sleeps that double up to
    50 ms, so a 17 ms command is seen to end at 31.5 ms and a 34 ms one at 63.5 ms (the 32 ms steps
    earlier runs of these benches showed). SIGALRM enforces the timeout instead.
    """
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    # stdin from /dev/null: a benchmarked command reads none, and what the caller's stdin is (a
    # terminal, a pipe) should not change what is measured
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env)
    previous = signal.signal(signal.SIGALRM, lambda *_: proc.kill())
    signal.alarm(max(1, math.ceil(timeout)))
    try:
        stdout, stderr = proc.communicate()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return proc.returncode, stdout or b"", stderr or b""


def check_run(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 120) -> str:
    """Run `cmd` once, capturing output; raise BenchError with its first error line if it fails."""
    try:
        code, stdout, stderr = run_blocking(cmd, env, timeout, capture=True)
    except OSError as e:
        raise BenchError(first_line(str(e))) from e
    if code != 0:
        what = "killed after the timeout" if code == -signal.SIGKILL else f"exit {code}"
        raise BenchError(f"{what}: {first_line((stderr or stdout).decode(errors='replace'))}")
    return stdout.decode(errors="replace")


def time_command(cmd: list[str], runs: int, warmups: int = 3,
                 env: dict[str, str] | None = None, timeout: float = 120) -> list[float]:
    """Wall time of `cmd` in milliseconds, `runs` times after `warmups` untimed runs.

    Warm-ups capture output so a failure is reported with its message; timed runs send output to
    /dev/null and raise BenchError on a non-zero exit.
    """
    for _ in range(warmups):
        check_run(cmd, env, timeout)
    return [time_once(cmd, env, timeout) for _ in range(runs)]


def time_once(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 120) -> float:
    """One timed run of `cmd` in milliseconds, output to /dev/null; BenchError if it fails."""
    start = time.perf_counter_ns()
    code, _, _ = run_blocking(cmd, env, timeout)
    elapsed = time.perf_counter_ns() - start
    if code != 0:
        check_run(cmd, env, timeout)  # once more with output captured, for the message
        raise BenchError(f"exit {code} in a timed run")
    return elapsed / 1e6


@dataclass
class Contender:
    """A command to time; `note` is printed after its ratio."""
    name: str
    cmd: list[str]
    env: dict[str, str] | None = None
    note: str = ""


def time_interleaved(contenders: list[Contender], runs: int, warmups: int = 3) -> dict[str, list[float] | str]:
    """Time each contender `runs` times, round-robin so background load hits all of them alike.

    Returns per name the samples in milliseconds, or, for a contender that failed, the reason.
    """
    out: dict[str, list[float] | str] = {}
    for c in contenders:
        try:
            for _ in range(warmups):
                check_run(c.cmd, c.env)
            out[c.name] = []
        except BenchError as e:
            out[c.name] = str(e)
    for _ in range(runs):
        for c in contenders:
            samples = out[c.name]
            if isinstance(samples, list):
                try:
                    samples.append(time_once(c.cmd, c.env))
                except BenchError as e:
                    out[c.name] = str(e)
    return out


@dataclass
class Stats:
    runs: int
    mean_ms: float
    median_ms: float
    stdev_ms: float
    min_ms: float

    @classmethod
    def of(cls, samples: list[float]) -> Stats:
        return cls(len(samples), statistics.fmean(samples), statistics.median(samples),
                   statistics.stdev(samples) if len(samples) > 1 else 0.0, min(samples))

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}


@dataclass
class Result:
    """One row: a tool's stats, or why it was skipped; `note` is printed after the ratio."""
    name: str
    stats: Stats | None = None
    skipped: str | None = None
    note: str = ""


def print_table(title: str, results: list[Result], baseline: str) -> None:
    """Print stats per tool, then medians with their ratio to `baseline`'s median."""
    base = next((r.stats for r in results if r.name == baseline and r.stats), None)
    width = max(len(r.name) for r in results)
    print(f"{title}")
    print(f"  {'':{width}}  {'mean':>9} {'median':>9} {'stdev':>8} {'min':>9}")
    for r in results:
        if r.stats:
            s = r.stats
            print(f"  {r.name:{width}}  {s.mean_ms:7.1f}ms {s.median_ms:7.1f}ms {s.stdev_ms:6.1f}ms "
                  f"{s.min_ms:7.1f}ms")
    runs = next((r.stats.runs for r in results if r.stats), 0)
    print(f"\n{title} ({runs} runs, median, ratio to {baseline})")
    for r in results:
        if r.skipped is not None:
            print(f"  {r.name:{width}}  skipped ({r.skipped})")
            continue
        assert r.stats
        ratio = f"{r.stats.median_ms / base.median_ms:5.2f}x" if base else "    -"
        print(f"  {r.name:{width}}  {r.stats.median_ms:7.1f} ms  {ratio}   {r.note}".rstrip())


def results_json(title: str, results: list[Result], baseline: str) -> dict:
    base = next((r.stats for r in results if r.name == baseline and r.stats), None)
    out: dict = {"bench": title, "baseline": baseline, "results": {}}
    for r in results:
        row: dict = {"skipped": r.skipped} if r.skipped is not None else r.stats.as_dict()  # type: ignore[union-attr]
        if r.stats and base:
            row["ratio_median"] = round(r.stats.median_ms / base.median_ms, 3)
        if r.note:
            row["note"] = r.note
        out["results"][r.name] = row
    return out


# --- leak checks and cleanup -------------------------------------------------------------------

def mounts_under(path: Path) -> list[str]:
    """Mount points at or below `path`, deepest first (so they can be unmounted in order)."""
    prefix = str(path.resolve())
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                found.append(point)
    return sorted(found, key=len, reverse=True)


def unmount_all(path: Path) -> None:
    for point in mounts_under(path):
        subprocess.run(["umount", "-l", point], stderr=subprocess.DEVNULL)


def cgroups_named(fragment: str, root: str = "/sys/fs/cgroup") -> list[str]:
    """Cgroup directories whose name contains `fragment` (what `find root -name '*frag*'` shows)."""
    found = []
    for dirpath, dirnames, _ in os.walk(root):
        for d in dirnames:
            if fragment in d:
                found.append(os.path.join(dirpath, d))
    return found


def remove_cgroups(fragment: str, root: str = "/sys/fs/cgroup") -> None:
    """rmdir every cgroup named like `fragment`, children first (they must hold no processes)."""
    for top in sorted(cgroups_named(fragment, root), key=len):
        if not os.path.isdir(top):
            continue  # removed already, below an earlier match
        for dirpath, _, _ in os.walk(top, topdown=False):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass

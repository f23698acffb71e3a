#!/usr/bin/env python3
"""The Docker Engine API, three services: mydocker's (`mydocker system service`), podman's (`podman
system service`) and dockerd's (+ runc), each driven by the docker CLI 28, in one run.

    python3 bench/api.py [--runs 30] [--warmups 3] [--requests 200] [--containers 50] [--quick]
                         [--engines mydocker,podman,dockerd] [--mydocker PATH] [--json]

Rows, timed round-robin (one of each in turn, so background load hits all alike; the mydocker CLI
row first, so no service's after-run work lands on it), medians:
- `docker run --rm --network none busybox true` against each service's socket, and `mydocker run
  --rm --network none busybox true` (the CLI, no service) for the API's overhead: the docker CLI +
  the service against mydocker's own CLI, both on the same engine root.
  `docker --version` is timed too: the docker CLI's own start, which every API row pays and the
  mydocker CLI row does not.
- `GET /v1.41/containers/json?all=1` with `--containers` (50) created containers on each engine:
  requests per second over `--requests` requests, on one kept-alive connection (docker-py's session,
  the CLI within one command) and on a fresh connection per request (each CLI command opens its
  own), in rounds that alternate between the engines. v1.41: the newest version dockerd 20.10 and
  podman 4.3 serve.

Targets (issue 17): mydocker's `docker run` <= 0.5x dockerd's and <= 0.5x podman's; the API's
overhead over `mydocker run` <= 25%. Each ratio of medians comes with its spread: a 95% bootstrap
interval (the rounds resampled, each round's pair of runs kept together: timed within a second of each
other, under the same load) and the quartiles of the per-round ratios. A target is "met" when the
whole interval is at or below it, "missed" when the whole interval is above, "unsure" otherwise.

Every service has private state under one temp dir and is stopped by its pid at the end (Ctrl-C or a
failure included); then the bench checks that no process, mount or cgroup of its own is left.
- mydocker: --root/--runroot in the temp dir; it builds its busybox image from the host's on first
  use, and that image (`mydocker save`) is what the other two load.
- podman: --root/--runroot/--tmpdir/--volumepath/--network-config-dir in the temp dir, file locks and
  its defaults in a private containers.conf (runtime runc: crun 1.8 refuses this host's hybrid
  cgroups; cgroupfs; ulimits the host allows, as root here lacks CAP_SYS_RESOURCE), storage overlay;
  its containers go under a cgroup parent named after the bench (`--cgroup-parent`, podman only).
- dockerd: --data-root/--exec-root/--pidfile/--config-file in the temp dir, `--bridge=none
  --iptables=false --ip6tables=false --ip-masq=false --ip-forward=false` (nothing of the host's
  network is touched), runc, the containerd it starts itself, `--cgroup-parent` named after the bench.

Only `--network none`: a default network that works without touching the host's network exists in
none of them (dockerd with --bridge=none has none; podman's and mydocker's default bridges are host
bridges with NAT rules), so there is no default-network row.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import (BenchError, Contender, Result, Stats, check_run, mounts_under, print_table,  # noqa: E402
                     results_json, time_interleaved)
from run_latency import cleanup, in_private_mountns  # noqa: E402

TITLE = "api: docker run --rm --network none busybox true"
ENGINES = ("mydocker", "podman", "dockerd")
IMAGE = "busybox"
LIST_PATH = "/v1.41/containers/json?all=1"
RUN = ["run", "--rm", "--network", "none"]
TARGETS = {"mydocker/dockerd": 0.5, "mydocker/podman": 0.5, "API overhead": 1.25}
HOST_DIRS = ("/run/runc",)


def docker_cli() -> str:
    """The docker CLI 28 (/usr/local/bin); Debian's 20.10 client is /usr/bin/docker."""
    if os.access("/usr/local/bin/docker", os.X_OK):
        return "/usr/local/bin/docker"
    return shutil.which("docker") or "docker"


@dataclass
class Service:
    """A running API service: its process, its socket, the docker CLI's environment for it."""
    name: str
    sock: Path
    proc: subprocess.Popen
    log: Path
    run_flags: list[str] = field(default_factory=list)   # extra `docker run` flags this engine needs
    note: str = ""
    own_mounts: list[Path] = field(default_factory=list)  # left by design after a clean stop: unmounted then

    @property
    def env(self) -> dict[str, str]:
        config = self.sock.parent / f"{self.name}-cli"
        config.mkdir(exist_ok=True)
        return {**os.environ, "DOCKER_HOST": f"unix://{self.sock}", "DOCKER_CONFIG": str(config)}

    def docker(self, *args: str, timeout: float = 120) -> str:
        return check_run([docker_cli(), *args], self.env, timeout)

    def run_cmd(self) -> list[str]:
        return [docker_cli(), *RUN, *self.run_flags, IMAGE, "true"]

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} exited {self.proc.returncode}: {tail(self.log)}")
            if self.sock.exists():
                try:
                    self.docker("version", timeout=10)
                    return
                except BenchError:
                    pass
            if time.monotonic() > deadline:
                raise BenchError(f"{self.name} did not answer within {timeout:.0f} s: {tail(self.log)}")
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM to the pid we started; SIGKILL if it has not gone after 30 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for path in self.own_mounts:
            for point in mounts_under(path):
                subprocess.run(["umount", point], capture_output=True)


def find_mydocker(explicit: str | None, tmp: Path) -> str:
    """`explicit`, or this checkout's launcher, written into the temp dir (the product's own launcher:
    python -IS, as installed; /opt/mydocker's interpreter when there is one)."""
    if explicit:
        return explicit
    python = "/opt/mydocker/bin/python" if os.access("/opt/mydocker/bin/python", os.X_OK) else sys.executable
    check_run([python, "-c", "import sys; sys.path.insert(0, sys.argv[1]); from mydocker import launcher; "
                             "launcher.install(sys.argv[2])", str(Path(__file__).resolve().parent.parent),
                             str(tmp / "bin")])
    return str(tmp / "bin" / "mydocker")


def tail(log: Path) -> str:
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    return lines[-1][-300:] if lines else "no output"


def spawn(cmd: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)  # a Ctrl-C reaches the bench, which stops it in order


# --- the three services -------------------------------------------------------------------------

def mydocker_base(tmp: Path, exe: str) -> list[str]:
    return [exe, "--root", str(tmp / "md" / "root"), "--runroot", str(tmp / "md" / "run")]


def start_mydocker(tmp: Path, exe: str, services: list[Service]) -> Path:
    """The service on its root; returns the busybox image saved as a docker-archive for the others."""
    base = mydocker_base(tmp, exe)
    check_run([*base, *RUN, IMAGE, "true"], timeout=300)  # builds the busybox image on first use
    archive = tmp / "busybox.tar"
    check_run([*base, "save", "-o", str(archive), IMAGE])
    sock = tmp / "md.sock"
    svc = Service("mydocker", sock, spawn([*base, "system", "service", "--time", "0", f"unix://{sock}"],
                                          tmp / "md.log"), tmp / "md.log")
    services.append(svc)
    svc.wait_ready()
    return archive


def podman_flags(tmp: Path) -> tuple[list[str], dict[str, str]]:
    d = tmp / "podman"
    (d / "tmpfiles").mkdir(parents=True, exist_ok=True)
    conf = d / "containers.conf"
    conf.write_text('[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=20000:20000"]\n'
                    '[engine]\nlock_type = "file"\n')  # locks under --tmpdir, not /dev/shm/libpod_lock
    env = {**os.environ, "CONTAINERS_CONF": str(conf), "TMPDIR": str(d / "tmpfiles")}
    flags = ["podman", "--root", str(d / "root"), "--runroot", str(d / "run"), "--tmpdir", str(d / "tmp"),
             "--storage-driver", "overlay", "--events-backend", "file", "--cgroup-manager", "cgroupfs",
             "--runtime", "runc", "--network-config-dir", str(d / "net"), "--volumepath", str(d / "volumes")]
    return flags, env


def start_podman(tmp: Path, tag: str, archive: Path, services: list[Service]) -> None:
    podman, env = podman_flags(tmp)
    # podman 4.3 writes its blob-info cache to /var/lib/containers/cache whatever --root says: the
    # load runs where a tmpfs hides it (the service only runs containers: it writes no cache)
    hide = next(p for p in ("/var/lib/containers/cache", "/var/lib/containers", "/var/lib") if os.path.isdir(p))
    check_run(in_private_mountns(hide, [*podman, "load", "-i", str(archive)]), env, timeout=300)
    sock = tmp / "podman.sock"
    log = tmp / "podman.log"
    svc = Service("podman", sock, spawn([*podman, "system", "service", "--time", "0", f"unix://{sock}"], log, env),
                  log, run_flags=["--cgroup-parent", f"/{tag}/podman"], note="runc, overlay, cgroupfs",
                  # containers/storage makes its overlay home a private mount and never undoes it
                  own_mounts=[tmp / "podman" / "root" / "overlay"])
    services.append(svc)
    svc.wait_ready()


def start_dockerd(tmp: Path, tag: str, archive: Path, services: list[Service]) -> None:
    d = tmp / "docker"
    d.mkdir()
    (d / "daemon.json").write_text("{}\n")  # not the host's /etc/docker/daemon.json
    sock = tmp / "docker.sock"
    log = tmp / "dockerd.log"
    cmd = ["dockerd", "--config-file", str(d / "daemon.json"), "--data-root", str(d / "data"),
           "--exec-root", str(d / "exec"), "--pidfile", str(d / "dockerd.pid"), "-H", f"unix://{sock}",
           "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false", "--ip-forward=false",
           "--default-runtime", "runc", "--exec-opt", "native.cgroupdriver=cgroupfs",
           "--cgroup-parent", f"/{tag}/docker", "--storage-driver", "overlay2"]
    svc = Service("dockerd", sock, spawn(cmd, log), log, note="runc, overlay2, its own containerd")
    services.append(svc)
    svc.wait_ready()
    svc.docker("load", "-i", str(archive), timeout=300)


# --- GET /containers/json ----------------------------------------------------------------------

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: Path) -> None:
        super().__init__("docker", timeout=60)
        self.unix_path = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def get_list(conn: UnixHTTPConnection) -> bytes:
    conn.request("GET", LIST_PATH)
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200:
        raise BenchError(f"GET {LIST_PATH}: {resp.status} {body[:200]!r}")
    return body


def list_batch(sock: Path, n: int, keep_alive: bool) -> float:
    """Seconds for `n` requests: on one connection, or each on its own."""
    started = time.perf_counter()
    if keep_alive:
        conn = UnixHTTPConnection(sock)
        try:
            for _ in range(n):
                get_list(conn)
        finally:
            conn.close()
    else:
        for _ in range(n):
            conn = UnixHTTPConnection(sock)
            try:
                get_list(conn)
            finally:
                conn.close()
    return time.perf_counter() - started


def create_containers(svc: Service, n: int) -> None:
    """`n` created (not started) containers; fewer than that answering the list is an error."""
    for _ in range(n):
        svc.docker("create", "--network", "none", "--label", "bench=api", *svc.run_flags, IMAGE, "true")
    conn = UnixHTTPConnection(svc.sock)
    try:
        found = len(json.loads(get_list(conn)))
    finally:
        conn.close()
    if found < n:
        raise BenchError(f"{svc.name} lists {found} containers, {n} were created")


def remove_containers(svc: Service) -> None:
    ids = subprocess.run([docker_cli(), "ps", "-aq", "--filter", "label=bench=api"], env=svc.env,
                         capture_output=True, text=True, stdin=subprocess.DEVNULL).stdout.split()
    for i in range(0, len(ids), 25):
        subprocess.run([docker_cli(), "rm", "-f", *ids[i:i + 25]], env=svc.env, capture_output=True,
                       stdin=subprocess.DEVNULL)


def measure_lists(services: list[Service], requests: int, rounds: int) -> dict[str, dict[str, float | str]]:
    """Requests per second per engine, kept-alive and fresh connections, in alternating rounds."""
    per_round = max(1, requests // rounds)
    spent: dict[str, dict[str, float]] = {s.name: {"keep-alive": 0.0, "fresh": 0.0} for s in services}
    out: dict[str, dict[str, float | str]] = {}
    live = list(services)
    for svc in services:  # warm-up, and the engines that fail are left out
        try:
            list_batch(svc.sock, 3, True)
        except (BenchError, OSError, http.client.HTTPException) as e:
            out[svc.name] = {"skipped": str(e)}
            live.remove(svc)
    for _ in range(rounds):
        for mode in ("keep-alive", "fresh"):
            for svc in live:
                spent[svc.name][mode] += list_batch(svc.sock, per_round, mode == "keep-alive")
    for svc in live:
        out[svc.name] = {mode: per_round * rounds / seconds for mode, seconds in spent[svc.name].items()}
    return out


# --- the run ----------------------------------------------------------------------------------

def measure(tmp: Path, tag: str, args) -> tuple[list[Result], dict, dict[str, list[float]]]:
    services: list[Service] = []
    skipped: dict[str, str] = {}
    exe = find_mydocker(args.mydocker, tmp)
    try:
        archive = start_mydocker(tmp, exe, services)
        starters = {"podman": start_podman, "dockerd": start_dockerd}
        for name in args.engines:
            if name in starters:
                try:
                    starters[name](tmp, tag, archive, services)
                except BenchError as e:
                    skipped[name] = str(e)
                    services = [s for s in services if s.name != name or stop_and_forget(s)]
        by_name = {s.name: s for s in services}
        if "mydocker" not in args.engines:
            by_name.pop("mydocker")
        # the CLI row first: what a service does after a run (its workers' exits, spares forked
        # again) lands on the row after it, which must not be the CLI row the API's overhead divides by
        contenders = [Contender("mydocker CLI", [*mydocker_base(tmp, exe), *RUN, IMAGE, "true"],
                                note="no service: the engine in the CLI's process")]
        contenders += [Contender(f"{s.name} API", s.run_cmd(), s.env, s.note) for s in by_name.values()]
        contenders.append(Contender("docker --version", [docker_cli(), "--version"],
                                    note="the docker CLI's own start, no request: part of every API row"))
        timings = time_interleaved(contenders, args.runs, args.warmups)
        results = [Result(c.name, Stats.of(t), note=c.note) if isinstance(t := timings[c.name], list)
                   else Result(c.name, skipped=t) for c in contenders]
        samples = {name: t for name, t in timings.items() if isinstance(t, list)}
        results += [Result(f"{name} API", skipped=why) for name, why in skipped.items()]

        lists: dict = {}
        for svc in by_name.values():
            try:
                create_containers(svc, args.containers)
            except BenchError as e:
                lists[svc.name] = {"skipped": str(e)}
        lists.update(measure_lists([s for s in by_name.values() if s.name not in lists], args.requests, args.rounds))
        return results, lists, samples
    finally:
        for svc in reversed(services):
            if svc.proc.poll() is None:
                remove_containers(svc)
            svc.stop()


def stop_and_forget(svc: Service) -> bool:
    svc.stop()
    return False


RATIOS = {"mydocker/dockerd": ("mydocker API", "dockerd API"), "mydocker/podman": ("mydocker API", "podman API"),
          "API overhead": ("mydocker API", "mydocker CLI")}
RESAMPLES = 2000


@dataclass
class Ratio:
    """A ratio of medians and its spread over the rounds (the i-th sample of each row: one round)."""
    median: float         # median(a) / median(b)
    low: float            # its 95% bootstrap interval
    high: float
    rounds_q1: float      # quartiles of the per-round ratios a[i] / b[i]
    rounds_median: float
    rounds_q3: float

    def verdict(self, target: float) -> str:
        return "met" if self.high <= target else "missed" if self.low > target else "unsure"

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in self.__dict__.items()}


def ratio_spread(a: list[float], b: list[float], resamples: int = RESAMPLES, seed: int = 17) -> Ratio:
    """median(a) / median(b) with a 95% percentile-bootstrap interval: rounds drawn with replacement,
    each round's pair kept together (both timed within a second, under the same load)."""
    pairs = list(zip(a, b))
    draw = random.Random(seed)  # the same samples give the same interval
    boot = sorted(statistics.median(x for x, _ in s) / statistics.median(y for _, y in s)
                  for s in ([draw.choice(pairs) for _ in pairs] for _ in range(resamples)))
    per_round = [x / y for x, y in pairs]
    q1, q2, q3 = statistics.quantiles(per_round, n=4) if len(pairs) > 1 else (per_round[0],) * 3
    return Ratio(statistics.median(a) / statistics.median(b), boot[int(0.025 * resamples)],
                 boot[min(resamples - 1, int(0.975 * resamples))], q1, q2, q3)


def summary(samples: dict[str, list[float]]) -> dict[str, Ratio | None]:
    out: dict[str, Ratio | None] = {}
    for name, (a, b) in RATIOS.items():
        n = min(len(samples.get(a, [])), len(samples.get(b, [])))  # a row that failed mid-way: its rounds
        out[name] = ratio_spread(samples[a][:n], samples[b][:n]) if n else None
    return out


def service_part(samples: dict[str, list[float]]) -> float | None:
    """(mydocker API - docker --version) / mydocker CLI, medians: the overhead without the docker CLI's own start."""
    rows = [samples.get(name) for name in ("mydocker API", "docker --version", "mydocker CLI")]
    if not all(rows):
        return None
    api, docker, cli = (statistics.median(r) for r in rows)
    return (api - docker) / cli


def print_report(results: list[Result], samples: dict[str, list[float]], lists: dict, args, load: tuple) -> None:
    print_table(TITLE, results, "dockerd API" if any(r.name == "dockerd API" and r.stats for r in results)
                else "mydocker CLI")
    print("\nratios of medians, 95% interval (bootstrap over the rounds), per-round ratios' quartiles, target")
    for name, value in summary(samples).items():
        if value is None:
            print(f"  {name:18}      -   <= {TARGETS[name]:.2f}x")
            continue
        print(f"  {name:18} {value.median:5.2f}x  [{value.low:.2f}-{value.high:.2f}]  "
              f"rounds {value.rounds_q1:.2f}/{value.rounds_median:.2f}/{value.rounds_q3:.2f}  "
              f"<= {TARGETS[name]:.2f}x {value.verdict(TARGETS[name])}")
    part = service_part(samples)
    if part is not None:
        print(f"  API overhead = docker CLI + service / mydocker CLI; without the docker CLI's own start "
              f"(docker --version): {part:.2f}x")
    print(f"\nGET {LIST_PATH} with {args.containers} containers, requests per second "
          f"({args.requests} per mode, {args.rounds} alternating rounds)")
    print(f"  {'':10} {'keep-alive':>11} {'fresh conn':>11}")
    for name in ENGINES:
        row = lists.get(name)
        if row is None:
            continue
        if "skipped" in row:
            print(f"  {name:10} skipped ({row['skipped']})")
            continue
        print(f"  {name:10} {row['keep-alive']:9.0f}/s {row['fresh']:9.0f}/s")
    print("\nno default-network row: none of the three has a default network that leaves the host's network "
          "alone\n(dockerd runs with --bridge=none; podman's and mydocker's default bridges are host bridges with NAT)")
    print(f"\nload average: {load[0][0]:.2f} at the start, {load[1][0]:.2f} at the end (1 min)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="timed docker runs per row (default 30)")
    parser.add_argument("--warmups", type=int, default=3, help="untimed runs first (default 3)")
    parser.add_argument("--requests", type=int, default=200, help="list requests per engine and mode (default 200)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of the list requests (default 5)")
    parser.add_argument("--containers", type=int, default=50, help="containers to list (default 50)")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help="services to compare (default mydocker,podman,dockerd; "
                             "the mydocker CLI row is always run)")
    parser.add_argument("--quick", action="store_true",
                        help="a short run: 5 runs, 1 warm-up, 5 containers, 20 requests")
    parser.add_argument("--mydocker", metavar="PATH",
                        help="mydocker executable (default: this checkout's, through its launcher)")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.warmups, args.containers, args.requests, args.rounds = 5, 1, 5, 20, 2
    args.engines = [e for e in args.engines.split(",") if e]
    if unknown := set(args.engines) - set(ENGINES):
        parser.error(f"unknown engine {sorted(unknown)[0]!r}: choose from {', '.join(ENGINES)}")
    if args.runs < 1 or args.warmups < 0 or args.requests < 1 or args.rounds < 1 or args.containers < 0:
        parser.error("--runs, --requests and --rounds must be >= 1, --warmups and --containers >= 0")
    if os.geteuid() != 0:
        parser.error("needs root")

    tag = f"mdapibench-{secrets.token_hex(4)}"  # names its temp dir and cgroup parents
    tmp = Path(tempfile.mkdtemp(prefix=f"{tag}.", dir="/tmp"))  # short: unix socket paths have 108 bytes
    host_dirs_missing = [p for p in HOST_DIRS if not os.path.exists(p)]
    load_start = os.getloadavg()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # cleanup runs on SIGTERM as on Ctrl-C
    try:
        results, lists, samples = measure(tmp, tag, args)
    finally:
        leaks = cleanup(tmp, tag, host_dirs_missing)
    load = (load_start, os.getloadavg())

    if args.json:
        out = results_json(TITLE, results, "dockerd API")
        out.update(ratios={k: v.as_dict() if v is not None else None for k, v in summary(samples).items()},
                   service_part=None if (part := service_part(samples)) is None else round(part, 3),
                   targets=TARGETS, lists={k: {m: round(v, 1) if isinstance(v, float) else v for m, v in row.items()}
                                           for k, row in lists.items()},
                   runs=args.runs, warmups=args.warmups, containers=args.containers, requests=args.requests,
                   load_average=[round(load[0][0], 2), round(load[1][0], 2)], leaks=leaks)
        print(json.dumps(out, indent=2))
    else:
        print_report(results, samples, lists, args, load)
        for leak in leaks:
            print(f"  leak: {leak}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

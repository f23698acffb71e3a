"""Resource usage of running containers, from their cgroups (either driver), as `docker stats` shows it."""

from __future__ import annotations

import os
import time

from mydocker.recordclass import record
from mydocker.lazy import lazy_module

api = lazy_module("mydocker.runtime.api")
datetime = lazy_module("datetime")


@record
class ContainerStats:
    id: str
    name: str
    cpu_percent: float
    memory_usage: int
    memory_limit: int      # the container's limit, or the host's memory when it has none
    pids: int


def _host_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def sample(engine, refs: list[str] | None = None, interval: float = 0.5) -> list[ContainerStats]:
    """Two readings `interval` seconds apart: CPU % is the usage between them."""
    records = [engine.records.find_container(r) for r in refs] if refs else \
        [c for c in engine.records.containers() if c.status in ("running", "paused")]
    groups = {}
    for rec in records:
        try:
            cgroup = api.cgroup(engine.containers.runtime_root, rec.id)
        except Exception:  # noqa: BLE001 - gone since the listing: skip it
            cgroup = None
        if cgroup is not None:
            groups[rec.id] = (rec, cgroup, cgroup.stats(), time.monotonic())
    if groups:
        time.sleep(interval)
    out = []
    for rec, cgroup, first, t0 in groups.values():
        try:
            second = cgroup.stats()
        except OSError:
            continue
        elapsed_ns = (time.monotonic() - t0) * 1e9
        # Docker's CPU %: 100 is one CPU fully busy (a container can show up to 100 x CPUs)
        cpu = (second.cpu_usage_ns - first.cpu_usage_ns) / elapsed_ns * 100 if elapsed_ns else 0.0
        out.append(ContainerStats(rec.id, rec.name, max(cpu, 0.0), second.memory_usage,
                                  second.memory_limit or _host_memory(), second.pids_current))
    return out


# --- Docker's stats document (GET /containers/{id}/stats) ----------------------------------------

def docker_reading(engine, ref: str, previous: dict | None = None) -> dict:
    """One reading as Docker's stats JSON: cpu_stats, memory_stats, pids_stats, networks, blkio_stats;
    `previous` (the last reading) becomes precpu_stats. A container that is not running reads zeros."""
    rec = engine.containers.observation.find(ref)
    doc = {"read": datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z"),
           "preread": (previous or {}).get("read", "0001-01-01T00:00:00Z"),
           "id": rec.id, "name": "/" + rec.name, "num_procs": 0,
           "precpu_stats": (previous or {}).get("cpu_stats") or _empty_cpu(),
           "cpu_stats": _empty_cpu(), "memory_stats": {}, "pids_stats": {}, "blkio_stats": _empty_blkio(),
           "storage_stats": {}}
    if rec.status not in ("running", "paused"):
        return doc
    try:
        group = api.cgroup(engine.containers.runtime_root, rec.id)
        reading = group.stats()
    except Exception:  # noqa: BLE001 - it stopped meanwhile: zeros, as Docker shows
        return doc
    cpus = len(os.sched_getaffinity(0))
    doc["cpu_stats"] = {"cpu_usage": {"total_usage": reading.cpu_usage_ns, "percpu_usage": _percpu(group),
                                      "usage_in_kernelmode": 0, "usage_in_usermode": 0},
                        "system_cpu_usage": _system_cpu_ns(), "online_cpus": cpus,
                        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}
    doc["memory_stats"] = {"usage": reading.memory_usage, "limit": reading.memory_limit or _host_memory(),
                           "stats": _memory_stat(group)}
    doc["pids_stats"] = {"current": reading.pids_current,
                         **({"limit": reading.pids_limit} if reading.pids_limit else {})}
    if rec.pid:
        doc["networks"] = _networks(rec.pid)
    return doc


def _empty_cpu() -> dict:
    return {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}


def _empty_blkio() -> dict:
    return {key: None for key in ("io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive",
                                  "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive",
                                  "io_time_recursive", "sectors_recursive")}


def _controller_dir(group, v1_name: str) -> str | None:
    """The cgroup's directory holding `v1_name`'s files (v2: the one unified directory)."""
    paths = getattr(group, "paths", {}) or {}
    return paths.get(v1_name) or paths.get("unified") or paths.get("")


def _read(directory: str | None, name: str) -> str:
    if not directory:
        return ""
    try:
        with open(os.path.join(directory, name)) as f:
            return f.read()
    except OSError:
        return ""


def _percpu(group) -> list[int]:
    return [int(v) for v in _read(_controller_dir(group, "cpuacct"), "cpuacct.usage_percpu").split() if v.isdigit()]


def _memory_stat(group) -> dict[str, int]:
    out = {}
    for line in _read(_controller_dir(group, "memory"), "memory.stat").splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            out[key] = int(value)
    return out


def _system_cpu_ns() -> int:
    """The host's CPU time since boot in ns, as Docker reads it from /proc/stat's cpu line."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:8]
    return sum(int(v) for v in fields) * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def _networks(pid: int) -> dict[str, dict]:
    """The container's interfaces (its network namespace's /proc/net/dev), loopback left out."""
    out = {}
    for line in _read(f"/proc/{pid}/net", "dev").splitlines()[2:]:
        name, _, counters = line.partition(":")
        name, values = name.strip(), [int(v) for v in counters.split()]
        if name == "lo" or len(values) < 16:
            continue
        out[name] = {"rx_bytes": values[0], "rx_packets": values[1], "rx_errors": values[2], "rx_dropped": values[3],
                     "tx_bytes": values[8], "tx_packets": values[9], "tx_errors": values[10], "tx_dropped": values[11]}
    return out

"""Resource usage of running containers, from their cgroups (either driver), as `docker stats` shows it."""

from __future__ import annotations

import os
import time

from mydocker.record import record


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
    from mydocker.runtime.api import cgroup as container_cgroup
    records = [engine.records.find_container(r) for r in refs] if refs else \
        [c for c in engine.records.containers() if c.status == "running"]
    groups = {}
    for rec in records:
        try:
            cgroup = container_cgroup(engine.containers.runtime_root, rec.id)
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

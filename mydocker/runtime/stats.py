"""What a container's cgroups say about it (events --stats, `mydocker stats`, OOMKilled), from its
recorded cgroup paths."""

from __future__ import annotations

from mydocker.errors import NotFound
from mydocker.lazy import lazy_module
from mydocker.runtime import state_file as st

cgroups = lazy_module("mydocker.runtime.cgroups")


def container_cgroup(root: str, container_id: str):
    """The container's Cgroup, or None when it has none recorded."""
    record = st.load(root, container_id)
    if not record.cgroup_paths:
        return None
    return cgroups.cgroup_from_paths(record.cgroup_paths)


def oom_killed(root: str, container_id: str) -> bool:
    """Whether the kernel's OOM killer killed a process of the container. Read it before `delete`:
    the count goes with the cgroup."""
    try:
        cgroup = container_cgroup(root, container_id)
        return bool(cgroup and cgroup.oom_killed())
    except (OSError, LookupError, NotFound):  # NotFound: deleted already (`rm -f`), nothing to tell
        return False


def stats_json(root: str, container_id: str) -> dict:
    """runc's `events --stats` data, in its field names (the subset our drivers measure)."""
    cgroup = container_cgroup(root, container_id)
    if cgroup is None:
        return {}
    s = cgroup.stats()
    return {"cpu": {"usage": {"total": s.cpu_usage_ns}},
            "memory": {"usage": {"usage": s.memory_usage, "limit": s.memory_limit or 0},
                       "oom_kill": s.oom_kills},
            "pids": {"current": s.pids_current, "limit": s.pids_limit or 0}}

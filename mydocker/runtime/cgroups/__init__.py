"""Container cgroups on v1, hybrid and v2 hosts.

Lifecycle, as the runtime drives it: `cg = open_cgroup(spec cgroupsPath)`, record `cg.paths` in
the state, then `cg.create()`, `cg.set(linux.resources)`, `cg.apply(init_pid)`; at delete,
`cgroup_from_paths(recorded).destroy()`, which works even if create never finished.
"""

from __future__ import annotations

from mydocker.lazy import lazy_module
from mydocker.runtime.cgroups.base import Cgroup, CgroupStats
from mydocker.runtime.cgroups.convert import shares_to_weight
from mydocker.runtime.cgroups.detect import UNIFIED, check_cgroups_path, hierarchies, mode_of

cgroups_systemd = lazy_module("mydocker.runtime.cgroups.systemd")
v1 = lazy_module("mydocker.runtime.cgroups.v1")
v2 = lazy_module("mydocker.runtime.cgroups.v2")

__all__ = ["Cgroup", "CgroupStats", "cgroup_from_paths", "detect_mode", "open_cgroup", "shares_to_weight"]


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def detect_mode(mountinfo: str | None = None, self_cgroup: str | None = None) -> str:
    """"v1", "hybrid" (v1 controllers plus a cgroup2 mount) or "v2", from the texts of
    /proc/self/mountinfo and /proc/self/cgroup (read from /proc when not given)."""
    return mode_of(hierarchies(_read("/proc/self/mountinfo") if mountinfo is None else mountinfo,
                               _read("/proc/self/cgroup") if self_cgroup is None else self_cgroup))


# `mydocker-runtime --systemd-cgroup`: cgroupsPath is runc's "slice:prefix:name" (set by the runtime CLI).
SYSTEMD = False


def open_cgroup(cgroups_path: str | None, *, default: str = "", container_id: str = "",
                systemd: bool | None = None, mountinfo_path: str = "/proc/self/mountinfo",
                cgroup_path: str = "/proc/self/cgroup") -> Cgroup:
    """The container's cgroup for OCI linux.cgroupsPath (`default` when it is empty); nothing is created yet.

    An absolute path ("/mydocker/<id>") hangs under each hierarchy's mount; a relative one
    ("mydocker/<id>") under the caller's own cgroup in each hierarchy, as in runc. In systemd mode
    "slice:prefix:name" becomes the path systemd gives that unit (cgroups/systemd.py), made with cgroupfs."""
    if SYSTEMD if systemd is None else systemd:
        cgroups_path = cgroups_systemd.systemd_cgroup_path(cgroups_path or "", container_id)
    inner = check_cgroups_path(cgroups_path or default)
    found = hierarchies(_read(mountinfo_path), _read(cgroup_path))
    mode = mode_of(found)
    if mode == "v2":
        found = [h for h in found if not h.controllers]
    cgroup = cgroup_from_paths({key: h.directory(inner) for h in found for key in h.keys})
    cgroup.mountpoints = {key: h.mountpoint for h in found for key in h.keys}
    return cgroup


def cgroup_from_paths(paths: dict[str, str]) -> Cgroup:
    """Rebuild the driver from recorded `paths` (crash cleanup, delete, pause, stats)."""
    if set(paths) == {UNIFIED}:
        return v2.V2Cgroup(paths)
    return v1.V1Cgroup(paths)

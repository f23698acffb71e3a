"""Where the cgroup hierarchies are and which mode the host runs, read from /proc/self/mountinfo and
/proc/self/cgroup (never from well-known paths: containers, test hosts and cgroup namespaces
mount them elsewhere)."""

from __future__ import annotations

import posixpath
from mydocker.recordclass import record

from mydocker.errors import InvalidArgument, RuntimeFailure

UNIFIED = "unified"  # the `paths` key of the cgroup2 hierarchy

_ESCAPES = {"\\040": " ", "\\011": "\t", "\\012": "\n", "\\134": "\\"}


@record
class Hierarchy:
    controllers: tuple[str, ...]  # ("cpu", "cpuacct"), ("name=systemd",); () for cgroup2
    mountpoint: str
    root: str  # the hierarchy's path that is mounted at mountpoint
    own: str  # this process's cgroup in the hierarchy

    @property
    def keys(self) -> tuple[str, ...]:
        return self.controllers or (UNIFIED,)

    def directory(self, cgroups_path: str) -> str:
        """runc's rule: an absolute path hangs under the mount, a relative one under our own cgroup."""
        if cgroups_path.startswith("/"):
            return posixpath.normpath(self.mountpoint + cgroups_path)
        own = posixpath.relpath(self.own, self.root)
        if own == ".." or own.startswith("../"):
            raise RuntimeFailure(f"our cgroup {self.own} lies outside the mount of {self.root} at {self.mountpoint}; "
                                 "use an absolute cgroupsPath")
        return posixpath.normpath(posixpath.join(self.mountpoint, own, cgroups_path))


def _unescape(field: str) -> str:
    for code, char in _ESCAPES.items():
        field = field.replace(code, char)
    return field


def _cgroup_mounts(mountinfo: str) -> list[tuple[str, str, str, set[str]]]:
    """(fstype, root, mountpoint, super options) of each cgroup and cgroup2 mount."""
    mounts = []
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        mounts.append((tail[0], _unescape(fields[3]), _unescape(fields[4]), set(tail[2].split(","))))
    return mounts


def hierarchies(mountinfo: str, self_cgroup: str) -> list[Hierarchy]:
    """The hierarchies this process belongs to that are mounted, each at its best mount."""
    mounts = _cgroup_mounts(mountinfo)
    found = []
    for line in self_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, names, own = parts
        controllers = tuple(names.split(",")) if names else ()
        candidates = [(root, point) for fstype, root, point, opts in mounts
                      if (fstype == "cgroup" and controllers and opts.issuperset(controllers))
                      or (fstype == "cgroup2" and not controllers)]
        # Prefer the whole hierarchy; else a mount whose root holds our cgroup (a cgroupns view).
        candidates.sort(key=lambda c: (c[0] != "/", not (own + "/").startswith(c[0].rstrip("/") + "/")))
        if candidates:
            root, point = candidates[0]
            found.append(Hierarchy(controllers, point, root, own))
    return found


def mode_of(found: list[Hierarchy]) -> str:
    # A named hierarchy such as name=systemd controls nothing: it does not make a host v1.
    v1 = any(c for h in found for c in h.controllers if not c.startswith("name="))
    v2 = any(not h.controllers for h in found)
    if v1:
        return "hybrid" if v2 else "v1"
    if v2:
        return "v2"
    raise RuntimeFailure("no cgroup hierarchy is mounted (see /proc/self/mountinfo); mount cgroup2 at /sys/fs/cgroup")


def check_cgroups_path(cgroups_path: str) -> str:
    """The OCI linux.cgroupsPath, refused where it would name a hierarchy's root or leave it."""
    parts = [p for p in cgroups_path.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise InvalidArgument(f"linux.cgroupsPath {cgroups_path!r} must name a cgroup below the hierarchy, "
                              "without '..', such as /mydocker/<id>")
    return ("/" if cgroups_path.startswith("/") else "") + "/".join(parts)

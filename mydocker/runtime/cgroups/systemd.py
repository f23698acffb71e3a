"""`--systemd-cgroup`: linux.cgroupsPath read as runc's "slice:prefix:name".

runc hands such a path to systemd, which creates the unit "<prefix>-<name>.scope" in the slice.
systemd is not the init on every host this runtime runs on (nor on this one), so the path is
translated here into the cgroup directory systemd would use, and the cgroupfs driver creates it:
"system.slice:docker:abc" -> /system.slice/docker-abc.scope, "a-b.slice:p:n" -> /a.slice/a-b.slice/p-n.scope.
"""

from __future__ import annotations

from mydocker.errors import InvalidArgument

DEFAULT_SLICE = "system.slice"
DEFAULT_PREFIX = "mydocker"  # runc's is "runc", for a config.json without cgroupsPath
_SUFFIX = ".slice"


def _bad(value: str, why: str) -> InvalidArgument:
    return InvalidArgument(f"linux.cgroupsPath {value!r} {why}; with --systemd-cgroup it is \"slice:prefix:name\", "
                           "e.g. \"system.slice:docker:<id>\"")


def expand_slice(slice_name: str, value: str = "") -> str:
    """systemd's path of a slice unit: "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice", "-.slice" -> "/"."""
    where = value or slice_name
    if not slice_name.endswith(_SUFFIX) or "/" in slice_name:
        raise _bad(where, f"names the slice {slice_name!r}, which must end in .slice and hold no '/'")
    stem = slice_name[:-len(_SUFFIX)]
    if stem == "-":
        return "/"
    path, prefix = "", ""
    for part in stem.split("-"):
        if not part:  # "-a.slice", "a--b.slice", "a-.slice", ".slice"
            raise _bad(where, f"names the slice {slice_name!r}, which has an empty '-' component")
        path += f"/{prefix}{part}{_SUFFIX}"
        prefix += f"{part}-"
    return path


def unit_name(prefix: str, name: str) -> str:
    """runc's getUnitName: a scope, unless the name is itself a slice."""
    return name if name.endswith(_SUFFIX) else f"{prefix}-{name}.scope"


def systemd_cgroup_path(value: str, container_id: str) -> str:
    """The absolute cgroup path (below each hierarchy's mount) systemd would give "slice:prefix:name".

    An empty value is runc's default: the container's own scope in system.slice."""
    if value == "":
        value = f"{DEFAULT_SLICE}:{DEFAULT_PREFIX}:{container_id}"
    parts = value.split(":")
    if len(parts) != 3:
        raise _bad(value, f"has {len(parts)} ':'-separated parts, not 3")
    slice_name, prefix, name = parts
    if not name or name in (".", "..") or "/" in name or "/" in prefix:
        raise _bad(value, "needs a unit name without '/', and a prefix without '/'")
    unit = unit_name(prefix, name)
    if unit.endswith(_SUFFIX):
        expand_slice(unit, value)  # a slice unit's name must be a valid slice name too
    parent = expand_slice(slice_name or DEFAULT_SLICE, value)
    return parent.rstrip("/") + "/" + unit

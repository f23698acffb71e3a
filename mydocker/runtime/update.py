"""`update`: change a running container's linux.resources (runc's flags, or -r FILE with the JSON)."""

from __future__ import annotations

import json
import sys

from mydocker.errors import Conflict, InvalidArgument
from mydocker.lazy import lazy_module
from mydocker.runtime import state_file as st

cgroups = lazy_module("mydocker.runtime.cgroups")

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}

# flag dest -> (section, key, kind)
FLAGS = {
    "blkio_weight": ("blockIO", "weight", "int"), "cpu_period": ("cpu", "period", "int"),
    "cpu_quota": ("cpu", "quota", "int"), "cpu_share": ("cpu", "shares", "int"),
    "cpu_rt_period": ("cpu", "realtimePeriod", "int"), "cpu_rt_runtime": ("cpu", "realtimeRuntime", "int"),
    "cpuset_cpus": ("cpu", "cpus", "str"), "cpuset_mems": ("cpu", "mems", "str"),
    "memory": ("memory", "limit", "size"), "memory_reservation": ("memory", "reservation", "size"),
    "memory_swap": ("memory", "swap", "size"), "pids_limit": ("pids", "limit", "int"),
}


def size(text: str, flag: str) -> int:
    """"64m", "1g", "1024", "-1" -> bytes (runc's RAMInBytes, binary units)."""
    value = text.strip().lower()
    if value == "-1":
        return -1
    if value.endswith("ib"):
        value = value[:-2]
    elif value.endswith("b") and len(value) > 1 and value[-2] in _UNITS:
        value = value[:-1]
    unit = value[-1] if value and value[-1] in _UNITS else ""
    number = value[: len(value) - len(unit)]
    try:
        return int(float(number) * _UNITS[unit])
    except ValueError:
        raise InvalidArgument(f"--{flag.replace('_', '-')}: invalid size {text!r}; use a number with an optional "
                              "k, m or g suffix") from None


def resources_from_flags(opts, resources_file: str | None) -> dict:
    resources: dict = {}
    if resources_file:
        try:
            text = sys.stdin.read() if resources_file == "-" else open(resources_file).read()
            resources = json.loads(text)
        except (OSError, ValueError) as e:
            raise InvalidArgument(f"--resources {resources_file}: cannot read the resources JSON ({e})") from None
        if not isinstance(resources, dict):
            raise InvalidArgument("--resources: the file must hold a JSON object (linux.resources)")
    for dest, (section, key, kind) in FLAGS.items():
        value = opts.get(dest)
        if value is None or value == "":
            continue
        if kind == "size":
            value = size(str(value), dest)
        elif kind == "int":
            try:
                value = int(value)
            except ValueError:
                raise InvalidArgument(f"--{dest.replace('_', '-')}: {value!r} is not an integer") from None
        resources.setdefault(section, {})[key] = value
    return resources


def update(root: str, container_id: str, resources: dict) -> None:
    record = st.load(root, container_id)
    current = st.status(root, record)
    if current not in ("created", "running", "paused"):
        raise Conflict(f"container not running: {container_id} is {current}; only a live container can be updated")
    if not record.cgroup_paths:
        raise Conflict(f"container {container_id} has no cgroups recorded: nothing to update")
    cgroups.cgroup_from_paths(record.cgroup_paths).set(resources)

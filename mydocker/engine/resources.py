"""`run` resource flags -> OCI linux.resources, with the checks and defaults dockerd applies."""

from __future__ import annotations

import os

from mydocker.engine.options import ResourceOptions
from mydocker.engine.units import NANO, parse_cpus, ram_in_bytes
from mydocker.errors import InvalidArgument

MIN_MEMORY = 6 * 1024 * 1024  # dockerd's linuxMinMemory
CPU_PERIOD = 100_000  # µs; --cpus becomes a quota over this period, as in dockerd
SHARES_MIN, SHARES_MAX = 2, 262144
# podman's default (Docker has none): a fork bomb stops at 2048 tasks; --pids-limit -1 (or 0) lifts it
DEFAULT_PIDS_LIMIT = 2048

_CPU_ONLINE = "/sys/devices/system/cpu/online"
_NODE_ONLINE = "/sys/devices/system/node/online"


def resources_from_options(flags: ResourceOptions, defaults: bool = True) -> dict:
    """The resource flags as typed (None: flag absent) -> the `linux.resources` dict of config.json.

    `defaults=False` (`update`): the flags given and nothing else, as changes to a container's limits:
    no default pids limit, and an unlimited one (0 or -1) spelled out as -1, since absent means unchanged."""
    resources: dict = {}
    mem = _memory(flags.memory, flags.memory_swap, flags.memory_reservation)
    if mem:
        resources["memory"] = mem
    cpu = _cpu(flags.cpus, flags.cpu_shares, flags.cpuset_cpus, flags.cpuset_mems)
    if cpu:
        resources["cpu"] = cpu
    pids = _pids(flags.pids_limit, defaults)
    if pids:
        resources["pids"] = {"limit": pids}
    return resources


def _pids(limit: int | None, defaults: bool) -> int | None:
    """The pids limit to set: the flag's (0 and -1 mean unlimited, as in Docker), else the default
    where the host has a pids controller (as podman: without one there is nothing to set).
    Without `defaults`: no default, and unlimited as -1 (lifts a limit that is set)."""
    if limit is None:
        return DEFAULT_PIDS_LIMIT if defaults and _has_pids_controller() else None
    if limit > 0:
        return limit
    return None if defaults else -1


def _has_pids_controller() -> bool:
    try:
        with open("/sys/fs/cgroup/cgroup.controllers") as f:  # cgroup v2 alone
            return "pids" in f.read().split()
    except FileNotFoundError:
        return os.path.isdir("/sys/fs/cgroup/pids")


def _size(flag: str, text: str | None) -> int:
    if text is None:
        return 0
    try:
        return ram_in_bytes(text)
    except ValueError as e:
        raise InvalidArgument(f"{flag}: {e}") from None


def _memory(memory: str | None, swap: str | None, reservation: str | None) -> dict:
    limit = _size("--memory", memory)
    total = -1 if swap == "-1" else _size("--memory-swap", swap)
    soft = _size("--memory-reservation", reservation)
    if 0 < limit < MIN_MEMORY:
        raise InvalidArgument(f"--memory: minimum memory limit allowed is 6MB, got {memory}; use --memory 6m or more")
    if 0 < soft < MIN_MEMORY:
        raise InvalidArgument(f"--memory-reservation: minimum memory reservation allowed is 6MB, got {reservation}; "
                              "use 6m or more")
    if total > 0 and not limit:
        raise InvalidArgument("--memory-swap: it limits memory plus swap, so it needs --memory too; add --memory")
    if 0 < total < limit:
        raise InvalidArgument(f"--memory-swap ({swap}) limits memory plus swap and must be at least --memory "
                              f"({memory}); raise it, or use -1 for unlimited swap")
    if limit and soft > limit:
        raise InvalidArgument(f"--memory-reservation ({reservation}) must not exceed --memory ({memory}); lower it")
    out = {}
    if limit:
        out["limit"] = limit
        # dockerd's default: as much swap as memory, so the memory+swap total is twice the limit.
        out["swap"] = total or 2 * limit
    elif total == -1:
        out["swap"] = -1
    if soft:
        out["reservation"] = soft
    return out


def _cpu(cpus: str | None, shares: int | None, cpuset_cpus: str | None, cpuset_mems: str | None) -> dict:
    out: dict = {}
    if cpus is not None:
        try:
            nano = parse_cpus(cpus)
        except ValueError as e:
            raise InvalidArgument(f"--cpus: {e}") from None
        available = len(os.sched_getaffinity(0))
        if nano and not NANO // 100 <= nano <= available * NANO:
            raise InvalidArgument(f"--cpus: range of CPUs is from 0.01 to {available}.00, as there are only "
                                  f"{available} CPUs available; got {cpus}")
        if nano:
            out["quota"] = nano * CPU_PERIOD // NANO
            out["period"] = CPU_PERIOD
    if shares:
        if shares < 0:
            raise InvalidArgument(f"--cpu-shares: {shares} is negative; use a relative weight such as 512 or 1024")
        # dockerd clamps rather than refuses: the kernel's range is 2..262144.
        out["shares"] = min(max(shares, SHARES_MIN), SHARES_MAX)
    if cpuset_cpus is not None:
        out["cpus"] = _cpuset("--cpuset-cpus", cpuset_cpus, _CPU_ONLINE)
    if cpuset_mems is not None:
        out["mems"] = _cpuset("--cpuset-mems", cpuset_mems, _NODE_ONLINE)
    return out


def parse_list(text: str) -> set[int]:
    """A kernel list such as "0-2,4" -> {0, 1, 2, 4}; ValueError if malformed."""
    found: set[int] = set()
    for part in text.split(","):
        low, dash, high = part.partition("-")
        if not (low.isascii() and low.isdigit()) or (dash and not (high.isascii() and high.isdigit())):
            raise ValueError(text)
        first, last = int(low), int(high) if dash else int(low)
        if last < first:
            raise ValueError(text)
        found.update(range(first, last + 1))
    return found


def _cpuset(flag: str, text: str, online_file: str) -> str:
    try:
        wanted = parse_list(text)
    except ValueError:
        raise InvalidArgument(f"{flag}: invalid list {text!r}; use numbers and ranges such as 0-2,4") from None
    try:
        with open(online_file) as f:
            online_text = f.read().strip()
    except FileNotFoundError:
        return text  # no such topology on this kernel: the runtime's cgroup write will judge
    missing = wanted - parse_list(online_text)
    if missing:
        raise InvalidArgument(f"{flag}: requested {text} is not available; available: {online_text}")
    return text

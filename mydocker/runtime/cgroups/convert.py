"""OCI linux.resources speaks cgroup v1; these turn its values into cgroup v2's."""

from __future__ import annotations

import math

from mydocker.errors import InvalidArgument

SHARES_MIN, SHARES_MAX = 2, 262144  # kernel MIN_SHARES, MAX_SHARES (1 << 18)
WEIGHT_MIN, WEIGHT_MAX = 1, 10000  # CGROUP_WEIGHT_MIN, CGROUP_WEIGHT_MAX


def shares_to_weight(shares: int) -> int:
    """cpu.shares [2, 262144] -> cpu.weight [1, 10000], 0 staying "unset".

    The formula of runc >= 1.3.2 (opencontainers/cgroups PR #20) and crun >= 1.23 (PR #1767):
    a quadratic in log2(shares) that keeps the two defaults together (1024 -> 100) and the ends
    (2 -> 1, 262144 -> 10000). The older linear 1 + (shares - 2) * 9999 / 262142 mapped the default
    1024 to 39, leaving a container with 39% of its fair share against the host's services.
    """
    if shares == 0:
        return 0
    if shares <= SHARES_MIN:
        return WEIGHT_MIN
    if shares >= SHARES_MAX:
        return WEIGHT_MAX
    l = math.log2(shares)  # noqa: E741 -- the name the upstream formula uses
    return math.ceil(10 ** ((l * l + 125 * l) / 612 - 7 / 34))


def blkio_weight_to_io_weight(weight: int) -> int:
    """blkio.weight [10, 1000] -> io.weight [1, 10000], linearly (runc, crun)."""
    return 1 + (weight - 10) * 9999 // 990


def swap_to_v2(swap: int, limit: int | None) -> int:
    """OCI memory.swap is memory+swap (v1 memsw); v2's memory.swap.max is swap alone. -1: unlimited."""
    if swap == -1 or (limit is not None and limit == -1):
        return swap
    if not limit:
        raise InvalidArgument("linux.resources.memory.swap needs memory.limit on cgroup v2: set both, or neither")
    if swap < limit:
        raise InvalidArgument(f"linux.resources.memory.swap ({swap}) is memory plus swap and must be at least "
                              f"memory.limit ({limit})")
    return swap - limit

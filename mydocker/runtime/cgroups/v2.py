"""The cgroup v2 driver: one directory in the unified hierarchy. A controller's files appear in a
cgroup only once every ancestor has enabled it in cgroup.subtree_control."""

from __future__ import annotations

import os
import signal

from mydocker.errors import RuntimeFailure
from mydocker.runtime.cgroups.base import Cgroup, CgroupStats, key_values, limit_value
from mydocker.runtime.cgroups.convert import blkio_weight_to_io_weight, shares_to_weight, swap_to_v2
from mydocker.runtime.cgroups.detect import UNIFIED

# The controllers `set` writes to; others (hugetlb, rdma, misc) are left as the host has them.
_WANTED = ("cpu", "cpuset", "io", "memory", "pids")


class V2Cgroup(Cgroup):
    @property
    def _dir(self) -> str:
        return self.paths[UNIFIED]

    def create(self) -> None:
        # The leaf first: once it exists no concurrent destroy can prune the parents we enable in.
        self._mkdir_p(self._dir)
        root = self._mount_root()
        ancestors = []
        directory = self._dir
        while directory != root:
            directory = os.path.dirname(directory)
            ancestors.append(directory)
        for directory in reversed(ancestors):
            self._enable_controllers(directory)

    def create_unified(self) -> int | None:
        self.create()
        return os.open(self._dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)

    def _mount_root(self) -> str:
        """The topmost directory that is a cgroup: the hierarchy's mount point."""
        parts = self._dir.split("/")
        for i in range(2, len(parts) + 1):
            candidate = "/".join(parts[:i])
            if self._fs.exists(os.path.join(candidate, "cgroup.controllers")):
                return candidate
        raise RuntimeFailure(f"{self._dir} is not in a cgroup2 hierarchy")

    def _enable_controllers(self, directory: str) -> None:
        offered = (self._read(directory, "cgroup.controllers") or "").split()
        enabled = (self._read(directory, "cgroup.subtree_control") or "").split()
        missing = [c for c in _WANTED if c in offered and c not in enabled]
        if not missing:
            return  # also keeps us from writing to a root we need not touch
        try:
            self._fs.write(os.path.join(directory, "cgroup.subtree_control"), " ".join("+" + c for c in missing))
        except OSError as e:
            raise RuntimeFailure(f"cannot enable {', '.join(missing)} in {directory}/cgroup.subtree_control "
                                 f"({e.strerror}): a v2 cgroup with processes of its own cannot hand controllers "
                                 "to children; use a cgroupsPath outside it") from None

    # --- resources -------------------------------------------------------------------------
    def set(self, resources: dict) -> None:
        """Write OCI linux.resources. Device rules are not enforced here: v2 takes them only as an
        eBPF program attached to the cgroup, which this driver does not load."""
        memory = resources.get("memory") or {}
        limit = memory.get("limit")
        if limit:
            self._set("memory.max", limit_value(limit), "memory.limit")
        if memory.get("reservation"):
            self._set("memory.low", memory["reservation"], "memory.reservation")
        # Without swap accounting there is no memory.swap.max and no swap to limit (Docker drops it too).
        if memory.get("swap") and self._fs.exists(os.path.join(self._dir, "memory.swap.max")):
            self._set("memory.swap.max", limit_value(swap_to_v2(memory["swap"], limit)), "memory.swap")

        cpu = resources.get("cpu") or {}
        if cpu.get("shares"):
            self._set("cpu.weight", shares_to_weight(cpu["shares"]), "cpu.shares")
        quota, period = cpu.get("quota"), cpu.get("period")
        if quota or period:
            value = str(quota) if quota and quota > 0 else "max"
            self._set("cpu.max", f"{value} {period}" if period else value, "cpu.quota")
        for key in ("cpus", "mems"):
            if cpu.get(key):
                self._set(f"cpuset.{key}", cpu[key], f"cpu.{key}")

        pids = (resources.get("pids") or {}).get("limit")
        if pids:  # 0 leaves pids.max alone, as in runc
            self._set("pids.max", limit_value(pids), "pids.limit")

        weight = (resources.get("blockIO") or {}).get("weight")
        if weight:
            # io.bfq.weight takes blkio's own scale; io.weight needs the conversion.
            if self._fs.exists(os.path.join(self._dir, "io.bfq.weight")):
                self._set("io.bfq.weight", weight, "blockIO.weight")
            else:
                self._set("io.weight", f"default {blkio_weight_to_io_weight(weight)}", "blockIO.weight")

    def _set(self, name: str, value: object, field: str) -> None:
        self._write(self._dir, name, value, f"linux.resources.{field}")

    # --- observation and control -------------------------------------------------------------
    def stats(self) -> CgroupStats:
        memory_max = self._read(self._dir, "memory.max")
        pids_max = self._read(self._dir, "pids.max")
        return CgroupStats(
            cpu_usage_ns=self._events("cpu.stat").get("usage_usec", 0) * 1000,
            memory_usage=self._read_int(self._dir, "memory.current"),
            memory_limit=int(memory_max) if memory_max and memory_max.isdigit() else None,
            pids_current=self._read_int(self._dir, "pids.current"),
            pids_limit=int(pids_max) if pids_max and pids_max.isdigit() else None,
            oom_kills=self._events("memory.events").get("oom_kill", 0),
        )

    def oom_killed(self) -> bool:
        return self._events("memory.events").get("oom_kill", 0) > 0

    def freeze(self) -> None:
        self._freeze(1)

    def thaw(self) -> None:
        self._freeze(0)

    def _freeze(self, frozen: int) -> None:
        self._write(self._dir, "cgroup.freeze", frozen, "cgroup.freeze")
        self._wait_for(lambda: self._events("cgroup.events").get("frozen") == frozen,
                       f"{self._dir} to {'freeze' if frozen else 'thaw'}")

    def kill_all(self, sig: int) -> None:
        # cgroup.kill (Linux 5.14) kills the whole subtree atomically: no freeze, no fork race.
        if sig == signal.SIGKILL and self._fs.exists(os.path.join(self._dir, "cgroup.kill")):
            self._write(self._dir, "cgroup.kill", 1, "cgroup.kill")
        else:
            super().kill_all(sig)

    def _events(self, name: str) -> dict[str, int]:
        return key_values(self._read(self._dir, name) or "")

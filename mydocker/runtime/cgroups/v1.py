"""The cgroup v1 driver: one directory per hierarchy. On a hybrid host the process is also placed in
the cgroup2 hierarchy ("unified"), which holds no controller the driver sets."""

from __future__ import annotations

import os

from mydocker.errors import InvalidArgument, RuntimeFailure
from mydocker.runtime.cgroups.base import Cgroup, CgroupStats, key_values, limit_value

_PAGE = os.sysconf("SC_PAGE_SIZE")
_UNLIMITED_MEMORY = (2**63 - 1) // _PAGE * _PAGE  # what memory.limit_in_bytes reads when unset

_MEMSW = "memory.memsw.limit_in_bytes"


class V1Cgroup(Cgroup):
    def create(self) -> None:
        for directory in self._dirs():
            self._mkdir_p(directory)
        if "cpuset" in self.paths:
            self._fill_cpuset(self.paths["cpuset"])

    def _fill_cpuset(self, leaf: str) -> None:
        # A new v1 cpuset has no CPUs and no memory nodes, and refuses tasks until it gets some:
        # give each empty level its parent's, top-down. Each file is read once.
        names = ("cpuset.cpus", "cpuset.mems")
        levels = []  # (directory, its values), from the leaf up to the first level with both set
        directory = leaf
        while True:
            values = {name: self._read(directory, name) for name in names}
            levels.append((directory, values))
            if all(values.values()):
                break
            if directory == os.path.dirname(directory):
                raise RuntimeFailure(f"no cpuset above {leaf} has CPUs and memory nodes; "
                                     "is the cpuset hierarchy mounted?")
            directory = os.path.dirname(directory)
        for (directory, values), (_parent, inherited) in zip(reversed(levels[:-1]), reversed(levels[1:])):
            for name in names:
                if not values[name]:
                    values[name] = inherited[name]
                    self._write(directory, name, values[name], f"cgroup {name}")

    # --- resources -------------------------------------------------------------------------
    def set(self, resources: dict) -> None:
        self._set_memory(resources.get("memory") or {})
        self._set_cpu(resources.get("cpu") or {})
        pids = (resources.get("pids") or {}).get("limit")
        if pids:  # 0 leaves pids.max alone, as in runc
            self._set("pids", "pids.max", limit_value(pids), "pids.limit")
        self._set_blkio(resources.get("blockIO") or {})
        for i, limit in enumerate(resources.get("hugepageLimits") or []):
            self._set("hugetlb", f"hugetlb.{limit.get('pageSize')}.limit_in_bytes", limit.get("limit", 0),
                      f"hugepageLimits[{i}]")
        network = resources.get("network") or {}
        if network.get("classID"):
            self._set("net_cls", "net_cls.classid", network["classID"], "network.classID")
        for i, prio in enumerate(network.get("priorities") or []):
            self._set("net_prio", "net_prio.ifpriomap", f"{prio.get('name')} {prio.get('priority', 0)}",
                      f"network.priorities[{i}]")
        self._set_devices(resources.get("devices") or [])

    def _set(self, hierarchy: str, name: str, value: object, field: str) -> None:
        directory = self.paths.get(hierarchy)
        if directory is None:
            raise RuntimeFailure(f"linux.resources.{field}: the {hierarchy} cgroup hierarchy is not mounted on "
                                 "this host; leave the setting out")
        self._write(directory, name, value, f"linux.resources.{field}")

    def _set_devices(self, rules: list[dict]) -> None:
        """The rules in order, each run of allow (or deny) rules through one open of its file."""
        if not rules:
            return
        directory = self.paths.get("devices")
        if directory is None:
            raise RuntimeFailure("linux.resources.devices: the devices cgroup hierarchy is not mounted on "
                                 "this host; leave the setting out")
        run: list[str] = []
        for i, rule in enumerate(rules):
            run.append(_device_rule(rule))
            name = "devices.allow" if rule.get("allow") else "devices.deny"
            if i + 1 == len(rules) or bool(rules[i + 1].get("allow")) != bool(rule.get("allow")):
                self._write_each(directory, name, run, "linux.resources.devices")
                run = []

    def _set_memory(self, memory: dict) -> None:
        limit, swap = memory.get("limit"), memory.get("swap")
        directory = self.paths.get("memory")
        # Without swap accounting there is no memsw file and no swap to limit: Docker drops the
        # setting then too ("memory limited without swap").
        has_memsw = directory is not None and self._fs.exists(os.path.join(directory, _MEMSW))
        if not has_memsw:
            swap = None
        elif limit == -1 and swap is None:
            swap = -1  # unlimited memory means unlimited memory+swap (runc)
        steps = [("memory.limit_in_bytes", limit, "memory.limit"), (_MEMSW, swap, "memory.swap")]
        # memsw may never drop below the limit: when the new total is above the current limit,
        # raise it first (runc's order).
        if limit and swap and (swap == -1 or self._read_int(directory, "memory.limit_in_bytes") < swap):
            steps.reverse()
        for name, value, field in steps:
            if value:
                self._set("memory", name, value, field)
        if memory.get("reservation"):
            self._set("memory", "memory.soft_limit_in_bytes", memory["reservation"], "memory.reservation")
        if memory.get("kernelTCP"):
            self._set("memory", "memory.kmem.tcp.limit_in_bytes", memory["kernelTCP"], "memory.kernelTCP")
        # memory.kernel: accepted and ignored, as runc 1.1 does (kernels >= 5.16 dropped the kmem limit).
        swappiness = memory.get("swappiness")
        if swappiness is not None and swappiness != -1 and swappiness != 2**64 - 1:  # -1 (as uint64): unset
            if not 0 <= swappiness <= 100:
                raise InvalidArgument(f"linux.resources.memory.swappiness must be 0 to 100, not {swappiness}")
            self._set("memory", "memory.swappiness", swappiness, "memory.swappiness")
        if memory.get("disableOOMKiller"):
            self._set("memory", "memory.oom_control", 1, "memory.disableOOMKiller")

    def _set_cpu(self, cpu: dict) -> None:
        if cpu.get("shares"):
            self._set("cpu", "cpu.shares", cpu["shares"], "cpu.shares")
        if cpu.get("period"):
            self._set("cpu", "cpu.cfs_period_us", cpu["period"], "cpu.period")
        if cpu.get("quota"):
            self._set("cpu", "cpu.cfs_quota_us", cpu["quota"], "cpu.quota")
        if cpu.get("realtimePeriod"):
            self._set("cpu", "cpu.rt_period_us", cpu["realtimePeriod"], "cpu.realtimePeriod")
        if cpu.get("realtimeRuntime"):
            self._set("cpu", "cpu.rt_runtime_us", cpu["realtimeRuntime"], "cpu.realtimeRuntime")
        for key in ("cpus", "mems"):
            if cpu.get(key):
                self._set("cpuset", f"cpuset.{key}", cpu[key], f"cpu.{key}")

    def _set_blkio(self, blkio: dict) -> None:
        directory = self.paths.get("blkio")
        # Kernels with only the BFQ scheduler have no blkio.weight (this host's 6.18 among them).
        bfq = directory is not None and not self._fs.exists(os.path.join(directory, "blkio.weight"))
        prefix = "blkio.bfq." if bfq else "blkio."
        if blkio.get("weight"):
            self._set("blkio", f"{prefix}weight", blkio["weight"], "blockIO.weight")
        if blkio.get("leafWeight"):
            self._set("blkio", "blkio.leaf_weight", blkio["leafWeight"], "blockIO.leafWeight")
        for i, dev in enumerate(blkio.get("weightDevice") or []):
            for key, name in (("weight", f"{prefix}weight_device"), ("leafWeight", "blkio.leaf_weight_device")):
                if dev.get(key):
                    self._set("blkio", name, f"{_major_minor(dev)} {dev[key]}", f"blockIO.weightDevice[{i}].{key}")
        for key, name in (("throttleReadBpsDevice", "read_bps_device"), ("throttleWriteBpsDevice", "write_bps_device"),
                          ("throttleReadIOPSDevice", "read_iops_device"),
                          ("throttleWriteIOPSDevice", "write_iops_device")):
            for i, dev in enumerate(blkio.get(key) or []):
                self._set("blkio", f"blkio.throttle.{name}", f"{_major_minor(dev)} {dev.get('rate', 0)}",
                          f"blockIO.{key}[{i}]")

    # --- observation and control -------------------------------------------------------------
    def stats(self) -> CgroupStats:
        memory, pids = self.paths.get("memory"), self.paths.get("pids")
        limit = self._read_int(memory, "memory.limit_in_bytes")
        pids_max = self._read(pids, "pids.max")
        return CgroupStats(
            cpu_usage_ns=self._read_int(self.paths.get("cpuacct"), "cpuacct.usage"),
            memory_usage=self._read_int(memory, "memory.usage_in_bytes"),
            memory_limit=None if limit in (0, _UNLIMITED_MEMORY) else limit,
            pids_current=self._read_int(pids, "pids.current"),
            pids_limit=int(pids_max) if pids_max and pids_max.isdigit() else None,
            oom_kills=key_values(self._read(memory, "memory.oom_control") or "").get("oom_kill", 0),
        )

    def oom_killed(self) -> bool:
        return self.stats().oom_kills > 0

    def freeze(self) -> None:
        self._freezer("FROZEN")

    def thaw(self) -> None:
        self._freezer("THAWED")

    def _freezer(self, state: str) -> None:
        directory = self.paths.get("freezer")
        if directory is None:
            raise RuntimeFailure("the freezer cgroup hierarchy is not mounted on this host: cannot pause or resume")

        def reached() -> bool:
            # Writing FROZEN again retries tasks that were busy the first time (runc does the same).
            self._write(directory, "freezer.state", state, "freezer.state")
            return self._read(directory, "freezer.state") == state

        self._wait_for(reached, f"{directory} to become {state}")


def _major_minor(dev: dict) -> str:
    return f"{dev.get('major', 0)}:{dev.get('minor', 0)}"


def _device_rule(rule: dict) -> str:
    """An OCI device rule as devices.allow/deny takes it: "c 1:3 rwm", "a *:* rwm"."""

    def number(key: str) -> str:
        value = rule.get(key)
        return "*" if value is None or value < 0 else str(value)

    return f"{rule.get('type') or 'a'} {number('major')}:{number('minor')} {rule.get('access') or 'rwm'}"

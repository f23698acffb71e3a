"""A cgroup2 hierarchy in a temporary directory that answers like the kernel where the v2 driver
can tell: a controller's interface files exist in a cgroup only while its parent enables the
controller in cgroup.subtree_control (so writing them fails with ENOENT otherwise), values are
range-checked, the no-internal-process rule holds, and freeze/kill/procs/events stay consistent.
Process ids are plain numbers here: nothing is ever signalled."""

from __future__ import annotations

import errno
import os
import shutil

from mydocker.runtime.cgroups.base import CgroupFS
from mydocker.engine.resources import parse_list

CORE_FILES = {
    "cgroup.procs": "",
    "cgroup.subtree_control": "",
    "cgroup.events": "populated 0\nfrozen 0\n",
    "cgroup.freeze": "0\n",
    "cgroup.kill": "",
    "cgroup.type": "domain\n",
    "cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
}
CONTROLLER_FILES = {
    "cpu": {"cpu.max": "max 100000\n", "cpu.weight": "100\n"},
    "cpuset": {"cpuset.cpus": "\n", "cpuset.mems": "\n"},
    "io": {"io.weight": "default 100\n"},
    "memory": {"memory.max": "max\n", "memory.low": "0\n", "memory.current": "0\n", "memory.swap.max": "max\n",
               "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"},
    "pids": {"pids.max": "max\n", "pids.current": "0\n"},
}
READ_ONLY = {"cgroup.controllers", "cgroup.events", "cgroup.type", "cpu.stat", "memory.current", "memory.events",
             "pids.current"}


def _error(code: int, path: str) -> OSError:
    return OSError(code, os.strerror(code), path)


class FakeCgroupFS(CgroupFS):
    def __init__(self, root: str, controllers: tuple[str, ...] = ("cpu", "cpuset", "io", "memory", "pids"),
                 cpus: str = "0-3", mems: str = "0") -> None:
        self.root = root
        self.writes: list[tuple[str, str]] = []  # every write the driver attempted, in order
        self.cpus, self.mems = parse_list(cpus), parse_list(mems)
        os.makedirs(root)
        for name, content in {**CORE_FILES, "cgroup.controllers": " ".join(controllers) + "\n"}.items():
            self._put(os.path.join(root, name), content)

    # --- helpers for tests -------------------------------------------------------------------
    def content(self, path: str) -> str:
        return self.read(path).strip()

    def set_event(self, cgroup: str, name: str, key: str, value: int) -> None:
        """Make the kernel report something, such as memory.events oom_kill 1."""
        path = os.path.join(cgroup, name)
        pairs = dict(line.split(" ", 1) for line in self.read(path).splitlines())
        pairs[key] = str(value)
        self._put(path, "".join(f"{k} {v}\n" for k, v in pairs.items()))

    # --- the CgroupFS interface --------------------------------------------------------------
    def mkdir(self, path: str) -> None:
        os.mkdir(path)  # EEXIST and ENOENT as the kernel
        for name, content in CORE_FILES.items():
            self._put(os.path.join(path, name), content)
        enabled = self._words(os.path.dirname(path), "cgroup.subtree_control")
        self._put(os.path.join(path, "cgroup.controllers"), " ".join(enabled) + "\n")
        for controller in enabled:
            self._add_files(path, controller)

    def rmdir(self, path: str) -> None:
        if not os.path.isdir(path):
            raise _error(errno.ENOENT, path)
        if self.subdirs(path) or self._words(path, "cgroup.procs"):
            raise _error(errno.EBUSY, path)
        shutil.rmtree(path)

    def write(self, path: str, data: str) -> None:
        self.writes.append((path, data))
        if not os.path.isfile(path):
            raise _error(errno.ENOENT, path)  # the kernel has no such file in this cgroup
        cgroup, name = os.path.split(path)
        value = data.strip()
        if name in READ_ONLY:
            raise _error(errno.EINVAL, path)
        handler = getattr(self, "_write_" + name.replace(".", "_"), None)
        if handler is not None:
            handler(cgroup, value)
        elif not self._valid(name, value):
            raise _error(errno.EINVAL if name != "cpu.weight" else errno.ERANGE, path)
        else:
            self._put(path, value + "\n")

    # --- kernel rules --------------------------------------------------------------------------
    def _valid(self, name: str, value: str) -> bool:
        def count(text: str) -> bool:
            return text == "max" or text.isdigit()

        if name in ("memory.max", "memory.low", "memory.swap.max", "pids.max"):
            return count(value)
        if name == "cpu.weight":
            return value.isdigit() and 1 <= int(value) <= 10000
        if name == "cpu.max":
            quota, _, period = value.partition(" ")
            quota_ok = quota == "max" or (quota.isdigit() and int(quota) >= 1000)
            return quota_ok and (not period or (period.isdigit() and 1000 <= int(period) <= 1_000_000))
        if name == "io.weight":
            weight = value.removeprefix("default ")
            return weight.isdigit() and 1 <= int(weight) <= 10000
        if name in ("cpuset.cpus", "cpuset.mems"):
            try:
                wanted = parse_list(value)
            except ValueError:
                return False
            return wanted <= (self.cpus if name == "cpuset.cpus" else self.mems)
        return True

    def _write_cgroup_subtree_control(self, cgroup: str, value: str) -> None:
        offered = self._words(cgroup, "cgroup.controllers")
        enabled = self._words(cgroup, "cgroup.subtree_control")
        for token in value.split():
            sign, controller = token[0], token[1:]
            if sign not in "+-" or controller not in offered:
                raise _error(errno.ENOENT if sign in "+-" else errno.EINVAL, cgroup)
        if cgroup != self.root and self._words(cgroup, "cgroup.procs"):
            raise _error(errno.EBUSY, cgroup)  # no internal processes
        for token in value.split():
            sign, controller = token[0], token[1:]
            if sign == "+" and controller not in enabled:
                enabled.append(controller)
            elif sign == "-" and controller in enabled:
                enabled.remove(controller)
        self._put(os.path.join(cgroup, "cgroup.subtree_control"), " ".join(enabled) + "\n")
        for child in self.subdirs(cgroup):
            self._put(os.path.join(child, "cgroup.controllers"), " ".join(enabled) + "\n")
            for controller in CONTROLLER_FILES:
                if controller in enabled:
                    self._add_files(child, controller)
                else:
                    for name in CONTROLLER_FILES[controller]:
                        if os.path.exists(os.path.join(child, name)):
                            os.unlink(os.path.join(child, name))

    def _write_cgroup_procs(self, cgroup: str, value: str) -> None:
        if not value.isdigit():
            raise _error(errno.EINVAL, cgroup)
        if cgroup != self.root and self._words(cgroup, "cgroup.subtree_control"):
            raise _error(errno.EBUSY, cgroup)  # no internal processes
        for directory, _, files in os.walk(self.root):  # a process is in one cgroup at a time
            if "cgroup.procs" in files:
                self._put_procs(directory, [p for p in self._words(directory, "cgroup.procs") if p != value])
        self._put_procs(cgroup, self._words(cgroup, "cgroup.procs") + [value])

    def _write_cgroup_kill(self, cgroup: str, value: str) -> None:
        if value != "1":
            raise _error(errno.ERANGE, cgroup)
        for directory, _, _ in os.walk(cgroup):
            self._put_procs(directory, [])

    def _write_cgroup_freeze(self, cgroup: str, value: str) -> None:
        if value not in ("0", "1"):
            raise _error(errno.ERANGE, cgroup)
        self._put(os.path.join(cgroup, "cgroup.freeze"), value + "\n")
        self.set_event(cgroup, "cgroup.events", "frozen", int(value))

    # --- storage ----------------------------------------------------------------------------------
    def _put_procs(self, cgroup: str, pids: list[str]) -> None:
        self._put(os.path.join(cgroup, "cgroup.procs"), "".join(p + "\n" for p in pids))
        if cgroup != self.root:
            self.set_event(cgroup, "cgroup.events", "populated", int(bool(pids)))

    def _add_files(self, cgroup: str, controller: str) -> None:
        for name, content in CONTROLLER_FILES.get(controller, {}).items():
            if not os.path.exists(os.path.join(cgroup, name)):
                self._put(os.path.join(cgroup, name), content)

    def _words(self, cgroup: str, name: str) -> list[str]:
        return self.read(os.path.join(cgroup, name)).split()

    @staticmethod
    def _put(path: str, content: str) -> None:
        with open(path, "w") as f:
            f.write(content)

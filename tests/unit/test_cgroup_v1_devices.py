"""The v1 driver's device rules: in the config's order, one write(2) per rule (the kernel takes one
rule per write), each run of allow (or deny) rules through one open of its file, as runc writes them."""

from __future__ import annotations

import errno

import pytest

from mydocker.errors import InvalidArgument
from mydocker.runtime.cgroups.base import CgroupFS
from mydocker.runtime.cgroups.v1 import V1Cgroup


class RecordingFS(CgroupFS):
    def __init__(self, refuse: str | None = None) -> None:
        self.events: list[tuple[str, str]] = []
        self.refuse = refuse

    def open_writer(self, path: str):
        self.events.append(("open", path))
        fs = self

        class Writer:
            def write(self, data: str) -> None:
                if data == fs.refuse:
                    raise OSError(errno.EINVAL, "Invalid argument")
                fs.events.append(("write", data))

            def close(self) -> None:
                fs.events.append(("close", path))

        return Writer()

    def write(self, path: str, data: str) -> None:
        raise AssertionError(f"a file opened for one write: {path}")


RULES = [{"allow": False, "access": "rwm"},
         {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
         {"allow": True, "type": "c", "major": 136, "access": "rwm"},
         {"allow": False, "type": "c", "major": 5, "minor": 1, "access": "w"}]


def test_each_run_of_rules_is_one_open_with_a_write_per_rule():
    fs = RecordingFS()
    V1Cgroup({"devices": "/d"}, fs=fs).set({"devices": RULES})
    assert fs.events == [
        ("open", "/d/devices.deny"), ("write", "a *:* rwm"), ("close", "/d/devices.deny"),
        ("open", "/d/devices.allow"), ("write", "c 1:3 rwm"), ("write", "c 136:* rwm"), ("close", "/d/devices.allow"),
        ("open", "/d/devices.deny"), ("write", "c 5:1 w"), ("close", "/d/devices.deny")]


def test_a_refused_rule_is_named_and_its_file_closed():
    fs = RecordingFS(refuse="c 136:* rwm")
    with pytest.raises(InvalidArgument, match=r"linux.resources.devices: the kernel refused 'c 136:\* rwm'"):
        V1Cgroup({"devices": "/d"}, fs=fs).set({"devices": RULES})
    assert fs.events[-1] == ("close", "/d/devices.allow")

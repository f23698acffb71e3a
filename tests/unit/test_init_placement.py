"""The init's wait for its cgroups (runtime/init.py _Placement): the cgroupfs binds are used as soon as
the runtime says the cgroups exist ("cgroups"), before it has set their limits and moved the init
("placed"); without binds (cgroup2, or no cgroup of its own) the cgroupfs mount waits for "placed"."""

from __future__ import annotations

from mydocker.runtime import init
from mydocker.runtime.channel import Channel

BINDS = [["memory", "/sys/fs/cgroup/memory/c1"], ["unified", "/sys/fs/cgroup/unified/c1"]]


def test_the_binds_are_used_once_the_cgroups_exist_before_the_init_is_placed():
    runtime, child = Channel.pair()
    try:
        placement = init._Placement(child, new_cgroupns=False)
        runtime.send({"type": "cgroups", "cgroup_binds": BINDS})
        assert placement.cgroupfs_binds() == BINDS  # "placed" is not sent yet: this would block
        assert not placement.done
        runtime.send({"type": "placed", "cgroup_binds": BINDS})
        assert placement() == BINDS
        assert placement.done
        assert placement.cgroupfs_binds() == BINDS  # read once: nothing more is waited for
    finally:
        runtime.close()
        child.close()


def test_without_binds_the_cgroupfs_mount_waits_until_placed():
    runtime, child = Channel.pair()
    try:
        placement = init._Placement(child, new_cgroupns=False)
        runtime.send({"type": "placed", "cgroup_binds": None})  # cgroup2: no "cgroups" message
        assert placement.cgroupfs_binds() is None
        assert placement.done
    finally:
        runtime.close()
        child.close()


def test_binds_from_go_need_no_message():
    runtime, child = Channel.pair()
    try:
        placement = init._Placement(child, new_cgroupns=False)
        runtime.send({"type": "placed", "cgroup_binds": BINDS})  # an intermediate's: the binds came with go
        assert placement() == BINDS
    finally:
        runtime.close()
        child.close()

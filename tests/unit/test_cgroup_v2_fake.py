"""Mode detection and path resolution from mountinfo texts, and the cgroup v2 driver against a fake
cgroup2 tree (tests/unit/fakecgroupfs.py) that refuses what the kernel refuses."""

from __future__ import annotations

import json
import os

import pytest
from fakecgroupfs import FakeCgroupFS

from mydocker.errors import InvalidArgument, RuntimeFailure
from mydocker.runtime.cgroups import cgroup_from_paths, detect_mode, open_cgroup
from mydocker.runtime.cgroups.v1 import V1Cgroup
from mydocker.runtime.cgroups.v2 import V2Cgroup

HYBRID_MOUNTINFO = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
HYBRID_CGROUP = """\
9:name=systemd:/
6:freezer:/
4:memory:/process_api/241a
2:cpuacct:/
1:cpu:/
0::/
"""
V1_MOUNTINFO = """\
25 20 0:22 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
26 20 0:23 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
"""
V1_CGROUP = "3:cpu,cpuacct:/user.slice\n2:memory:/user.slice\n"
V2_MOUNTINFO = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
V2_CGROUP = "0::/user.slice/user-0.slice/session-1.scope\n"


@pytest.mark.parametrize(("mountinfo", "self_cgroup", "mode"), [
    (HYBRID_MOUNTINFO, HYBRID_CGROUP, "hybrid"),
    (V1_MOUNTINFO, V1_CGROUP, "v1"),
    (V2_MOUNTINFO, V2_CGROUP, "v2"),
    # systemd's named hierarchy controls nothing: still a v2 host
    (V2_MOUNTINFO + "40 31 0:37 / /run/sd cgroup rw - cgroup cgroup rw,name=systemd\n",
     V2_CGROUP + "1:name=systemd:/\n", "v2"),
    # a hierarchy we are in but that is not mounted does not count
    (V2_MOUNTINFO, V2_CGROUP + "5:memory:/\n", "v2"),
])
def test_detect_mode(mountinfo: str, self_cgroup: str, mode: str) -> None:
    assert detect_mode(mountinfo, self_cgroup) == mode


def test_detect_mode_without_cgroups() -> None:
    with pytest.raises(RuntimeFailure, match="no cgroup hierarchy"):
        detect_mode("22 1 0:5 / /proc rw - proc proc rw\n", "0::/\n")


def test_detect_mode_of_this_host() -> None:
    assert detect_mode() in ("v1", "hybrid", "v2")


def _open(tmp_path, mountinfo: str, self_cgroup: str, cgroups_path: str):
    (tmp_path / "mountinfo").write_text(mountinfo)
    (tmp_path / "cgroup").write_text(self_cgroup)
    return open_cgroup(cgroups_path, mountinfo_path=str(tmp_path / "mountinfo"),
                       cgroup_path=str(tmp_path / "cgroup"))


def test_open_absolute_on_hybrid(tmp_path) -> None:
    cg = _open(tmp_path, HYBRID_MOUNTINFO, HYBRID_CGROUP, "/mydocker/abc")
    assert isinstance(cg, V1Cgroup)
    assert cg.paths == {
        "name=systemd": "/sys/fs/cgroup/systemd/mydocker/abc",
        "freezer": "/sys/fs/cgroup/freezer/mydocker/abc",
        "memory": "/sys/fs/cgroup/memory/mydocker/abc",  # absolute: not under our own /process_api/...
        "cpuacct": "/sys/fs/cgroup/cpuacct/mydocker/abc",
        "cpu": "/sys/fs/cgroup/cpu/mydocker/abc",
        "unified": "/sys/fs/cgroup/unified/mydocker/abc",
    }
    json.dumps(cg.paths)  # recorded in state.json as is


def test_open_relative_is_under_our_own_cgroup(tmp_path) -> None:
    cg = _open(tmp_path, HYBRID_MOUNTINFO, HYBRID_CGROUP, "mydocker/abc")
    assert cg.paths["memory"] == "/sys/fs/cgroup/memory/process_api/241a/mydocker/abc"
    assert cg.paths["cpu"] == "/sys/fs/cgroup/cpu/mydocker/abc"


def test_open_co_mounted_controllers_share_a_directory(tmp_path) -> None:
    cg = _open(tmp_path, V1_MOUNTINFO, V1_CGROUP, "mydocker/x")
    assert cg.paths == {"cpu": "/sys/fs/cgroup/cpu,cpuacct/user.slice/mydocker/x",
                        "cpuacct": "/sys/fs/cgroup/cpu,cpuacct/user.slice/mydocker/x",
                        "memory": "/sys/fs/cgroup/memory/user.slice/mydocker/x"}


def test_open_v2(tmp_path) -> None:
    cg = _open(tmp_path, V2_MOUNTINFO, V2_CGROUP, "/mydocker/abc")
    assert isinstance(cg, V2Cgroup)
    assert cg.paths == {"unified": "/sys/fs/cgroup/mydocker/abc"}


def test_open_in_a_cgroup_namespace_view(tmp_path) -> None:
    # Inside a container: the hierarchy's /box is mounted at /sys/fs/cgroup, and we are in /box/app.
    mountinfo = "30 23 0:26 /box /sys/fs/cgroup\\040x rw - cgroup2 cgroup2 rw\n"
    cg = _open(tmp_path, mountinfo, "0::/box/app\n", "sub")
    assert cg.paths == {"unified": "/sys/fs/cgroup x/app/sub"}


@pytest.mark.parametrize("path", ["", "/", "..", "/a/../../b", "a/.."])
def test_open_refuses_paths_outside_the_hierarchy(tmp_path, path: str) -> None:
    with pytest.raises(InvalidArgument, match="cgroupsPath"):
        _open(tmp_path, V2_MOUNTINFO, V2_CGROUP, path)


def test_cgroup_from_paths_picks_the_driver() -> None:
    assert isinstance(cgroup_from_paths({"unified": "/x"}), V2Cgroup)
    assert isinstance(cgroup_from_paths({"memory": "/m", "unified": "/u"}), V1Cgroup)


# --- the v2 driver on the fake tree --------------------------------------------------------------

@pytest.fixture
def fake(tmp_path) -> FakeCgroupFS:
    return FakeCgroupFS(str(tmp_path / "cgroup"))


@pytest.fixture
def cg(fake: FakeCgroupFS) -> V2Cgroup:
    return V2Cgroup({"unified": f"{fake.root}/mydocker-test/c1"}, fake)


def _content(fake: FakeCgroupFS, cg: V2Cgroup, name: str) -> str:
    return fake.content(os.path.join(cg.paths["unified"], name))


RESOURCES = {
    "memory": {"limit": 64 << 20, "reservation": 32 << 20, "swap": 128 << 20},
    "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0"},
    "pids": {"limit": 100},
    "blockIO": {"weight": 500},
    "devices": [{"allow": False, "access": "rwm"}],
}


def test_create_enables_controllers_along_the_path(fake: FakeCgroupFS, cg: V2Cgroup) -> None:
    cg.create()
    for directory in (fake.root, f"{fake.root}/mydocker-test"):
        assert fake.content(f"{directory}/cgroup.subtree_control").split() == ["cpu", "cpuset", "io", "memory", "pids"]
    assert _content(fake, cg, "cgroup.subtree_control") == ""  # the leaf keeps no internal-process trouble
    assert _content(fake, cg, "memory.max") == "max"


def test_set_writes_every_resource(fake: FakeCgroupFS, cg: V2Cgroup) -> None:
    cg.create()
    cg.set(RESOURCES)
    assert {name: _content(fake, cg, name) for name in (
        "memory.max", "memory.low", "memory.swap.max", "cpu.weight", "cpu.max", "cpuset.cpus", "cpuset.mems",
        "pids.max", "io.weight")} == {
        "memory.max": str(64 << 20), "memory.low": str(32 << 20), "memory.swap.max": str(64 << 20),
        "cpu.weight": "100", "cpu.max": "50000 100000", "cpuset.cpus": "0-1", "cpuset.mems": "0",
        "pids.max": "100", "io.weight": "default 4950"}


def test_unlimited_values_are_written_as_max(fake: FakeCgroupFS, cg: V2Cgroup) -> None:
    cg.create()
    cg.set({"memory": {"limit": 64 << 20}, "pids": {"limit": 5}})
    cg.set({"memory": {"limit": -1, "swap": -1}, "pids": {"limit": -1}, "cpu": {"period": 50000}})
    assert [_content(fake, cg, n) for n in ("memory.max", "memory.swap.max", "pids.max", "cpu.max")] == [
        "max", "max", "max", "max 50000"]


def test_the_fake_refuses_controller_files_the_parent_did_not_enable(fake: FakeCgroupFS, cg: V2Cgroup) -> None:
    fake.mkdir(f"{fake.root}/mydocker-test")
    fake.mkdir(cg.paths["unified"])  # created without enabling anything, as a broken create would
    with pytest.raises(RuntimeFailure, match="linux.resources.memory.limit"):
        cg.set({"memory": {"limit": 64 << 20}})


def test_a_controller_the_host_lacks_is_named(tmp_path) -> None:
    fake = FakeCgroupFS(str(tmp_path / "cgroup"), controllers=("cpu",))
    cg = V2Cgroup({"unified": f"{fake.root}/mydocker-test/c1"}, fake)
    cg.create()
    cg.set({"cpu": {"shares": 512}})
    with pytest.raises(RuntimeFailure, match=r"linux.resources.pids.limit: .*pids.max does not exist"):
        cg.set({"pids": {"limit": 10}})


def test_a_value_the_kernel_refuses_names_the_field(fake: FakeCgroupFS, cg: V2Cgroup) -> None:
    cg.create()
    with pytest.raises(InvalidArgument, match=r"linux.resources.cpu.cpus: the kernel refused '7'"):
        cg.set({"cpu": {"cpus": "7"}})
    with pytest.raises(InvalidArgument, match=r"linux.resources.cpu.quota"):
        cg.set({"cpu": {"quota": 10, "period": 100000}})


def test_swap_below_memory_is_refused(fake: FakeCgroupFS, cg: V2Cgroup) -> None:
    cg.create()
    with pytest.raises(InvalidArgument, match="memory.swap"):
        cg.set({"memory": {"limit": 64 << 20, "swap": 32 << 20}})


def test_create_leaves_enabled_controllers_alone(fake: FakeCgroupFS, cg: V2Cgroup) -> None:
    fake.write(f"{fake.root}/cgroup.subtree_control", "+cpu +cpuset +io +memory +pids")
    fake.writes.clear()
    cg.create()
    assert [path for path, _ in fake.writes] == [f"{fake.root}/mydocker-test/cgroup.subtree_control"]


def test_create_under_a_cgroup_with_processes_explains(fake: FakeCgroupFS) -> None:
    busy = f"{fake.root}/mydocker-busy"
    fake.mkdir(busy)
    fake.write(f"{busy}/cgroup.procs", "4242")
    cg = V2Cgroup({"unified": f"{busy}/c1"}, fake)
    with pytest.raises(RuntimeFailure, match="processes of its own"):
        cg.create()
    fake.write(f"{fake.root}/cgroup.procs", "4242")  # tidy the fake, then clean up as usual
    cg.destroy()


def test_apply_and_pids_include_sub_cgroups(fake: FakeCgroupFS, cg: V2Cgroup) -> None:
    cg.create()
    cg.apply(4242)
    fake.mkdir(f"{cg.paths['unified']}/sub")
    fake.write(f"{cg.paths['unified']}/sub/cgroup.procs", "4243")
    assert cg.pids() == [4242, 4243]
    assert fake.content(f"{fake.root}/cgroup.procs") == ""


def test_freeze_and_thaw(fake: FakeCgroupFS, cg: V2Cgroup) -> None:
    cg.create()
    cg.freeze()
    assert "frozen 1" in _content(fake, cg, "cgroup.events")
    cg.thaw()
    assert "frozen 0" in _content(fake, cg, "cgroup.events")


def test_stats_and_oom(fake: FakeCgroupFS, cg: V2Cgroup) -> None:
    cg.create()
    before = cg.stats()
    assert (before.memory_limit, before.pids_limit, before.oom_kills) == (None, None, 0)
    assert not cg.oom_killed()
    cg.set(RESOURCES)
    fake.set_event(cg.paths["unified"], "memory.events", "oom_kill", 1)
    fake.set_event(cg.paths["unified"], "cpu.stat", "usage_usec", 7)
    after = cg.stats()
    assert (after.memory_limit, after.pids_limit, after.oom_kills, after.cpu_usage_ns) == (64 << 20, 100, 1, 7000)
    assert cg.oom_killed()


def test_kill_all_uses_cgroup_kill(fake: FakeCgroupFS, cg: V2Cgroup) -> None:
    cg.create()
    cg.apply(4242)
    cg.kill_all(9)
    assert cg.pids() == []
    assert (f"{cg.paths['unified']}/cgroup.kill", "1") in fake.writes


def test_destroy_removes_everything_it_named(fake: FakeCgroupFS, cg: V2Cgroup) -> None:
    cg.create()
    cg.apply(4242)
    fake.mkdir(f"{cg.paths['unified']}/sub")
    cg.destroy()
    assert sorted(os.listdir(fake.root)) == sorted(
        ["cgroup.controllers", "cgroup.procs", "cgroup.subtree_control", "cgroup.events", "cgroup.freeze",
         "cgroup.kill", "cgroup.type", "cpu.stat"])  # the mydocker-test parent went too
    cg.destroy()  # idempotent


def test_destroy_keeps_a_parent_a_sibling_uses(fake: FakeCgroupFS, cg: V2Cgroup) -> None:
    sibling = V2Cgroup({"unified": f"{fake.root}/mydocker-test/c2"}, fake)
    cg.create()
    sibling.create()
    cg.destroy()
    assert os.listdir(f"{fake.root}/mydocker-test").count("c2") == 1
    sibling.destroy()
    assert not os.path.exists(f"{fake.root}/mydocker-test")


def test_destroy_before_create(fake: FakeCgroupFS, cg: V2Cgroup) -> None:
    cg.destroy()  # a crash before create: nothing to do, no error

"""The v2 driver on this host's real cgroup2 mount: on a hybrid host it offers no controller the
driver sets, but procs, events, freeze and kill are the kernel's own (cgroup.freeze and
cgroup.kill exist in non-root cgroups since Linux 5.2 and 5.14)."""

from __future__ import annotations

import os
import signal
import time

import pytest
from test_cgroups_v1 import parent, spawn  # noqa: F401 -- shared fixtures

from mydocker.errors import RuntimeFailure
from mydocker.runtime.cgroups import cgroup_from_paths, detect_mode, open_cgroup
from mydocker.runtime.cgroups.detect import UNIFIED, hierarchies
from mydocker.runtime.cgroups.v2 import V2Cgroup


def _unified_mount() -> str | None:
    with open("/proc/self/mountinfo") as mi, open("/proc/self/cgroup") as cg:
        found = [h for h in hierarchies(mi.read(), cg.read()) if not h.controllers]
    return found[0].mountpoint if found else None


MOUNT = _unified_mount()
pytestmark = pytest.mark.skipif(os.geteuid() != 0 or MOUNT is None, reason="needs root and a cgroup2 mount")


@pytest.fixture
def cg(parent: str) -> V2Cgroup:  # noqa: F811 -- the fixture imported above
    group = cgroup_from_paths({UNIFIED: f"{MOUNT}/{parent}/c1"})
    assert isinstance(group, V2Cgroup)
    group.create()
    yield group
    group.destroy()


def _events(cg: V2Cgroup) -> dict[str, str]:
    with open(os.path.join(cg.paths[UNIFIED], "cgroup.events")) as f:
        return dict(line.split() for line in f)


def test_create_touches_no_controller_it_does_not_need(parent: str) -> None:  # noqa: F811
    with open(f"{MOUNT}/cgroup.subtree_control") as f:
        before = f.read()
    group = cgroup_from_paths({UNIFIED: f"{MOUNT}/{parent}/c1"})
    group.create()
    try:
        with open(f"{MOUNT}/cgroup.subtree_control") as f:
            assert f.read() == before
    finally:
        group.destroy()
    assert not os.path.exists(f"{MOUNT}/{parent}")


def test_procs_events_and_kill(cg: V2Cgroup, spawn) -> None:  # noqa: F811
    child = spawn("import time; time.sleep(60)")
    cg.apply(child.pid)
    assert cg.pids() == [child.pid]
    assert _events(cg)["populated"] == "1"
    cg.kill_all(signal.SIGKILL)  # through cgroup.kill
    assert child.wait() == -signal.SIGKILL
    assert cg.pids() == []
    assert _events(cg)["populated"] == "0"


def test_freeze_and_thaw(cg: V2Cgroup, spawn) -> None:  # noqa: F811
    child = spawn("while True: pass")
    cg.apply(child.pid)
    child.go()
    time.sleep(0.05)
    cg.freeze()
    assert _events(cg)["frozen"] == "1"
    used = cg.stats().cpu_usage_ns
    time.sleep(0.2)
    assert cg.stats().cpu_usage_ns == used > 0
    cg.thaw()
    assert _events(cg)["frozen"] == "0"
    time.sleep(0.2)
    assert cg.stats().cpu_usage_ns > used


def test_other_signals_reach_every_process(cg: V2Cgroup, spawn) -> None:  # noqa: F811
    children = [spawn("import time; time.sleep(60)") for _ in range(3)]
    for child in children:
        cg.apply(child.pid)
    cg.kill_all(signal.SIGTERM)  # frozen, signalled one by one, thawed
    assert [c.wait() for c in children] == [-signal.SIGTERM] * 3
    assert _events(cg)["frozen"] == "0"


def test_stats_without_controllers(cg: V2Cgroup) -> None:
    stats = cg.stats()
    assert (stats.memory_limit, stats.pids_limit, stats.oom_kills, stats.memory_usage) == (None, None, 0, 0)
    assert not cg.oom_killed()


@pytest.mark.skipif(detect_mode() != "hybrid", reason="hybrid hosts only")
def test_a_controller_left_to_v1_is_named(cg: V2Cgroup) -> None:
    with pytest.raises(RuntimeFailure, match=r"linux.resources.memory.limit: .*memory.max does not exist"):
        cg.set({"memory": {"limit": 64 << 20}})


@pytest.mark.skipif(detect_mode() != "hybrid", reason="hybrid hosts only")
def test_hybrid_places_the_process_in_the_unified_hierarchy_too(parent: str, spawn) -> None:  # noqa: F811
    group = open_cgroup(f"/{parent}/c1")
    assert group.paths[UNIFIED] == f"{MOUNT}/{parent}/c1"
    group.create()
    try:
        child = spawn("import time; time.sleep(60)")
        group.apply(child.pid)
        with open(f"/proc/{child.pid}/cgroup") as f:
            assert f"0::/{parent}/c1\n" in f.read()
        with open(f"{MOUNT}/{parent}/c1/cgroup.procs") as f:
            assert f.read().split() == [str(child.pid)]
    finally:
        group.destroy()


def test_destroy_a_frozen_cgroup(parent: str, spawn) -> None:  # noqa: F811
    group = cgroup_from_paths({UNIFIED: f"{MOUNT}/{parent}/c1"})
    group.create()
    child = spawn("import time; time.sleep(60)")
    group.apply(child.pid)
    group.freeze()
    group.destroy()
    assert child.wait() == -signal.SIGKILL
    assert not os.path.exists(f"{MOUNT}/{parent}")

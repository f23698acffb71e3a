"""`mydocker-runtime --systemd-cgroup`: linux.cgroupsPath is runc's "slice:prefix:name". systemd is
not the init here, so the runtime makes the cgroup systemd would make for that unit, with cgroupfs,
and removes it (and the slices it made) at delete."""

from __future__ import annotations

import os
import secrets

import pytest

from mydocker.runtime.cgroups import detect_mode

pytestmark = pytest.mark.skipif(detect_mode() == "v2", reason="checks v1 controller files (this host is hybrid)")
MiB = 1 << 20


def hierarchies_with(relative: str) -> list[str]:
    return [c for c in os.listdir("/sys/fs/cgroup") if os.path.isdir(f"/sys/fs/cgroup/{c}/{relative.strip('/')}")]


def cgroup_of(pid: int, controller: str) -> str:
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, names, path = line.rstrip("\n").split(":", 2)
            if controller in names.split(","):
                return path
    raise AssertionError(controller)


@pytest.fixture
def top_slice():
    """A slice name unique to the test (systemd's "-" nesting makes its children); gone afterwards."""
    name = f"mdtest{secrets.token_hex(3)}"
    yield name
    assert not hierarchies_with(f"{name}.slice"), f"{name}.slice left behind"


def test_slice_prefix_name_lands_in_systemds_path_and_is_removed(oci, bundle, top_slice):
    cid = "sd1"

    def edit(c):
        c["linux"]["cgroupsPath"] = f"{top_slice}-inner.slice:oci:{cid}"
        c["linux"]["resources"] = {"memory": {"limit": 32 * MiB}, "pids": {"limit": 33}}
    path = f"/{top_slice}.slice/{top_slice}-inner.slice/oci-{cid}.scope"
    oci.ids.add(cid)
    oci("--systemd-cgroup", "create", "--bundle", bundle(["sleep", "30"], edit), cid)
    pid = oci.state(cid)["pid"]
    for controller in ("memory", "pids", "cpu", "name=systemd"):
        assert cgroup_of(pid, controller) == path, controller
    assert open(f"/sys/fs/cgroup/memory{path}/memory.limit_in_bytes").read().strip() == str(32 * MiB)
    assert open(f"/sys/fs/cgroup/pids{path}/pids.max").read().strip() == "33"
    oci("start", cid)
    oci("delete", "--force", cid)
    assert not hierarchies_with(path)
    assert not hierarchies_with(f"{top_slice}.slice")  # slices made for it are pruned once empty


def test_empty_cgroups_path_is_the_containers_scope_in_system_slice(oci, bundle):
    cid = f"sd{secrets.token_hex(3)}"
    had_system_slice = hierarchies_with("system.slice")
    oci.ids.add(cid)
    oci("--systemd-cgroup", "create", "--bundle", bundle(["sleep", "30"]), cid)
    pid = oci.state(cid)["pid"]
    assert cgroup_of(pid, "memory") == f"/system.slice/mydocker-{cid}.scope"
    oci("delete", "--force", cid)
    assert not hierarchies_with(f"system.slice/mydocker-{cid}.scope")
    if not had_system_slice and not os.path.isdir("/run/systemd/system"):
        assert not hierarchies_with("system.slice")


@pytest.mark.parametrize("value", ["/mydocker/abc", "system.slice:abc", "a--b.slice:p:n", "system.slice:p:a/b"])
def test_malformed_values_fail_create_in_one_line_and_leave_nothing(oci, bundle, value):
    def edit(c):
        c["linux"]["cgroupsPath"] = value
    oci.ids.add("bad")
    ran = oci("--systemd-cgroup", "create", "--bundle", bundle(["true"], edit), "bad", rc=1)
    message = ran.err.strip()
    assert "\n" not in message and "linux.cgroupsPath" in message and "slice:prefix:name" in message
    assert "bad" not in oci("list", "-q").out.split()


def test_without_the_flag_the_path_is_a_cgroupfs_path(oci, bundle):
    def edit(c):
        c["linux"]["cgroupsPath"] = "system.slice:docker:abc"  # a relative cgroupfs path with colons
    oci.ids.add("plain")
    oci("create", "--bundle", bundle(["sleep", "30"], edit), "plain")
    pid = oci.state("plain")["pid"]
    assert cgroup_of(pid, "memory").endswith("/system.slice:docker:abc")
    oci("delete", "--force", "plain")

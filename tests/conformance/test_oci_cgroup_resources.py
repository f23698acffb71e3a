"""linux.resources in full (config-linux.md "Control groups": memory, cpu, pids, blockIO), as the
runtime-tools validation checks it twice: with an absolute cgroupsPath and with a relative one (which
hangs under the runtime's own cgroup; here a cgroup the test makes and starts the runtime in)."""

from __future__ import annotations

import os
import secrets
import subprocess
import tempfile

import pytest

from mydocker.runtime.cgroups import detect_mode

pytestmark = pytest.mark.skipif(detect_mode() == "v2", reason="checks v1 controller files (this host is hybrid)")
MiB = 1 << 20
V1 = "/sys/fs/cgroup"
PLACED = ("memory", "cpu", "cpuacct", "cpuset", "pids", "blkio", "devices", "freezer")


def weight_file() -> str | None:
    """blkio's proportional weight: CFQ's file, or BFQ's; neither with the none or mq-deadline
    schedulers (some VMs), where a weight is refused (test_a_block_io_weight_without_a_weight_file...)."""
    return next((name for name in ("blkio.weight", "blkio.bfq.weight") if os.path.exists(f"{V1}/blkio/{name}")),
                None)


def read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def block_device() -> tuple[int, int]:
    for name in sorted(os.listdir("/sys/block")):
        if not name.startswith(("loop", "ram", "zram")):
            major, minor = read(f"/sys/block/{name}/dev").split(":")
            return int(major), int(minor)
    pytest.skip("no block device to throttle")


def resources(major: int, minor: int) -> dict:
    dev = {"major": major, "minor": minor}
    return {
        "memory": {"limit": 64 * MiB, "reservation": 32 * MiB, "swap": 128 * MiB, "kernelTCP": 16 * MiB,
                   "swappiness": 30, "disableOOMKiller": True},
        "cpu": {"shares": 256, "quota": 20000, "period": 100000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 50},
        "blockIO": {**({"weight": 300} if weight_file() else {}),
                    "throttleReadBpsDevice": [{**dev, "rate": 1048576}],
                    "throttleWriteBpsDevice": [{**dev, "rate": 2097152}],
                    "throttleReadIOPSDevice": [{**dev, "rate": 100}],
                    "throttleWriteIOPSDevice": [{**dev, "rate": 200}]},
    }


def check_applied(path: str, major: int, minor: int) -> None:
    memory = f"{V1}/memory{path}"
    assert read(f"{memory}/memory.limit_in_bytes") == str(64 * MiB)
    assert read(f"{memory}/memory.soft_limit_in_bytes") == str(32 * MiB)
    if os.path.exists(f"{memory}/memory.memsw.limit_in_bytes"):
        assert read(f"{memory}/memory.memsw.limit_in_bytes") == str(128 * MiB)
    assert read(f"{memory}/memory.kmem.tcp.limit_in_bytes") == str(16 * MiB)
    assert read(f"{memory}/memory.swappiness") == "30"
    assert "oom_kill_disable 1" in read(f"{memory}/memory.oom_control")
    assert read(f"{V1}/cpu{path}/cpu.shares") == "256"
    assert read(f"{V1}/cpu{path}/cpu.cfs_quota_us") == "20000"
    assert read(f"{V1}/cpu{path}/cpu.cfs_period_us") == "100000"
    assert read(f"{V1}/cpuset{path}/cpuset.cpus") == "0"
    assert read(f"{V1}/cpuset{path}/cpuset.mems") == "0"
    assert read(f"{V1}/pids{path}/pids.max") == "50"
    blkio = f"{V1}/blkio{path}"
    if weight := weight_file():
        assert read(f"{blkio}/{weight}").split()[-1] == "300"
    for name, rate in (("read_bps", 1048576), ("write_bps", 2097152), ("read_iops", 100), ("write_iops", 200)):
        assert read(f"{blkio}/blkio.throttle.{name}_device") == f"{major}:{minor} {rate}", name


@pytest.fixture
def parent(oci):  # after oci: its cleanup (delete --force) runs first
    name = f"mydocker-oci-{secrets.token_hex(4)}"
    yield name
    for top in PLACED:  # the relative test's parent; rmdir fails (and the check below says so) if not empty
        try:
            os.rmdir(f"{V1}/{top}/{name}")
        except FileNotFoundError:
            pass
    leftovers = [c for c in os.listdir(V1) if os.path.exists(f"{V1}/{c}/{name}")]
    assert not leftovers, f"cgroup {name} left in {leftovers}"


def test_resources_with_an_absolute_cgroups_path(oci, bundle, parent):
    major, minor = block_device()

    def edit(c):
        c["linux"]["cgroupsPath"] = f"/{parent}/abs"
        c["linux"]["resources"] = resources(major, minor)
    oci("create", "--bundle", bundle(["sleep", "30"], edit), "res-abs")
    check_applied(f"/{parent}/abs", major, minor)
    pid = oci.state("res-abs")["pid"]
    assert str(pid) in read(f"{V1}/memory/{parent}/abs/cgroup.procs").split()
    oci("delete", "--force", "res-abs")
    assert not os.path.exists(f"{V1}/memory/{parent}/abs")


def test_resources_with_a_relative_cgroups_path(oci, bundle, parent):
    """The runtime starts in <parent> in every v1 hierarchy; "rel/x" must land in <parent>/rel/x."""
    major, minor = block_device()
    for top in PLACED:
        os.mkdir(f"{V1}/{top}/{parent}")
    for name in ("cpuset.cpus", "cpuset.mems"):  # a new cpuset takes no task until it has some
        with open(f"{V1}/cpuset/{parent}/{name}", "w") as f:
            f.write(read(f"{V1}/cpuset/{name}"))

    def edit(c):
        c["linux"]["cgroupsPath"] = "rel/x"
        c["linux"]["resources"] = resources(major, minor)
    b = bundle(["sleep", "30"], edit)
    procs = " ".join(f"{V1}/{top}/{parent}/cgroup.procs" for top in PLACED)
    script = f'for f in {procs}; do echo $$ > "$f" || exit 99; done; exec "$@"'
    oci.ids.add("res-rel")
    with tempfile.TemporaryFile("w+") as err:  # a file, not a pipe: the container's init inherits it
        proc = subprocess.run(["sh", "-c", script, "sh", oci.exe, "--root", oci.root, "create", "--bundle", b,
                               "res-rel"], stdout=subprocess.DEVNULL, stderr=err, timeout=30, stdin=subprocess.DEVNULL)
        err.seek(0)
        assert proc.returncode == 0, err.read()
    check_applied(f"/{parent}/rel/x", major, minor)
    pid = oci.state("res-rel")["pid"]
    for top in PLACED:
        assert str(pid) in read(f"{V1}/{top}/{parent}/rel/x/cgroup.procs").split(), top
    oci("delete", "--force", "res-rel")
    for top in PLACED:
        assert not os.path.exists(f"{V1}/{top}/{parent}/rel/x"), top
        os.rmdir(f"{V1}/{top}/{parent}/rel")  # intermediate cgroups stay, as with runc


def test_a_block_io_weight_without_a_weight_file_is_refused_naming_the_field(oci, bundle, parent):
    if weight_file():
        pytest.skip(f"this host's blkio has {weight_file()}: test_resources_with_* set it")

    def edit(c):
        c["linux"]["cgroupsPath"] = f"/{parent}/weight"
        c["linux"]["resources"] = {"blockIO": {"weight": 300}}
    err = oci("create", "--bundle", bundle(["true"], edit), "res-weight", rc=1).err.strip()
    assert "linux.resources.blockIO.weight" in err and "\n" not in err, err
    oci("state", "res-weight", rc=1)


def test_bad_swappiness_is_refused_naming_the_field(oci, bundle, parent):
    def edit(c):
        c["linux"]["cgroupsPath"] = f"/{parent}/bad"
        c["linux"]["resources"] = {"memory": {"swappiness": 101}}
    err = oci("create", "--bundle", bundle(["true"], edit), "res-bad", rc=1).err.strip()
    assert "linux.resources.memory.swappiness" in err and "\n" not in err
    oci("state", "res-bad", rc=1)


@pytest.mark.parametrize("field, resources_, controller, file, expect", [
    ("hugepageLimits[0]", {"hugepageLimits": [{"pageSize": "2MB", "limit": 4 * MiB}]}, "hugetlb",
     "hugetlb.2MB.limit_in_bytes", str(4 * MiB)),
    ("network.classID", {"network": {"classID": 0x100001}}, "net_cls", "net_cls.classid", str(0x100001)),
])
def test_limits_of_other_controllers_apply_or_fail_naming_the_field(oci, bundle, parent, field, resources_,
                                                                     controller, file, expect):
    """Set where the controller is mounted; where it is not, an error (never a limit silently dropped)."""
    def edit(c):
        c["linux"]["cgroupsPath"] = f"/{parent}/other"
        c["linux"]["resources"] = resources_
    mounted = [d for d in os.listdir(V1) if controller in d.split(",")]
    ran = oci("create", "--bundle", bundle(["sleep", "30"], edit), "res-other", rc=None)
    if mounted:
        assert ran.rc == 0, ran
        assert read(f"{V1}/{mounted[0]}/{parent}/other/{file}") == expect
        oci("delete", "--force", "res-other")
    else:
        assert ran.rc == 1 and f"linux.resources.{field}" in ran.err and "not mounted" in ran.err, ran
        oci("state", "res-other", rc=1)

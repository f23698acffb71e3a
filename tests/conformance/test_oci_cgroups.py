"""linux.cgroupsPath and linux.resources (config-linux.md "Control groups"), and the verbs that act
on a container's cgroups: pause/resume, update, events --stats, ps."""

from __future__ import annotations

import json
import os
import secrets

import pytest

from mydocker.runtime.cgroups import detect_mode

pytestmark = pytest.mark.skipif(detect_mode() == "v2", reason="checks v1 controller files (this host is hybrid)")
MiB = 1 << 20


def own_cgroup(controller: str) -> str:
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, names, path = line.rstrip("\n").split(":", 2)
            if controller in names.split(","):
                return path
    raise AssertionError(controller)


def read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


@pytest.fixture
def parent():
    """A cgroup parent named after the project, unique to the test; must be gone afterwards."""
    name = f"mydocker-oci-{secrets.token_hex(4)}"
    yield name
    leftovers = [c for c in os.listdir("/sys/fs/cgroup") if os.path.exists(f"/sys/fs/cgroup/{c}/{name}")]
    assert not leftovers, f"cgroup {name} left in {leftovers}"


def resources(c):
    c["linux"]["resources"] = {"memory": {"limit": 64 * MiB}, "pids": {"limit": 42},
                               "cpu": {"shares": 512, "quota": 50000, "period": 100000}}


def test_absolute_cgroups_path_and_resources(oci, bundle, parent):
    def edit(c):
        resources(c)
        c["linux"]["cgroupsPath"] = f"/{parent}/abs"
    oci("create", "--bundle", bundle(["sleep", "30"], edit), "abs")
    pid = oci.state("abs")["pid"]
    base = f"/sys/fs/cgroup/memory/{parent}/abs"
    assert read(f"{base}/memory.limit_in_bytes") == str(64 * MiB)
    assert read(f"/sys/fs/cgroup/pids/{parent}/abs/pids.max") == "42"
    assert read(f"/sys/fs/cgroup/cpu/{parent}/abs/cpu.shares") == "512"
    assert read(f"/sys/fs/cgroup/cpu/{parent}/abs/cpu.cfs_quota_us") == "50000"
    assert str(pid) in read(f"{base}/cgroup.procs").split()  # joined before the user's process runs
    oci("delete", "--force", "abs")
    assert not os.path.exists(base)


def test_relative_cgroups_path_hangs_under_the_runtimes_cgroup(oci, bundle, parent):
    def edit(c):
        c["linux"]["resources"] = {"pids": {"limit": 7}}
        c["linux"]["cgroupsPath"] = f"{parent}/rel"
    oci("create", "--bundle", bundle(["sleep", "30"], edit), "rel")
    own = own_cgroup("pids").rstrip("/")
    path = f"/sys/fs/cgroup/pids{own}/{parent}/rel"
    assert read(f"{path}/pids.max") == "7"
    oci("delete", "--force", "rel")
    assert not os.path.exists(path)


def test_container_sees_its_own_cgroups(oci, bundle, parent, tmp_path):
    def edit(c):
        resources(c)
        c["linux"]["cgroupsPath"] = f"/{parent}/view"
    code, out = oci.output(bundle(["cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                        "/sys/fs/cgroup/pids/pids.max"], edit), "view")
    assert out.split() == [str(64 * MiB), "42"], out


def test_cgroup_namespace_roots_the_view(oci, bundle, parent, tmp_path):
    def edit(c):
        c["linux"]["namespaces"].append({"type": "cgroup"})
        c["linux"]["cgroupsPath"] = f"/{parent}/ns"
    code, out = oci.output(bundle(["cat", "/proc/self/cgroup"], edit), "ns")
    assert all(line.endswith(":/") for line in out.split()), out


def test_pause_resume_update_events_ps(oci, bundle, parent):
    b = bundle(["sh", "-c", "while true; do sleep 0.05; done"], lambda c: c["linux"].update(cgroupsPath=f"/{parent}/p"))
    oci("run", "-d", "--bundle", b, "p")
    oci("pause", "p")
    assert oci.state("p")["status"] == "paused"
    assert read(f"/sys/fs/cgroup/freezer/{parent}/p/freezer.state") == "FROZEN"
    assert "paused" in oci("pause", "p", rc=1).err
    oci("resume", "p")
    assert oci.state("p")["status"] == "running"
    oci("update", "--memory", "32m", "--pids-limit", "9", "p")
    assert read(f"/sys/fs/cgroup/memory/{parent}/p/memory.limit_in_bytes") == str(32 * MiB)
    assert read(f"/sys/fs/cgroup/pids/{parent}/p/pids.max") == "9"
    event = json.loads(oci("events", "--stats", "p").out)
    assert event["type"] == "stats" and event["id"] == "p"
    assert event["data"]["memory"]["usage"]["limit"] == 32 * MiB and event["data"]["pids"]["limit"] == 9
    pids = json.loads(oci("ps", "--format", "json", "p").out)
    assert oci.state("p")["pid"] in pids
    table = oci("ps", "p").out.splitlines()
    assert "PID" in table[0] and len(table) >= 2
    oci("pause", "p")
    oci("delete", "--force", "p")  # a paused container is thawed, then killed


def test_update_with_a_resources_file(oci, bundle, parent, tmp_path):
    oci("run", "-d", "--bundle", bundle(["sleep", "30"], lambda c: c["linux"].update(cgroupsPath=f"/{parent}/u")), "u")
    (tmp_path / "r.json").write_text(json.dumps({"cpu": {"shares": 256}}))
    oci("update", "--resources", str(tmp_path / "r.json"), "u")
    assert read(f"/sys/fs/cgroup/cpu/{parent}/u/cpu.shares") == "256"
    oci("delete", "--force", "u")


def test_devices_rules_deny_by_default_but_keep_the_standard_devices(oci, bundle, parent, tmp_path):
    def edit(c):
        c["linux"]["cgroupsPath"] = f"/{parent}/dev"
        c["linux"]["resources"] = {"devices": [{"allow": False, "access": "rwm"}]}
        c["linux"]["devices"] = [{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o600}]
    code, out = oci.output(bundle(["sh", "-c", "echo ok > /dev/null && echo null-ok; head -c1 /dev/zero | wc -c;"
                                              "mknod /dev/mem2 c 1 1 && cat /dev/mem2 2>&1 | head -1"], edit),
                           "dev")
    assert "null-ok" in out and "Operation not permitted" in out, out


def test_busy_cgroup_is_refused(oci, bundle, parent):
    b = bundle(["sleep", "30"], lambda c: c["linux"].update(cgroupsPath=f"/{parent}/shared"))
    oci("run", "-d", "--bundle", b, "one")
    err = oci("create", "--bundle", b, "two", rc=1).err
    assert "already holds processes" in err
    oci("delete", "--force", "one")


def test_oom_kill_is_counted(oci, bundle, parent):
    def edit(c):
        c["linux"]["cgroupsPath"] = f"/{parent}/oom"
        c["linux"]["resources"] = {"memory": {"limit": 16 * MiB, "swap": 16 * MiB}}
    oci("run", "--keep", "--bundle", bundle(["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"], edit),
        "oom", rc=137)
    from mydocker.runtime.stats import oom_killed
    assert oom_killed(oci.root, "oom")
    oci("delete", "oom")

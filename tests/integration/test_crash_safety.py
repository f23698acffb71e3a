"""Crash safety of the runtime, driven through `mydocker-runtime` as podman or containerd would.

- two concurrent `create` of one id: exactly one wins and the loser changes nothing of the winner's;
- SIGKILL of `create` at 20 moments spread over its run, then `delete -f`: nothing left;
- `delete` after the container died by itself removes its cgroup in every hierarchy;
- an invalid config.json is refused with one line naming the field, and leaves nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from mydocker.linux import syscalls as sc


@pytest.fixture(autouse=True)
def subreaper():
    sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)  # inits orphaned by a killed `create` come to us: reap them
    yield
    _reap()


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class Runtime:
    def __init__(self, bindir: str, root: str, log_dir) -> None:
        self.exe = os.path.join(bindir, "mydocker-runtime")
        self.root = root
        self.log_dir = log_dir

    def argv(self, *args: str) -> list[str]:
        return [self.exe, "--root", self.root, *args]

    def popen(self, *args: str) -> subprocess.Popen:
        # the container inherits stdio: files, never pipes a test would wait on
        out = open(self.log_dir / f"out-{time.monotonic_ns()}", "w")
        with out:
            return subprocess.Popen(self.argv(*args), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)

    def __call__(self, *args: str) -> subprocess.CompletedProcess:
        """Run to completion; output through files, since a created init keeps the stdio it inherited."""
        stamp = time.monotonic_ns()
        out_path, err_path = self.log_dir / f"out-{stamp}", self.log_dir / f"err-{stamp}"
        with open(out_path, "w") as out, open(err_path, "w") as err:
            code = subprocess.run(self.argv(*args), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                  timeout=60).returncode
        return subprocess.CompletedProcess(args, code, out_path.read_text(), err_path.read_text())

    def force_delete_all(self) -> None:
        if os.path.isdir(self.root):
            for cid in os.listdir(self.root):
                self("delete", "--force", cid)


@pytest.fixture
def runtime(bindir, tmp_path):
    # Not the shared no_leaks check: other engineers' tests run at the same time, so every test
    # here checks exactly its own containers' processes, state, cgroups (each hierarchy) and mounts.
    rt = Runtime(bindir, str(tmp_path / "mydocker-runtime-root"), tmp_path)
    yield rt
    rt.force_delete_all()  # a failing test still leaves nothing
    _remove_parent_cgroups()  # the parent made for our cgroupsPath (runc leaves it too)


def cgroup_mounts() -> list[str]:
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[fields.index("-") + 1] in ("cgroup", "cgroup2"):
                out.append(fields[4])
    return out


def cgroup_dirs(cgroups_path: str) -> list[str]:
    return [os.path.join(m, cgroups_path.lstrip("/")) for m in cgroup_mounts()
            if os.path.isdir(os.path.join(m, cgroups_path.lstrip("/")))]


def processes_mentioning(marker: str) -> list[int]:
    """Runtime processes (their cmdline names the id) and container processes (args carry the marker)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{name}/stat") as f:
                zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            continue
        if marker.encode() in cmdline and not zombie:
            found.append(int(name))
    return found


def mounts_under(path: str) -> list[str]:
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(real)]


def bundle_for(make_bundle, cid: str, args: list[str]) -> tuple[str, str]:
    cgroups_path = f"/mydocker-test-crash/{cid}"

    def edit(config: dict) -> None:
        config["linux"]["cgroupsPath"] = cgroups_path
        config["linux"]["resources"] = {"pids": {"limit": 64}}

    return make_bundle(args, edit), cgroups_path


def assert_nothing_left(runtime: Runtime, cid: str, cgroups_path: str, marker: str, bundle: str) -> None:
    deadline = time.monotonic() + 5
    while processes_mentioning(marker) and time.monotonic() < deadline:
        _reap()
        time.sleep(0.02)
    assert processes_mentioning(marker) == [], f"{cid}: processes left"
    assert not os.path.exists(os.path.join(runtime.root, cid)), f"{cid}: state left"
    assert cgroup_dirs(cgroups_path) == [], f"{cid}: cgroups left"
    assert mounts_under(bundle) == [], f"{cid}: mounts left"


def _remove_parent_cgroups() -> None:
    for mount in cgroup_mounts():
        try:
            os.rmdir(os.path.join(mount, "mydocker-test-crash"))
        except OSError:
            pass


def test_concurrent_creates_of_one_id(runtime, make_bundle):
    for round_ in range(8):
        cid = f"race{round_}"
        marker = f"{4242000 + round_}"
        bundle, cgroups_path = bundle_for(make_bundle, cid, ["sleep", marker])
        procs = [runtime.popen("create", "--bundle", bundle, cid) for _ in range(2)]
        codes = [p.wait(timeout=60) for p in procs]
        assert sorted(codes) == [0, 1] or (codes.count(0) == 1), codes
        state = json.loads(runtime("state", cid).stdout)
        assert state["status"] == "created" and state["id"] == cid
        os.kill(state["pid"], 0)  # the winner's init is alive and its state names it
        assert cgroup_dirs(cgroups_path), "the loser removed the winner's cgroups"
        with open(os.path.join(cgroup_dirs(cgroups_path)[0], "cgroup.procs")) as f:
            assert str(state["pid"]) in f.read().split()
        result = runtime("delete", "--force", cid)
        assert result.returncode == 0, result.stderr
        assert_nothing_left(runtime, cid, cgroups_path, marker, bundle)


def test_sigkill_during_create_then_delete_leaves_nothing(runtime, make_bundle):
    bundle, cgroups_path = bundle_for(make_bundle, "timing", ["sleep", "4243999"])
    began = time.monotonic()
    assert runtime("create", "--bundle", bundle, "timing").returncode == 0
    duration = time.monotonic() - began
    assert runtime("delete", "--force", "timing").returncode == 0
    outcomes = []
    for i in range(20):
        cid = f"kill{i}"
        marker = f"{4243000 + i}"
        bundle, cgroups_path = bundle_for(make_bundle, cid, ["sleep", marker])
        proc = runtime.popen("create", "--bundle", bundle, cid)
        time.sleep(duration * (i + 0.5) / 20)
        proc.send_signal(signal.SIGKILL)
        outcomes.append(proc.wait())
        result = runtime("delete", "--force", cid)
        assert result.returncode == 0 or "does not exist" in result.stderr or "no such" in result.stderr.lower(), \
            f"kill at {i}/20: {result.stderr}"
        assert_nothing_left(runtime, cid, cgroups_path, marker, bundle)
    assert -signal.SIGKILL in outcomes  # at least some kills landed inside create


def test_delete_after_the_container_died_removes_every_cgroup(runtime, make_bundle):
    bundle, cgroups_path = bundle_for(make_bundle, "died", ["sleep", "0.1"])
    assert runtime("create", "--bundle", bundle, "died").returncode == 0
    pid = json.loads(runtime("state", "died").stdout)["pid"]
    dirs = cgroup_dirs(cgroups_path)
    assert len(dirs) >= 2 or len(cgroup_mounts()) == 1, dirs  # one per hierarchy on v1/hybrid
    assert runtime("start", "died").returncode == 0
    deadline = time.monotonic() + 10
    while json.loads(runtime("state", "died").stdout)["status"] != "stopped":
        _reap()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    _reap()
    assert not os.path.exists(f"/proc/{pid}"), "the init is still there"
    result = runtime("delete", "died")
    assert result.returncode == 0, result.stderr
    assert cgroup_dirs(cgroups_path) == []
    assert not os.path.exists(os.path.join(runtime.root, "died"))


@pytest.mark.parametrize("text, field", [
    ("{not json", "JSON"),
    (json.dumps({"ociVersion": "1.0.2", "process": {"args": ["true"], "cwd": "/"}}), "root"),
    (json.dumps({"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"cwd": "/"}}), "process.args"),
    (json.dumps({"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": [], "cwd": "/"}}),
     "process.args"),
    (json.dumps({"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["true"], "cwd": "/"},
                 "linux": {"seccomp": {"defaultAction": "SCMP_ACT_NOPE"}}}), "linux.seccomp.defaultAction"),
])
def test_invalid_config_is_one_line_naming_the_field(runtime, make_bundle, text, field):
    bundle = make_bundle(["true"])
    with open(os.path.join(bundle, "config.json"), "w") as f:
        f.write(text)
    result = runtime("create", "--bundle", bundle, "bad")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0] and "Traceback" not in result.stderr, result.stderr
    assert not os.path.exists(os.path.join(runtime.root, "bad"))
    assert runtime("list", "--quiet").stdout.strip() == ""

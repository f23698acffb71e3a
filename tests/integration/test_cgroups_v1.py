"""The v1 driver on this host's real hierarchies (hybrid: v1 controllers plus the cgroup2 mount).
Every cgroup lives under a parent named mydocker-test-<hex>, which the fixture removes if a test
did not, and then fails the test: destroy must leave nothing."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time

import pytest

from mydocker.errors import RuntimeFailure, InvalidArgument
from mydocker.runtime.cgroups import cgroup_from_paths, detect_mode, open_cgroup
from mydocker.runtime.cgroups.detect import hierarchies
from mydocker.runtime.cgroups.v1 import V1Cgroup

MiB = 1 << 20


def _proc(name: str) -> str:
    with open(f"/proc/self/{name}") as f:
        return f.read()


pytestmark = pytest.mark.skipif(os.geteuid() != 0 or detect_mode() == "v2",
                                reason="needs root and cgroup v1 controllers")


class Child:
    """A Python child that waits for a line on stdin before running `code`, so that it can be put
    in its cgroup first."""

    def __init__(self, code: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", "import sys\nsys.stdin.readline()\n" + code],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.pid = self.proc.pid

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def wait(self) -> int:
        return self.proc.wait(timeout=30)


@pytest.fixture
def spawn():
    children: list[Child] = []

    def start(code: str) -> Child:
        children.append(Child(code))
        return children[-1]

    yield start
    for child in children:  # only the processes this test started, by pid
        if child.proc.poll() is None:
            child.proc.kill()
        child.proc.wait()
        for stream in (child.proc.stdin, child.proc.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture
def parent():
    """A unique cgroup parent "/mydocker-test-<hex>"; fails the test if anything is left under it."""
    name = f"mydocker-test-{secrets.token_hex(4)}"
    yield name
    left = []
    for h in hierarchies(_proc("mountinfo"), _proc("cgroup")):
        top = os.path.join(h.mountpoint, name)
        for directory, _, _ in sorted(os.walk(top), key=lambda entry: -entry[0].count("/")):
            left.append(directory)
            for _ in range(50):
                try:
                    os.rmdir(directory)
                    break
                except OSError:
                    time.sleep(0.02)
    assert not left, f"cgroups left behind: {left}"


def _wait_empty(cg) -> None:
    deadline = time.monotonic() + 5
    while cg.pids():
        assert time.monotonic() < deadline, f"processes stay in the cgroup: {cg.pids()}"
        time.sleep(0.01)


def _cgroup_lines(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/cgroup") as f:
        return {names: path for _, names, path in (line.rstrip("\n").split(":", 2) for line in f)}


def test_lifecycle_in_every_hierarchy(parent: str, spawn) -> None:
    cg = open_cgroup(f"/{parent}/c1")
    assert isinstance(cg, V1Cgroup)
    mounted = {key for h in hierarchies(_proc("mountinfo"), _proc("cgroup")) for key in h.keys}
    assert set(cg.paths) == mounted and "memory" in mounted
    cg.create()
    assert all(os.path.isdir(d) for d in cg.paths.values())
    child = spawn("import time; time.sleep(60)")
    cg.apply(child.pid)
    lines = _cgroup_lines(child.pid)
    assert lines["memory"] == lines["cpu"] == lines["name=systemd"] == lines[""] == f"/{parent}/c1"
    assert cg.pids() == [child.pid]
    cg.destroy()  # kills what is left
    assert child.wait() == -signal.SIGKILL
    assert not any(os.path.exists(d) for d in cg.paths.values())
    assert not any(os.path.exists(os.path.dirname(d)) for d in cg.paths.values()), "the parent was not pruned"
    cg.destroy()  # idempotent


def test_memory_limit_oom_kills(parent: str, spawn) -> None:
    cg = open_cgroup(f"/{parent}/oom")
    cg.create()
    try:
        cg.set({"memory": {"limit": 32 * MiB, "swap": 32 * MiB}})
        assert cg.stats().memory_limit == 32 * MiB
        assert not cg.oom_killed()
        child = spawn("x = b'\\xff' * (256 << 20)\nprint('survived', flush=True)")
        cg.apply(child.pid)
        child.go()
        assert child.wait() == -signal.SIGKILL
        assert cg.oom_killed()
        assert cg.stats().oom_kills >= 1
    finally:
        cg.destroy()


def test_cpuset_pins_the_child(parent: str, spawn) -> None:
    cpu = str(max(os.sched_getaffinity(0)))
    cg = open_cgroup(f"/{parent}/pinned")
    cg.create()
    try:
        cg.set({"cpu": {"cpus": cpu, "mems": "0"}})
        child = spawn("print([l.split()[1] for l in open('/proc/self/status') "
                      "if l.startswith('Cpus_allowed_list')][0])")
        cg.apply(child.pid)
        child.go()
        assert child.line() == cpu
        assert child.wait() == 0
    finally:
        cg.destroy()


def test_cpu_quota_throttles(parent: str, spawn) -> None:
    cg = open_cgroup(f"/{parent}/quota")
    cg.create()
    try:
        cg.set({"cpu": {"quota": 10000, "period": 100000, "shares": 512}})
        child = spawn("import time\nt = time.monotonic()\nwhile time.monotonic() - t < 1: pass")
        cg.apply(child.pid)
        child.go()
        assert child.wait() == 0
        with open(os.path.join(cg.paths["cpu"], "cpu.stat")) as f:
            throttled = dict(line.split() for line in f)["nr_throttled"]
        assert int(throttled) > 0
        assert 0 < cg.stats().cpu_usage_ns < 0.5e9  # a second of busy loop at 10% of one CPU
    finally:
        cg.destroy()


def test_pids_limit_stops_fork(parent: str, spawn) -> None:
    code = """\
import os, signal
kids = []
try:
    for _ in range(20):
        pid = os.fork()
        if pid == 0:
            signal.pause()
            os._exit(0)
        kids.append(pid)
except BlockingIOError:
    pass
print(len(kids), flush=True)
sys.stdin.readline()
"""
    cg = open_cgroup(f"/{parent}/pids")
    cg.create()
    try:
        cg.set({"pids": {"limit": 8}})
        child = spawn(code)
        cg.apply(child.pid)
        child.go()
        assert child.line() == "7"  # the child itself is the eighth
        stats = cg.stats()
        assert (stats.pids_current, stats.pids_limit) == (8, 8)
        cg.kill_all(signal.SIGKILL)
        assert child.wait() == -signal.SIGKILL
        _wait_empty(cg)
    finally:
        cg.destroy()


def test_freeze_thaw_and_kill_all(parent: str, spawn) -> None:
    cg = open_cgroup(f"/{parent}/freeze")
    cg.create()
    try:
        child = spawn("while True: pass")
        cg.apply(child.pid)
        child.go()
        cg.freeze()
        used = cg.stats().cpu_usage_ns
        time.sleep(0.2)
        assert cg.stats().cpu_usage_ns == used
        cg.thaw()
        time.sleep(0.2)
        assert cg.stats().cpu_usage_ns > used
        cg.kill_all(signal.SIGTERM)
        assert child.wait() == -signal.SIGTERM
    finally:
        cg.destroy()


def test_device_rules(parent: str, spawn) -> None:
    cg = open_cgroup(f"/{parent}/devices")
    cg.create()
    try:
        cg.set({"devices": [{"allow": False, "access": "rwm"},
                            {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                            {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "r"}]})
        with open(os.path.join(cg.paths["devices"], "devices.list")) as f:  # the allow rules share one open
            assert f.read().split("\n")[:2] == ["c 1:3 rwm", "c 1:9 r"]
        child = spawn("""\
for dev in ('/dev/null', '/dev/zero'):
    try:
        open(dev).close()
        print('ok', flush=True)
    except PermissionError:
        print('denied', flush=True)
""")
        cg.apply(child.pid)
        child.go()
        assert [child.line(), child.line()] == ["ok", "denied"]
    finally:
        cg.destroy()


def test_blkio_weight_and_reservation(parent: str) -> None:
    """A weight where blkio has a weight file (CFQ's or BFQ's); where not (the none and mq-deadline
    schedulers), refused naming the field, and the reservation beside it is still set."""
    name = next((n for n in ("blkio.weight", "blkio.bfq.weight") if os.path.exists(f"/sys/fs/cgroup/blkio/{n}")), None)
    cg = open_cgroup(f"/{parent}/blkio")
    cg.create()
    try:
        if name is None:
            with pytest.raises(RuntimeFailure, match=r"linux.resources.blockIO.weight: .* leave the setting out"):
                cg.set({"blockIO": {"weight": 500}})
        cg.set({**({"blockIO": {"weight": 500}} if name else {}), "memory": {"reservation": 16 * MiB}})
        with open(os.path.join(cg.paths["memory"], "memory.soft_limit_in_bytes")) as f:
            assert int(f.read()) == 16 * MiB
        if name is not None:
            with open(os.path.join(cg.paths["blkio"], name)) as f:
                assert "500" in f.read().split()
    finally:
        cg.destroy()


def test_refused_value_names_the_field(parent: str) -> None:
    cg = open_cgroup(f"/{parent}/refused")
    cg.create()
    try:
        with pytest.raises(InvalidArgument, match=r"linux.resources.cpu.cpus: the kernel refused '4095'"):
            cg.set({"cpu": {"cpus": "4095"}})
        with pytest.raises(InvalidArgument, match=r"linux.resources.memory.swap"):
            cg.set({"memory": {"limit": 64 * MiB, "swap": 32 * MiB}})  # memsw below the limit
    finally:
        cg.destroy()


def test_raising_memory_and_swap_together(parent: str) -> None:
    cg = open_cgroup(f"/{parent}/grow")
    cg.create()
    try:
        cg.set({"memory": {"limit": 32 * MiB, "swap": 64 * MiB}})
        cg.set({"memory": {"limit": 128 * MiB, "swap": 256 * MiB}})  # limit above the old memsw: order matters
        cg.set({"memory": {"limit": 16 * MiB, "swap": 32 * MiB}})
        assert cg.stats().memory_limit == 16 * MiB
    finally:
        cg.destroy()


def test_crash_cleanup_from_recorded_paths(parent: str, spawn) -> None:
    cg = open_cgroup(f"/{parent}/crashed")
    recorded = json.loads(json.dumps(cg.paths))  # as state.json keeps them, before create
    cg.create()
    child = spawn("import time; time.sleep(60)")
    cg.apply(child.pid)
    cgroup_from_paths(recorded).destroy()
    assert child.wait() == -signal.SIGKILL
    assert not any(os.path.exists(d) for d in recorded.values())


def test_half_created_cgroup_is_destroyed(parent: str) -> None:
    cg = open_cgroup(f"/{parent}/half")
    os.makedirs(cg.paths["memory"])  # a crash after the first mkdir
    cgroup_from_paths(cg.paths).destroy()
    assert not os.path.exists(cg.paths["memory"])


def test_destroy_a_paused_cgroup(parent: str, spawn) -> None:
    cg = open_cgroup(f"/{parent}/paused")
    cg.create()
    child = spawn("import time; time.sleep(60)")
    cg.apply(child.pid)
    cg.freeze()
    cg.destroy()  # v1 frozen tasks die only once thawed: destroy must thaw
    assert child.wait() == -signal.SIGKILL
    assert not any(os.path.exists(d) for d in cg.paths.values())

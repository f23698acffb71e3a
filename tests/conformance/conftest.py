"""Conformance tests: `mydocker-runtime` driven through its command line, as an engine (or the
runtime-tools validation suite) drives it, checked against what the OCI runtime spec says.

`oci` runs the runtime with a private --root and force-deletes what a test created; `bundle` writes
a busybox bundle whose config.json a test edits.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import tempfile
import time

import pytest

from tests.conftest import Result as Ran  # argv, rc, out, err: what one command did

BASE_MOUNTS = [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
     "options": ["nosuid", "noexec", "nodev", "ro"]},
]


def base_config(args: list[str]) -> dict:
    return {
        "ociVersion": "1.0.2",
        "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": args,
                    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "cwd": "/"},
        "root": {"path": "rootfs", "readonly": False},
        "hostname": "oci",
        "mounts": copy.deepcopy(BASE_MOUNTS),
        "linux": {"namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")]},
    }


@pytest.fixture(scope="session")
def busybox_tree(tmp_path_factory) -> str:
    from tests.conftest import unpack_busybox
    base = tmp_path_factory.mktemp("mydocker-oci-rootfs")
    unpack_busybox(base / "rootfs", base)
    return str(base / "rootfs")


@pytest.fixture
def bundle(tmp_path, busybox_tree):
    """bundle(args, edit=None) -> bundle dir; `edit(config)` changes config.json before it is written."""
    from tests.conftest import bundle_factory
    return bundle_factory(tmp_path, busybox_tree, base_config, "mydocker-oci-bundle")


class Runtime:
    """`mydocker-runtime --root <private>`; records ids it creates so teardown can delete them."""

    def __init__(self, exe: str, root: str) -> None:
        self.exe, self.root, self.ids = exe, root, set()

    def __call__(self, *args: str, rc: int | None = 0, cwd: str | None = None, timeout: float = 30,
                 stdout=None) -> Ran:
        argv = [self.exe, "--root", self.root, *args]
        if args and args[0] in ("create", "run"):
            self.ids.add(args[-1])
        # Files, not pipes: a created container's init inherits them and would hold a pipe open.
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            proc = subprocess.run(argv, cwd=cwd, stdout=stdout or out, stderr=err, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
            out.seek(0)
            err.seek(0)
            ran = Ran(argv, proc.returncode, out.read(), err.read())
        if rc is not None:
            assert ran.rc == rc, f"expected rc={rc}\n{ran}"
        return ran

    def state(self, cid: str) -> dict:
        return json.loads(self("state", cid).out)

    def wait_status(self, cid: str, wanted: str, timeout: float = 10) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            state = self.state(cid)
            if state["status"] == wanted:
                return state
            assert time.monotonic() < deadline, f"{cid} stayed {state['status']}, never {wanted}"
            time.sleep(0.02)

    def output(self, bundle_dir: str, cid: str) -> tuple[int, str]:
        """`run` the bundle in the foreground: its exit code and what it printed (stdout and stderr)."""
        out = os.path.join(os.path.dirname(self.root), f"out-{cid}")
        with open(out, "w") as f:
            proc = subprocess.run([self.exe, "--root", self.root, "run", "--bundle", bundle_dir, cid],
                                  stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=30)
        with open(out) as f:
            return proc.returncode, f.read()

    def cleanup(self) -> None:
        for cid in self.ids:
            subprocess.run([self.exe, "--root", self.root, "delete", "--force", cid], capture_output=True)


def own_objects(tmp_path, cgroup_prefix: str) -> set[str]:
    """Mounts under this test's directory and the cgroups named for its runtime root: the leak
    check is scoped to them, as other suites may run on this host at the same time."""
    with open("/proc/self/mountinfo") as f:
        found = {line.split()[4] for line in f if line.split()[4].startswith(str(tmp_path))}
    for top in os.listdir("/sys/fs/cgroup"):
        path = os.path.join("/sys/fs/cgroup", top)
        if os.path.isdir(path) and not os.path.islink(path):
            found.update(os.path.join(path, d) for d in os.listdir(path) if d.startswith(cgroup_prefix))
    return found


@pytest.fixture
def oci(bindir, tmp_path):
    from mydocker.runtime.create import default_cgroups_path
    runtime = Runtime(os.path.join(bindir, "mydocker-runtime"), str(tmp_path / "mydocker-oci-root"))
    prefix = default_cgroups_path(runtime.root, "").strip("/")
    before = own_objects(tmp_path, prefix)
    yield runtime
    runtime.cleanup()
    leaked = own_objects(tmp_path, prefix) - before
    assert not leaked, f"left behind: {sorted(leaked)}"

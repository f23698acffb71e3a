"""A container in a user namespace: its root is an unprivileged uid on the host.

Driven through `mydocker-runtime` as podman drives it (`mydocker run` has no --userns flag yet):
a bundle with a user namespace mapping container 0-65535 onto host 100000-165535.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import time

import pytest

from mydocker.engine import security, bundle_config

HOST_BASE = 100000


@pytest.fixture
def userns_bundle(tmp_path):
    """The bundle outside pytest's 0700 tmp dirs: host uid 100000 must be able to reach it."""
    import pathlib
    import shutil
    import tempfile
    from tests.conftest import unpack_busybox
    bundle = pathlib.Path(tempfile.mkdtemp(prefix="mydocker-userns-"))
    rootfs = bundle / "rootfs"
    unpack_busybox(rootfs, tmp_path)
    os.chmod(bundle, 0o755)
    config = {
        "ociVersion": "1.0.2",
        "process": {"user": {"uid": 0, "gid": 0}, "args": ["sleep", "4244000"], "env": [bundle_config.DEFAULT_PATH],
                    "cwd": "/"},
        "root": {"path": "rootfs"},
        "hostname": "userns",
        "mounts": [m for m in copy.deepcopy(bundle_config.DEFAULT_MOUNTS) if m["type"] != "cgroup"],
        "linux": {"namespaces": [{"type": t} for t in [*bundle_config.NAMESPACES, "user"]],
                  "uidMappings": [{"containerID": 0, "hostID": HOST_BASE, "size": 65536}],
                  "gidMappings": [{"containerID": 0, "hostID": HOST_BASE, "size": 65536}],
                  "maskedPaths": list(bundle_config.MASKED_PATHS), "readonlyPaths": list(bundle_config.READONLY_PATHS)},
    }
    security.apply_security(config, security.SecurityOptions())
    config["linux"]["resources"].pop("devices")  # no cgroupsPath: nothing to apply them to
    (bundle / "config.json").write_text(json.dumps(config))
    yield str(bundle)
    shutil.rmtree(bundle)


def _runtime(bindir: str, root: str, *args: str, log) -> int:
    with open(log, "a") as out:
        return subprocess.run([os.path.join(bindir, "mydocker-runtime"), "--root", root, *args],
                              stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=60).returncode


def test_root_in_a_user_namespace_is_unprivileged_on_the_host(bindir, userns_bundle, tmp_path):
    root, log = str(tmp_path / "mydocker-runtime-root"), tmp_path / "log"
    assert _runtime(bindir, root, "create", "--bundle", userns_bundle, "uns", log=log) == 0, log.read_text()
    try:
        with open(os.path.join(root, "uns", "state.json")) as f:
            pid = json.load(f)["pid"]
        with open(f"/proc/{pid}/status") as f:
            status = dict(line.split(":", 1) for line in f)
        assert status["Uid"].split() == [str(HOST_BASE)] * 4
        assert status["Gid"].split() == [str(HOST_BASE)] * 4
        with open(f"/proc/{pid}/uid_map") as f:
            assert f.read().split() == ["0", str(HOST_BASE), "65536"]
        # Its capabilities belong to its own user namespace, not the host's
        assert os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")
    finally:
        _runtime(bindir, root, "delete", "--force", "uns", log=log)
        deadline = time.monotonic() + 5
        while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
            time.sleep(0.02)


def test_container_root_cannot_write_host_owned_files(bindir, userns_bundle, tmp_path):
    """Files of host uid 0 are nobody's inside: container root cannot write them."""
    root, log = str(tmp_path / "mydocker-runtime-root"), tmp_path / "log"
    config_path = os.path.join(userns_bundle, "config.json")
    with open(config_path) as f:
        config = json.load(f)
    config["process"]["args"] = ["sh", "-c", "id -u; stat -c %u /etc/passwd; echo x >> /etc/passwd; echo rc=$?"]
    with open(config_path, "w") as f:
        json.dump(config, f)
    code = _runtime(bindir, root, "run", "--bundle", userns_bundle, "uns2", log=log)
    out = log.read_text()
    assert code == 0, out
    assert out.splitlines()[:2] == ["0", "65534"] and "rc=1" in out and "Permission denied" in out, out
    with open(os.path.join(userns_bundle, "rootfs", "etc", "passwd")) as f:
        assert "x\n" not in f.read()

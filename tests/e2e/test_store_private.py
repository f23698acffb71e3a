"""The engine's data is private to root (the CVE-2021-41091 class): an unprivileged host user can
neither reach an image's unpacked layers (a setuid-root binary, a device node), nor a container's
files, nor a volume's data, nor the records (which hold containers' environments).

The tests' engine roots sit in a 0755 dir under /tmp (as /var/lib is open on a host), so only the
engine's own modes can refuse."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from imagekit import docker_archive, layer_tar  # noqa: E402

NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]

# Run as nobody: try each path; print {path: "ok" | errno name}.
PROBE = r"""
import errno, json, os, sys
out = {}
for kind, path in json.loads(sys.argv[1]):
    try:
        if kind == "stat":
            os.stat(path)
        elif kind == "read":
            with open(path, "rb") as f:
                f.read(1)
        elif kind == "exec":
            import subprocess
            subprocess.run(["busybox", "true"], executable=path, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out[path] = "ok"
    except OSError as e:
        out[path] = errno.errorcode.get(e.errno, str(e.errno))
    except Exception as e:
        out[path] = type(e).__name__
print(json.dumps(out))
"""


@pytest.fixture
def open_cli(bindir, tmp_path):
    """The CLI with its roots in a fresh 0755 dir under /tmp, so every host user may walk down to the
    engine root (pytest's own tmp dirs are 0700, and other sessions on this host reset their modes)."""
    import shutil
    import tempfile
    from tests.conftest import CLI
    base = tempfile.mkdtemp(prefix="mydocker-private-", dir="/tmp")
    os.chmod(base, 0o755)
    yield CLI(bindir, os.path.join(base, "root"), os.path.join(base, "run"))
    with open("/proc/self/mountinfo") as f:
        left = [line.split()[4] for line in f if line.split()[4].startswith(base)]
    shutil.rmtree(base, ignore_errors=True)
    assert not left, f"mounts left behind: {left}"


def as_nobody(attempts: list[tuple[str, str]]) -> dict[str, str]:
    done = subprocess.run([*NOBODY, sys.executable, "-I", "-c", PROBE, json.dumps(attempts)],
                          capture_output=True, text=True, timeout=60, cwd="/")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _setuid_image(mydocker, tmp_path) -> str:
    """Load an image whose layer carries a setuid-root copy of busybox and a device node."""
    with open("/bin/busybox", "rb") as f:
        busybox = f.read()
    layer = layer_tar([("dir", "bin"), ("file", "bin/busybox", busybox, 0o755),
                       ("file", "bin/rootsh", busybox, 0o4755), ("symlink", "bin/sh", "busybox"),
                       ("symlink", "bin/sleep", "busybox"), ("dir", "dev"), ("char", "dev/null0", 1, 3),
                       ("dir", "data"), ("file", "data/secret", "image secret\n", 0o644)])
    archive = tmp_path / "setuid.tar"
    archive.write_bytes(docker_archive([layer], ["suid:latest"], cmd=["sh"]))
    mydocker("load", "-i", str(archive))
    return "suid:latest"


def _paths(mydocker, cid: str) -> list[tuple[str, str]]:
    root = mydocker.root
    layers = os.path.join(root, "image", "layers")
    layer = next(os.path.join(layers, d) for d in os.listdir(layers)
                 if os.path.exists(os.path.join(layers, d, "bin", "rootsh")))
    data = os.path.join(root, "volumes", "vol1", "_data")
    return [("stat", os.path.join(layer, "bin", "rootsh")), ("exec", os.path.join(layer, "bin", "rootsh")),
            ("read", os.path.join(layer, "dev", "null0")), ("stat", layers),
            ("read", os.path.join(root, "mydocker.db")), ("stat", os.path.join(root, "containers", cid, "rootfs")),
            ("read", os.path.join(root, "containers", cid, "config.json")),
            ("stat", os.path.join(root, "containers", cid, "rootfs", "bin", "rootsh")),
            ("read", os.path.join(data, "secret")), ("stat", data)]


def _refused(results: dict[str, str]) -> dict[str, str]:
    """What was not refused, named relative to the engine root."""
    return {path.split("/root/", 1)[-1]: res for path, res in results.items()
            if res not in ("EACCES", "EPERM")}


def test_other_host_users_reach_no_layer_container_volume_or_record(open_cli, tmp_path):
    mydocker = open_cli
    image = _setuid_image(mydocker, tmp_path)
    cid = mydocker("run", "-d", "--network", "none", "-e", "PASSWORD=hunter2", "-v", "vol1:/data",
                   image, "sleep", "1000").out.strip()
    try:
        # a --userns remap container opens the way down to its own rootfs (o+x), and only that
        mydocker("run", "--rm", "--userns", "remap", "--network", "none", "busybox", "true")
        assert os.stat(mydocker.root).st_mode & stat.S_IXOTH
        # the probe itself can succeed: the same paths are open to root (and to nobody through /tmp)
        assert as_nobody([("stat", "/tmp")]) == {"/tmp": "ok"}
        assert all(os.path.exists(p) for _k, p in _paths(mydocker, cid))
        results = as_nobody(_paths(mydocker, cid))
        assert not _refused(results)
    finally:
        mydocker("rm", "-f", cid)


def test_an_older_open_root_is_tightened_when_opened(open_cli, tmp_path):
    """Roots made by earlier versions had 0711/0755 dirs and a 0644 database: the next command closes them."""
    mydocker = open_cli
    image = _setuid_image(mydocker, tmp_path)
    # created, not started: no monitor (whose spare workers open the engine) tightens the root before the check
    cid = mydocker("create", "--network", "none", "-v", "vol1:/data", image, "sleep", "1000").out.strip()
    try:
        root = mydocker.root
        old = {root: 0o711, os.path.join(root, "image"): 0o755, os.path.join(root, "image", "layers"): 0o755,
               os.path.join(root, "containers"): 0o755, os.path.join(root, "volumes"): 0o755,
               os.path.join(root, "volumes", "vol1"): 0o701, os.path.join(root, "mydocker.db"): 0o644}
        for path, mode in old.items():
            os.chmod(path, mode)
        paths = [("stat", os.path.join(root, "image", "layers")), ("read", os.path.join(root, "mydocker.db")),
                 ("stat", os.path.join(root, "volumes", "vol1", "_data"))]
        assert not any(r in ("EACCES", "EPERM") for r in as_nobody(paths).values())  # open, as before
        mydocker("images")
        results = as_nobody(paths)
        assert not _refused(results)
    finally:
        mydocker("rm", "-f", cid)

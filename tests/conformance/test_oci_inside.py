"""What the container's own process sees, as the runtime-tools suite checks it from inside:
config-linux.md (default filesystems, devices and symlinks, masked and read-only paths), config.md
(mounts in order, capabilities) and the bundle layout the suite's harness uses (rootfs directly in
the bundle dir, root.path ".", stdout and stderr files the container inherits from `create`).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess

import pytest

from tests.conformance.conftest import base_config

MQUEUE = {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}
SMALL_TMP = {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=1k"]}


def _own_caps(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1], 16) for line in f if line.startswith(field + ":"))


def test_capabilities_the_runtime_lacks_fail_create_not_start(oci, bundle):
    """runc fails `create` when capset would refuse the sets; failing only after `start` has
    reported success leaves the caller a container that never ran its process."""
    from mydocker.runtime.caps import NAMES
    last = int(open("/proc/sys/kernel/cap_last_cap").read())
    held = _own_caps("CapPrm") & _own_caps("CapBnd")
    lacking = [f"CAP_{NAMES[n]}" for n in range(min(last + 1, len(NAMES))) if not held >> n & 1]
    if not lacking:
        pytest.skip("this runtime holds every capability: nothing it could be refused")

    def ask(c):
        c["process"]["capabilities"] = {k: ["CAP_CHOWN", lacking[0]] for k in ("bounding", "permitted", "effective")}
    ran = oci("create", "--bundle", bundle(["true"], ask), "lacks", rc=1)
    assert lacking[0] in ran.err and "process.capabilities" in ran.err, ran
    assert len(ran.err.strip().splitlines()) == 1 and "Traceback" not in ran.err, ran
    oci("state", "lacks", rc=1)


def test_mounts_show_in_mountinfo_in_config_order_with_type_and_source(oci, bundle):
    """config.md: mounts are mounted in the order of the array; each has its type and source."""
    wanted = base_config([])["mounts"] + [MQUEUE, SMALL_TMP]
    code, out = oci.output(bundle(["cat", "/proc/self/mountinfo"], lambda c: c["mounts"].extend([MQUEUE, SMALL_TMP])),
                           "order")
    assert code == 0, out
    seen = []
    for line in out.splitlines():
        fields = line.split()
        sep = fields.index("-")
        seen.append((fields[4], fields[sep + 1], fields[sep + 2]))
    positions = []
    for m in wanted:
        if m["type"] == "cgroup":  # on cgroup v1 a tmpfs holding one bind per hierarchy, as runc does
            continue
        match = [i for i, s in enumerate(seen) if s == (m["destination"], m["type"], m["source"])]
        assert match, f"{m} missing from\n{out}"
        positions.append(match[0])
    assert positions == sorted(positions), out
    assert any(s[0] == "/tmp" and "size=4k" in line for s, line in zip(seen, out.splitlines())), out


def test_default_devices_and_symlinks(oci, bundle):
    """config-linux.md "Default Devices" and runtime-linux.md "Dev symbolic links"."""
    script = ("for f in null zero full random urandom tty ptmx; do stat -L -c '%n %F %t:%T' /dev/$f; done; "
              "for l in fd stdin stdout stderr ptmx; do echo /dev/$l $(readlink /dev/$l); done")
    code, out = oci.output(bundle(["sh", "-c", script]), "devs")
    assert code == 0, out
    lines = set(out.splitlines())
    for name, major, minor in (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8),
                               ("urandom", 1, 9), ("tty", 5, 0), ("ptmx", 5, 2)):
        assert f"/dev/{name} character special file {major:x}:{minor:x}" in lines, out
    for link, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx")):
        assert f"/dev/{link} {target}" in lines, out


def _nodes(root: str, prefix: str) -> list[str]:
    made = []
    for name, mode in (("blk", stat.S_IFBLK), ("chr", stat.S_IFCHR)):
        os.mknod(os.path.join(root, f"{prefix}{name}"), mode | 0o666, 0)
        made.append(f"/{prefix}{name}")
    os.mkfifo(os.path.join(root, f"{prefix}fifo"), 0o666)
    return made + [f"/{prefix}fifo"]


def _tree(root: str, top: str, text: str) -> list[str]:
    """/<top>/sub, files /<top>f, /<top>/f and /<top>/sub/f holding `text`, and the device nodes and
    fifo of _nodes (whose paths it returns)."""
    os.makedirs(os.path.join(root, f"{top}/sub"))
    for path in (f"{top}f", f"{top}/f", f"{top}/sub/f"):
        with open(os.path.join(root, path), "w") as f:
            f.write(text)
    return _nodes(root, top)


@pytest.fixture
def own_tree(tmp_path, busybox_tree):
    """A rootfs this test may write into (the shared busybox tree must stay untouched)."""
    root = tmp_path / "tree"
    subprocess.run(["cp", "-a", busybox_tree, str(root)], check=True)
    return str(root)


def test_masked_paths_of_every_file_type_read_as_empty(oci, bundle, own_tree):
    """config-linux.md maskedPaths: directories, nested paths, files and device nodes become unreadable."""
    nodes = _tree(own_tree, "m", "secret")

    def masked(c):
        c["root"]["path"] = own_tree
        c["linux"]["maskedPaths"] = ["/m", "/mf", "/m/sub", "/m/f", "/m/sub/f", *nodes]
    script = "cat /mf /m/f /m/sub/f 2>/dev/null; ls -A /m; stat -c '%n %F %t:%T' " + " ".join(nodes)
    code, out = oci.output(bundle(["sh", "-c", script], masked), "masked")
    assert "secret" not in out and "sub" not in out, out
    for node in nodes:
        assert f"{node} character special file 1:3" in out, out  # /dev/null over it: reads give EOF


def test_readonly_paths_of_every_file_type_refuse_writes(oci, bundle, own_tree):
    """config-linux.md readonlyPaths: nested directories and files, and device nodes, read-only."""
    nodes = _tree(own_tree, "r", "immutable")

    def readonly(c):
        c["root"]["path"] = own_tree
        c["linux"]["readonlyPaths"] = ["/r", "/rf", "/r/sub", "/r/f", "/r/sub/f", *nodes]
    script = ("for f in /rf /r/f /r/sub/f; do cat $f; echo x > $f && echo wrote $f; done; "
              "touch /r/new /r/sub/new && echo created; grep -E ' /r' /proc/self/mountinfo")
    code, out = oci.output(bundle(["sh", "-c", script], readonly), "ro")
    assert "wrote" not in out and "created" not in out and out.count("immutable") == 3, out
    points = {line.split()[4]: line.split()[5] for line in out.splitlines() if line.startswith(tuple("0123456789"))}
    for path in ("/r", "/rf", "/r/sub", "/r/f", "/r/sub/f", *nodes):
        assert points.get(path, "").split(",")[0] == "ro", out


def test_harness_bundle_layout_root_dot_and_inherited_output_files(oci, tmp_path, busybox_tree):
    """The suite's harness: rootfs unpacked in the bundle dir itself (root.path "."), `create` run
    with stdout and stderr on regular files in the bundle, which the container's process writes."""
    b = tmp_path / "ocitest"
    subprocess.run(["cp", "-a", busybox_tree, str(b)], check=True)
    config = base_config(["sh", "-c", "cat /config.json >/dev/null && echo in-container; pwd"])
    config["root"]["path"] = "."
    config["process"]["cwd"] = "/tmp"
    (b / "config.json").write_text(json.dumps(config))
    with open(b / "stdout-1", "w") as out:
        oci("create", "--bundle", str(b), "layout", stdout=out)
        subprocess.run([oci.exe, "--root", oci.root, "start", "layout"], check=True)
    oci.wait_status("layout", "stopped")
    oci("delete", "--force", "layout")
    assert (b / "stdout-1").read_text() == "in-container\n/tmp\n"

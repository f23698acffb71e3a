"""linux.rootfsPropagation (config-linux.md) with the rootfs on a *shared* host mount, the case where
it matters: runc makes the rootfs's parent mount private before binding the rootfs (so the bind does
not propagate to the host, and pivot_root, which refuses shared parents, works), pivots, then applies
the requested propagation to the new /."""

from __future__ import annotations

import os
import subprocess

import pytest


def mounts_under(path: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(path)]


@pytest.fixture
def shared_dir(tmp_path, busybox_tree):
    """A tmpfs made shared on the host, holding a copy of the busybox rootfs."""
    path = str(tmp_path / "mydocker-shared")
    os.mkdir(path)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", path], check=True)
    try:
        subprocess.run(["mount", "--make-shared", path], check=True)
        subprocess.run(["cp", "-a", busybox_tree, f"{path}/rootfs"], check=True)
        os.makedirs(f"{path}/rootfs/mnt", exist_ok=True)
        yield path
    finally:
        for point in sorted(mounts_under(path), key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True)


def root_line(mountinfo: str) -> list[str]:
    """The optional fields (shared:N, master:N, unbindable) of the container's /."""
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) > 6 and fields[4] == "/" and " - " in line:
            return fields[6:fields.index("-")]
    raise AssertionError(f"no / in\n{mountinfo}")


@pytest.mark.parametrize("propagation, expect", [
    ("shared", "shared:"), ("rshared", "shared:"),
    ("slave", None), ("rslave", "master:"),  # rslave: a slave of the host's shared tmpfs
    ("private", None), ("rprivate", None),
    ("unbindable", "unbindable"), ("runbindable", "unbindable"),
])
def test_rootfs_on_a_shared_mount_gets_the_requested_propagation(oci, bundle, shared_dir, propagation, expect):
    def edit(c):
        c["root"]["path"] = f"{shared_dir}/rootfs"
        c["linux"]["rootfsPropagation"] = propagation
    cid = f"prop-{propagation}"
    code, out = oci.output(bundle(["cat", "/proc/self/mountinfo"], edit), cid)
    assert code == 0, out
    optional = root_line(out)
    if expect:
        assert any(f.startswith(expect) for f in optional), (propagation, optional)
    if expect != "shared:":
        assert not any(f.startswith("shared:") for f in optional), (propagation, optional)
    if expect is None:
        assert not optional, (propagation, optional)
    # the rootfs bind (and the container's mounts) never propagated back to the host's shared tmpfs
    assert mounts_under(shared_dir) == [shared_dir]


def test_default_rslave_lets_host_mounts_under_the_rootfs_reach_the_container(oci, bundle, shared_dir, tmp_path):
    """runc's default: host mount events reach the container, never the reverse."""
    def edit(c):
        c["root"]["path"] = f"{shared_dir}/rootfs"
        c["mounts"].append({"destination": "/flag", "type": "bind", "source": str(tmp_path / "flag"),
                            "options": ["rbind"]})
    (tmp_path / "flag").mkdir()
    script = "while [ ! -e /flag/go ]; do sleep 0.05; done; cat /proc/self/mountinfo > /flag/out"
    oci("create", "--bundle", bundle(["sh", "-c", script], edit), "slave")
    oci("start", "slave")
    target = f"{shared_dir}/rootfs/mnt"
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "hostmade", target], check=True)
    try:
        (tmp_path / "flag" / "go").write_text("")
        oci.wait_status("slave", "stopped")
    finally:
        subprocess.run(["umount", target], check=True)
    inside = (tmp_path / "flag" / "out").read_text().splitlines()
    assert any(line.split()[4] == "/mnt" and "hostmade" in line for line in inside), inside
    oci("delete", "slave")


def test_rshared_container_mounts_stay_out_of_the_host(oci, bundle, shared_dir):
    def edit(c):
        c["root"]["path"] = f"{shared_dir}/rootfs"
        c["linux"]["rootfsPropagation"] = "rshared"
        c["process"]["capabilities"] = {s: ["CAP_SYS_ADMIN"] for s in ("bounding", "effective", "permitted")}
    script = "mount -t tmpfs inner /mnt && grep -c ' /mnt ' /proc/self/mountinfo"
    code, out = oci.output(bundle(["sh", "-c", script], edit), "rshared-inner")
    assert code == 0 and out.strip() == "1", out
    assert mounts_under(shared_dir) == [shared_dir]


@pytest.mark.parametrize("propagation", ["unbindable", "runbindable", "shared", "rshared", "private"])
def test_rootfs_on_the_hosts_root_mount(oci, bundle, propagation):
    """The usual layout (the rootfs a directory on the host's /): an unbindable / must not stop the
    rootfs bind (it is applied after pivot_root), a shared one must not stop pivot_root."""
    def edit(c):
        c["linux"]["rootfsPropagation"] = propagation
    code, out = oci.output(bundle(["cat", "/proc/self/mountinfo"], edit), f"onroot-{propagation}")
    assert code == 0, out
    optional = root_line(out)
    tag = {"unbindable": "unbindable", "runbindable": "unbindable", "shared": "shared:", "rshared": "shared:"}
    if propagation in tag:
        assert any(f.startswith(tag[propagation]) for f in optional), optional
    else:
        assert not optional, optional


@pytest.mark.parametrize("propagation, propagates", [("shared", True), ("rshared", True), ("slave", False),
                                                     ("private", False), ("unbindable", None)])
def test_a_mount_under_the_root_reaches_a_bind_of_it_only_when_shared(oci, bundle, shared_dir, propagation,
                                                                      propagates):
    """What runtime-tools' runtimetest checks inside: bind / elsewhere, mount under /, look in the bind.
    Peers (shared) see each other's mounts; private and slave copies do not; unbindable refuses the bind."""
    def edit(c):
        c["root"]["path"] = f"{shared_dir}/rootfs"
        c["linux"]["rootfsPropagation"] = propagation
        c["process"]["capabilities"] = {s: ["CAP_SYS_ADMIN"] for s in ("bounding", "effective", "permitted")}
    script = ("mkdir -p /target /m && mount -o rbind / /target || { echo bind-refused; exit 0; }; "
              "mount -t tmpfs probe /m && grep -c ' /target/m ' /proc/self/mountinfo; true")
    code, out = oci.output(bundle(["sh", "-c", script], edit), f"peer-{propagation}")
    assert code == 0, out
    if propagates is None:
        assert "bind-refused" in out, out
    else:
        assert out.strip().splitlines()[-1] == ("1" if propagates else "0"), out
    assert mounts_under(shared_dir) == [shared_dir]

"""Layers on the real kernel: whiteouts and opaque dirs through overlayfs and the vfs copy, file
attributes kept, hostile layers contained, 100+ layer mounts, commit diffs that round-trip."""

from __future__ import annotations

import io
import os
import stat

import pytest

from mydocker.errors import InvalidArgument
from mydocker.image import snapshot
from mydocker.image.diff import write_layer
from mydocker.image.layer import apply_layer
from mydocker.image.store import ImageStore
from tests.imagekit import layer_tar

CAP = b"\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"  # cap_net_bind_service

LAYERS = [
    [("dir", "etc"), ("file", "etc/a", "a1"), ("file", "etc/b", "b1"), ("dir", "d"), ("file", "d/x", "x"),
     ("file", "d/y", "y"), ("dir", "keep"), ("file", "keep/k", "k")],
    [("file", "etc/a", "a2"), ("whiteout", "etc/b"), ("dir", "d"), ("opaque", "d"), ("file", "d/z", "z"),
     ("file", "c", "c")],
    [("whiteout", "c"), ("symlink", "abs", "/etc/a"), ("symlink", "rel", "etc/a"),
     ("file", "suid", "#!", 0o4755, 0, 0), ("file", "owned", "o", 0o640, 1000, 100),
     ("file", "cap", "bin", 0o755, 0, 0, {"security.capability": CAP, "user.note": b"hi"}),
     ("file", "keep/h", "h"), ("hardlink", "keep/h2", "keep/h"), ("char", "null", 1, 3), ("dir", "empty", 0o700)],
]
EXPECTED = {"etc/a": "a2", "d/z": "z", "keep/k": "k", "keep/h2": "h"}
GONE = ["etc/b", "d/x", "d/y", "c"]


def unpack(tmp_path, layers) -> list[str]:
    dirs = []
    for i, entries in enumerate(layers):
        tar = tmp_path / f"layer{i}.tar"
        layer_tar(entries, str(tar))
        target = tmp_path / "store" / "layers" / f"{i:064x}"
        target.mkdir(parents=True)
        apply_layer(str(tar), str(target))
        dirs.append(str(target))
    return dirs


def snapshot_of(root: str) -> dict[str, tuple]:
    """Everything a container would see: type, mode, owner, content or link target, xattrs."""
    out = {}
    for top, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(top, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, root)
            detail = (os.readlink(path) if stat.S_ISLNK(st.st_mode) else
                      open(path, "rb").read() if stat.S_ISREG(st.st_mode) else st.st_rdev)
            xattrs = {} if stat.S_ISLNK(st.st_mode) else {
                n: os.getxattr(path, n) for n in os.listxattr(path) if not n.startswith("trusted.overlay.")}
            out[rel] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, detail, xattrs)
    return out


@pytest.fixture
def container(tmp_path, no_leaks):
    made = []

    def make(lowers, name="c"):
        directory = tmp_path / name
        directory.mkdir()
        made.append(str(directory))
        return snapshot.prepare(lowers, str(directory)), str(directory)

    yield make
    for directory in made:
        snapshot.release(directory)


def check_view(root: str) -> None:
    for path, text in EXPECTED.items():
        with open(os.path.join(root, path)) as f:
            assert f.read() == text, path
    for path in GONE:
        assert not os.path.lexists(os.path.join(root, path)), path
    assert sorted(os.listdir(os.path.join(root, "d"))) == ["z"]
    assert os.readlink(os.path.join(root, "abs")) == "/etc/a"
    assert os.stat(os.path.join(root, "suid")).st_mode & stat.S_ISUID
    st = os.stat(os.path.join(root, "owned"))
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 100, 0o640)
    assert os.getxattr(os.path.join(root, "cap"), "security.capability") == CAP
    assert os.getxattr(os.path.join(root, "cap"), "user.note") == b"hi"
    k, k2 = os.stat(os.path.join(root, "keep/h")), os.stat(os.path.join(root, "keep/h2"))
    assert k.st_ino == k2.st_ino and k.st_nlink == 2
    assert os.stat(os.path.join(root, "null")).st_rdev == os.makedev(1, 3)
    assert stat.S_IMODE(os.stat(os.path.join(root, "empty")).st_mode) == 0o700


def test_layers_are_stored_in_overlay_form(tmp_path):
    dirs = unpack(tmp_path, LAYERS)
    whiteout = os.lstat(os.path.join(dirs[1], "etc/b"))
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == 0
    assert os.getxattr(os.path.join(dirs[1], "d"), "trusted.overlay.opaque") == b"y"
    assert not any(n.startswith(".wh.") for _t, _d, files in os.walk(dirs[1]) for n in files)


def test_three_layers_give_the_right_view_on_overlay(tmp_path, container):
    rootfs, _ = container(unpack(tmp_path, LAYERS))
    assert os.path.ismount(rootfs)
    check_view(rootfs)


def test_a_volatile_layer_is_never_mounted_again(tmp_path, no_leaks):
    """A `run --rm` container's layer is mounted volatile (no sync at unmount); overlay marks its work
    directory, and a second mount is refused with a message, not taken for a host without overlay
    (which would copy the layers into a vfs rootfs)."""
    from mydocker.errors import RuntimeFailure
    dirs = unpack(tmp_path, LAYERS)
    directory = tmp_path / "volatile"
    directory.mkdir()
    rootfs = snapshot.prepare(dirs, str(directory), volatile=True)
    try:
        with open("/proc/self/mountinfo") as f:  # 6.x shows "fsync=volatile", 5.x "volatile"
            assert any(line.split()[4] == rootfs and "volatile" in line.split(" - ")[1] for line in f)
        check_view(rootfs)
    finally:
        snapshot.release(str(directory))
    with pytest.raises(RuntimeFailure, match="mounted volatile .* remove the container"):
        snapshot.prepare(dirs, str(directory))
    assert not os.path.ismount(rootfs) and snapshot.driver_of(str(directory)) == "overlay"


def test_vfs_driver_gives_the_same_view(tmp_path, container, monkeypatch):
    dirs = unpack(tmp_path, LAYERS)
    overlay_root, _ = container(dirs, "over")
    monkeypatch.setenv(snapshot.FORCE_ENV, "vfs")
    vfs_root, vfs_dir = container(dirs, "vfs")
    assert not os.path.ismount(vfs_root) and snapshot.driver_of(vfs_dir) == "vfs"
    check_view(vfs_root)
    assert snapshot_of(vfs_root) == snapshot_of(overlay_root)


@pytest.mark.parametrize("entries,escape", [
    ([("file", "../../escape-dotdot", "evil")], "escape-dotdot"),
    ([("dir", "x"), ("file", "x/../../../escape-dotdot2", "evil")], "escape-dotdot2"),
])
def test_hostile_names_are_refused(tmp_path, entries, escape):
    target = tmp_path / "a" / "layer"
    target.mkdir(parents=True)
    layer_tar(entries, str(tmp_path / "evil.tar"))
    with pytest.raises(InvalidArgument, match="outside the layer"):
        apply_layer(str(tmp_path / "evil.tar"), str(target))
    assert not (tmp_path / escape).exists() and not (tmp_path / "a" / escape).exists()


def test_absolute_names_and_symlinks_stay_inside(tmp_path):
    target = tmp_path / "layer"
    target.mkdir()
    host_abs = tmp_path / "abs-evil"
    host_via = tmp_path / "via-link"
    host_rel = tmp_path / "via-relative-link"
    entries = [("file", str(host_abs), "evil"),
               ("symlink", "root", "/"), ("file", f"root{host_via}", "evil"),
               ("symlink", "up", "../../../../../../.."), ("file", f"up{host_rel}", "evil")]
    layer_tar(entries, str(tmp_path / "evil.tar"))
    apply_layer(str(tmp_path / "evil.tar"), str(target))
    for host in (host_abs, host_via, host_rel):
        assert not host.exists(), f"{host} was written on the host"
        assert (target / str(host).lstrip("/")).read_text() == "evil"  # neutralised into the layer


def test_hard_link_to_a_host_file_cannot_reach_it(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("host data")
    target = tmp_path / "layer"
    target.mkdir()
    layer_tar([("hardlink", "steal", str(secret)), ("file", "steal", "overwritten")], str(tmp_path / "evil.tar"))
    try:
        apply_layer(str(tmp_path / "evil.tar"), str(target))
    except InvalidArgument:
        pass  # refusing the layer is as good as containing it
    assert secret.read_text() == "host data"
    assert os.stat(secret).st_nlink == 1


def test_gzip_and_zstd_layers(tmp_path):
    import gzip
    import shutil
    import subprocess
    raw = layer_tar([("file", "hello", "world")])
    (tmp_path / "l.tgz").write_bytes(gzip.compress(raw))
    for name in ("l.tgz",) + (("l.zst",) if shutil.which("zstd") else ()):
        if name == "l.zst":
            (tmp_path / "l.zst").write_bytes(subprocess.run(["zstd", "-q", "-c"], input=raw,
                                                            capture_output=True, check=True).stdout)
        target = tmp_path / f"out-{name}"
        target.mkdir()
        apply_layer(str(tmp_path / name), str(target))
        assert (target / "hello").read_text() == "world"


def test_more_than_a_hundred_layers_mount(tmp_path, container):
    store = ImageStore(str(tmp_path / ("deep" * 10) / "image"))
    store.ensure()
    dirs = []
    for i in range(130):
        tar = tmp_path / "l.tar"
        layer_tar([("file", f"f{i}", str(i))], str(tar))
        import hashlib
        diff_id = "sha256:" + hashlib.sha256(str(i).encode()).hexdigest()
        dirs.append(_unpack(store, str(tar), diff_id))
    assert len(":".join(dirs)) > 4096  # absolute lowerdirs would not fit in one page
    rootfs, _ = container(dirs)
    assert os.path.ismount(rootfs)
    assert len(os.listdir(rootfs)) == 130
    with open(os.path.join(rootfs, "f129")) as f:
        assert f.read() == "129"


def _unpack(store: ImageStore, tar: str, diff_id: str) -> str:
    target = store.layer_dir(diff_id)
    os.makedirs(target)
    apply_layer(tar, target)
    return target


def test_commit_diff_round_trips_changes(tmp_path, container):
    dirs = unpack(tmp_path, LAYERS)
    rootfs, directory = container(dirs, "work")
    os.unlink(os.path.join(rootfs, "etc/a"))                      # a deletion
    with open(os.path.join(rootfs, "new"), "w") as f:              # an addition
        f.write("new")
    import shutil
    shutil.rmtree(os.path.join(rootfs, "keep"))                   # a dir replaced: opaque
    os.mkdir(os.path.join(rootfs, "keep"))
    with open(os.path.join(rootfs, "keep/fresh"), "w") as f:
        f.write("fresh")
    os.setxattr(os.path.join(rootfs, "new"), "user.tag", b"1")
    buf = io.BytesIO()
    write_layer(os.path.join(directory, "upper"), buf, overlay_upper=True)
    import tarfile
    names = tarfile.open(fileobj=io.BytesIO(buf.getvalue())).getnames()
    assert "etc/.wh.a" in names and "keep/.wh..wh..opq" in names and "new" in names
    (tmp_path / "commit.tar").write_bytes(buf.getvalue())
    committed = tmp_path / "store" / "layers" / ("c" * 64)
    committed.mkdir()
    apply_layer(str(tmp_path / "commit.tar"), str(committed))
    again, _ = container([*dirs, str(committed)], "again")
    assert snapshot_of(again) == snapshot_of(rootfs)
    assert not os.path.exists(os.path.join(again, "etc/a"))
    assert os.listdir(os.path.join(again, "keep")) == ["fresh"]


def test_a_layer_whose_content_differs_from_its_diff_id_is_refused(tmp_path):
    import gzip
    import hashlib
    raw = layer_tar([("file", "hello", "world")])
    (tmp_path / "l.tgz").write_bytes(gzip.compress(raw))
    good = "sha256:" + hashlib.sha256(raw).hexdigest()
    (tmp_path / "ok").mkdir()
    apply_layer(str(tmp_path / "l.tgz"), str(tmp_path / "ok"), good)
    (tmp_path / "bad").mkdir()
    with pytest.raises(InvalidArgument, match="damaged or forged"):
        apply_layer(str(tmp_path / "l.tgz"), str(tmp_path / "bad"), "sha256:" + "0" * 64)


def test_a_fresh_process_applies_a_compressed_layer_inside_its_chroot(tmp_path):
    """The extracting child chroots into the target, where the host's modules are out of reach: the
    decompressor and digest modules must be loaded before it, in a process that had none of them."""
    import gzip
    import subprocess
    import sys
    layer = tmp_path / "layer.tar.gz"
    layer.write_bytes(gzip.compress(layer_tar([("dir", "etc"), ("file", "etc/motd", "hello\n")])))
    target = tmp_path / "target"
    target.mkdir()
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from mydocker.image.layer import apply_layer; "
            "apply_layer(sys.argv[2], sys.argv[3])")
    proc = subprocess.run([sys.executable, "-IS", "-c", code, repo, str(layer), str(target)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert (target / "etc/motd").read_text() == "hello\n"

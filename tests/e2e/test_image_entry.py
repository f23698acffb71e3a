"""Images are checked as they enter the store (load, import, pull): a layer that cannot be applied is
refused there with one line (exit 1, as Docker's CLI) and leaves nothing (no blob, no unpacked layer, no tag);
a large image config (past the old 4 MiB) loads, and one past the named limit is refused by size."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess

import pytest

from tests.imagekit import docker_archive, layer_tar

MiB = 1 << 20


def _base_files() -> list[tuple]:
    return [("dir", "etc"), ("file", "etc/passwd", "root:x:0:0::/root:/bin/sh\n")]


# name -> (layer entries or raw bytes, words the one-line error must hold)
HOSTILE = {
    "hardlink-to-missing": (_base_files() + [("hardlink", "stolen", "etc/shadow")], ["hard link", "etc/shadow"]),
    "hardlink-out-of-tree": (_base_files() + [("hardlink", "stolen", "../../../etc/passwd")],
                             ["hard link", "outside the layer"]),
    "hardlink-to-absolute-host-path": (_base_files() + [("hardlink", "stolen", "/etc/hostname")],
                                       ["hard link", "/etc/hostname"]),
    "hardlink-to-a-directory": (_base_files() + [("hardlink", "stolen", "etc")], ["hard link", "'etc'"]),
    "hardlink-to-itself": ([("hardlink", "loop", "loop")], ["hard link", "loop"]),
    "dotdot-name": (_base_files() + [("file", "../../escape-dotdot", "evil")], ["outside the layer"]),
    "dotdot-inside-name": ([("dir", "x"), ("file", "x/../../../escape-dotdot2", "evil")], ["outside the layer"]),
    "file-under-a-file": (_base_files() + [("file", "etc/passwd/inner", "x")], ["etc/passwd"]),
}


def _plain(name: str) -> bytes:
    return layer_tar(HOSTILE[name][0])


def _truncated_gzip() -> bytes:
    data = gzip.compress(layer_tar(_base_files() + [("file", "big", os.urandom(64 * 1024))]))
    return data[: len(data) // 2]


def _truncated_tar() -> bytes:
    data = layer_tar(_base_files() + [("file", "big", os.urandom(64 * 1024))])
    return data[:4096]


def _empty_store(root: str) -> dict[str, list[str]]:
    """What is left in the image store (nothing but its empty layout is expected)."""
    image = os.path.join(root, "image")
    found = {}
    for sub in ("blobs/sha256", "layers", "l", "shifted"):
        path = os.path.join(image, sub)
        if os.path.isdir(path) and os.listdir(path):
            found[sub] = os.listdir(path)
    leftovers = [n for n in os.listdir(image) if n.startswith(".")] if os.path.isdir(image) else []
    if leftovers:
        found["scratch"] = leftovers
    return found


def _assert_refused(mydocker, result, words: list[str]) -> None:
    assert result.rc == 1, result  # Docker's CLI: 1 for a failure of a command other than run
    err = result.err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and "KeyError" not in err, result
    for word in words:
        assert word in err, (word, err)
    assert mydocker("images", "-q").out.strip() == ""
    assert _empty_store(mydocker.root) == {}
    index = json.load(open(os.path.join(mydocker.root, "image", "index.json")))
    assert index["manifests"] == []


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_load_refuses_a_hostile_layer_at_once(mydocker, tmp_path, name):
    archive = tmp_path / "evil.tar"
    archive.write_bytes(docker_archive([_plain(name)], ["evil:1"]))
    _assert_refused(mydocker, mydocker("load", "-i", str(archive), rc=None), HOSTILE[name][1])
    assert not (tmp_path / "escape-dotdot").exists() and not (tmp_path / "escape-dotdot2").exists()


@pytest.mark.parametrize("name", ["hardlink-to-missing", "dotdot-name", "hardlink-out-of-tree"])
def test_import_refuses_a_hostile_layer_at_once(mydocker, tmp_path, name):
    path = tmp_path / "rootfs.tar"
    path.write_bytes(_plain(name))
    _assert_refused(mydocker, mydocker("import", str(path), "evil:1", rc=None), HOSTILE[name][1])


@pytest.mark.parametrize("make", [_truncated_gzip, _truncated_tar], ids=["gzip", "tar"])
def test_a_truncated_layer_is_refused_at_load(mydocker, tmp_path, make):
    """A docker-archive may carry a compressed layer, whose diff id is only known once unpacked."""
    import io
    import tarfile
    good = layer_tar(_base_files())
    archive = docker_archive([good], ["trunc:1"])
    # swap the layer's bytes for the damaged ones, keeping the config's diff id
    src = tarfile.open(fileobj=io.BytesIO(archive))
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as dst:
        for member in src:
            data = src.extractfile(member).read()
            if member.name.endswith("/layer.tar"):
                data = make()
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    (tmp_path / "trunc.tar").write_bytes(out.getvalue())
    _assert_refused(mydocker, mydocker("load", "-i", str(tmp_path / "trunc.tar"), rc=None), ["layer"])


def test_a_refused_image_leaves_what_other_images_use(mydocker, tmp_path):
    """The refused image shares its base layer with an image already loaded: that one stays whole."""
    base = layer_tar(_base_files() + [("file", "bin/true", "#!/bin/sh\n", 0o755)])
    good = tmp_path / "good.tar"
    good.write_bytes(docker_archive([base], ["good:1"]))
    mydocker("load", "-i", str(good))
    before = _empty_store(mydocker.root)
    evil = tmp_path / "evil.tar"
    evil.write_bytes(docker_archive([base, _plain("hardlink-to-missing")], ["evil:1"]))
    result = mydocker("load", "-i", str(evil), rc=1)
    assert "etc/shadow" in result.err
    assert _empty_store(mydocker.root) == before
    assert [r.split()[0] for r in mydocker("images").out.splitlines()[1:]] == ["good"]


def test_pull_refuses_a_hostile_layer_and_keeps_nothing(mydocker, tmp_path):
    if not shutil.which("skopeo"):
        pytest.skip("skopeo is not installed")
    from tests.registry import Registry
    (tmp_path / "registry").mkdir()
    registry = Registry(str(tmp_path / "registry"))
    try:
        archive = tmp_path / "evil.tar"
        archive.write_bytes(docker_archive([layer_tar(_base_files()), _plain("hardlink-to-missing")], ["evil:1"]))
        name = f"{registry.host}/test/evil:1"
        subprocess.run(["skopeo", "copy", "-q", "--dest-tls-verify=false", f"docker-archive:{archive}",
                        f"docker://{name}"], check=True, capture_output=True)
        env = dict(os.environ, MYDOCKER_INSECURE_REGISTRIES=registry.host)
        done = subprocess.run(mydocker.argv("pull", name), capture_output=True, text=True, env=env,
                              stdin=subprocess.DEVNULL, timeout=120)
        assert done.returncode == 1, done
        assert "etc/shadow" in done.stderr and "Traceback" not in done.stderr
        assert mydocker("images", "-q").out.strip() == ""
        assert _empty_store(mydocker.root) == {}
    finally:
        registry.stop()


def _big_config_archive(size: int) -> bytes:
    """An image whose config carries `size` bytes of labels (real images have long histories and labels)."""
    labels = {f"org.example.label{i}": "x" * (64 * 1024 - 40) for i in range(size // (64 * 1024) + 1)}
    return docker_archive([layer_tar(_base_files())], ["big:1"], labels=labels)


def test_an_image_config_over_4_mib_loads_and_round_trips(mydocker, tmp_path):
    (tmp_path / "big.tar").write_bytes(_big_config_archive(6 * MiB))
    assert "Loaded image: big:1" in mydocker("load", "-i", str(tmp_path / "big.tar")).out
    labels = json.loads(mydocker("image", "inspect", "big:1").out)[0]["Config"]["Labels"]
    assert sum(map(len, labels.values())) > 6 * MiB
    mydocker("save", "-o", str(tmp_path / "saved.tar"), "big:1")
    mydocker("rmi", "big:1")
    assert "Loaded image: big:1" in mydocker("load", "-i", str(tmp_path / "saved.tar")).out  # the OCI layout


def test_a_config_past_the_limit_is_refused_by_its_size(mydocker, tmp_path):
    from mydocker.image.store import MAX_JSON
    (tmp_path / "huge.tar").write_bytes(_big_config_archive(MAX_JSON + MiB))
    result = mydocker("load", "-i", str(tmp_path / "huge.tar"), rc=1)
    assert f"{MAX_JSON >> 20} MiB" in result.err and len(result.err.strip().splitlines()) == 1, result
    assert _empty_store(mydocker.root) == {}

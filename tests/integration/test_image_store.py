"""The image service through the engine's Python API: layers shared and reference-counted,
inspect as `mydocker inspect` uses it, archives that keep digests, the store a valid OCI layout."""

from __future__ import annotations

import io
import json
import os
import subprocess
import shutil

import pytest

from mydocker.engine.engine import Engine
from mydocker.engine.database import ContainerRecord
from mydocker.errors import Conflict, NotFound
from tests.imagekit import docker_archive, layer_tar

BASE = layer_tar([("dir", "etc"), ("file", "etc/base", "base")])


@pytest.fixture
def engine(tmp_path, no_leaks) -> Engine:
    return Engine(root=str(tmp_path / "mydocker-root"), runroot=str(tmp_path / "mydocker-run"))


def load(engine: Engine, layers: list[bytes], tags: list[str]) -> list[str]:
    return engine.images.load(io.BytesIO(docker_archive(layers, tags)))


def test_images_share_unpacked_layers_and_removal_keeps_what_others_need(engine):
    load(engine, [BASE, layer_tar([("file", "one", "1")])], ["one:1"])
    load(engine, [BASE, layer_tar([("file", "two", "2")])], ["two:1"])
    one, two = engine.images.get("one:1"), engine.images.get("two:1")
    assert one.layer_dirs[0] == two.layer_dirs[0] and os.path.isdir(one.layer_dirs[0])
    assert engine.images.remove("one:1")[0] == "Untagged: one:1"
    assert os.path.isdir(two.layer_dirs[0]) and not os.path.exists(one.layer_dirs[1])
    with pytest.raises(NotFound):
        engine.images.get("one:1")
    engine.images.remove("two:1")
    assert os.listdir(engine.images.store.layers) == []
    assert os.listdir(engine.images.store.blobs) == []


def test_rmi_refuses_an_image_a_container_uses(engine):
    load(engine, [BASE], ["used:1"])
    image = engine.images.get("used:1")
    engine.records.add_container(ContainerRecord(id="f" * 64, name="user", image="used:1",
                                                 image_id=image.manifest_digest, created="now", status="exited"))
    with pytest.raises(Conflict, match="in use by container user"):
        engine.images.remove("used:1")
    assert engine.images.prune(all_images=True) == []
    engine.records.remove_container("f" * 64)
    engine.images.remove("used:1")


def test_inspect_document(engine):
    load(engine, [BASE, layer_tar([("file", "x", "x")])], ["doc:1"])
    doc = engine.images.inspect("doc:1")
    assert doc["RepoTags"] == ["doc:1"] and doc["Id"].startswith("sha256:")
    assert len(doc["RootFS"]["Layers"]) == 2 and doc["Config"]["Cmd"] == ["sh"]
    assert engine.images.inspect(doc["Id"][7:19]) == doc     # by short id
    assert [h["CreatedBy"] for h in engine.images.history("doc:1")] == ["layer 1", "layer 0"]
    with pytest.raises(NotFound):
        engine.images.inspect("nosuch:1")


def test_save_load_keeps_digests_and_the_store_is_an_oci_layout(engine, tmp_path):
    load(engine, [BASE, layer_tar([("file", "x", "x")])], ["keep:1"])
    before = engine.images.inspect("keep:1")
    out = io.BytesIO()
    engine.images.save(["keep:1"], out)
    engine.images.remove("keep:1")
    assert engine.images.load(io.BytesIO(out.getvalue())) == ["Loaded image: keep:1"]
    assert engine.images.inspect("keep:1")["RootFS"] == before["RootFS"]
    assert engine.images.inspect("keep:1")["Manifest"] == before["Manifest"]
    with open(os.path.join(engine.images.store.root, "index.json")) as f:
        index = json.load(f)
    assert [m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]] == \
        ["docker.io/library/keep:1"]
    if shutil.which("skopeo"):  # an independent reader of OCI layouts
        proc = subprocess.run(["skopeo", "inspect", f"oci:{engine.images.store.root}:docker.io/library/keep:1"],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["Layers"] == [layer["digest"] for layer in
                                                     engine.images.store.read_json(before["Manifest"])["layers"]]

"""The build cache: step keys stay what earlier builds stored, and a hit needs its image to still exist."""

from __future__ import annotations

import os

from mydocker.engine.build_cache import BuildCache, step_key
from mydocker.engine.images import ImageService, empty_config
from mydocker.engine.database import Records
from mydocker.image.store import ImageStore


def test_step_key_is_stable_and_tells_steps_apart():
    parent = "sha256:" + "a" * 64
    # the key the builder has always computed for this step: a new formula would miss every cache on disk
    assert step_key(parent, "ENV A=1", {"Env": ["PATH=/bin"]}, ["x", None]) == \
        "sha256:1fa1027f6787188815c0340c3bd5f57bef62070b4c5a401d2ff3f07d327152a4"
    key = step_key(parent, "ENV A=1", {})
    assert key != step_key(None, "ENV A=1", {})          # the parent
    assert key != step_key(parent, "ENV A=2", {})        # the instruction
    assert key != step_key(parent, "ENV A=1", {"User": "x"})  # the config it ran with
    assert key != step_key(parent, "ENV A=1", {}, "mkdir")    # what else it depends on
    assert step_key(parent, "ENV A=1", {"a": 1, "b": 2}) == step_key(parent, "ENV A=1", {"b": 2, "a": 1})


def test_lookup_hits_only_a_remembered_image_that_still_exists(tmp_path):
    records = Records(str(tmp_path / "records.db"))
    store = ImageStore(str(tmp_path / "store"))
    store.ensure()
    images = ImageService(records, store)
    cache = BuildCache(records, store)
    manifest, _size = store.put_image(empty_config(), [])
    key = step_key(None, "LABEL a=b", {})
    assert cache.lookup(key) is None
    cache.remember(key, manifest)
    assert cache.lookup(key) is None  # remembered, but no such image in the records
    images.register(manifest, [])
    assert cache.lookup(key) == manifest
    assert BuildCache(records, store, enabled=False).lookup(key) is None  # --no-cache
    os.unlink(store.blob_path(manifest))
    assert cache.lookup(key) is None  # the image's manifest is gone from the store

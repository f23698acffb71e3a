"""Bundles for the runtime: a busybox rootfs made from the host's busybox-static, and config.json."""

from __future__ import annotations

import copy

import pytest

from mydocker.engine import bundle_config


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory) -> str:
    from tests.conftest import unpack_busybox
    base = tmp_path_factory.mktemp("mydocker-rootfs")
    unpack_busybox(base / "rootfs", base)
    return str(base / "rootfs")


def base_config(args: list[str]) -> dict:
    return {
        "ociVersion": "1.0.2",
        "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": args,
                    "env": [bundle_config.DEFAULT_PATH], "cwd": "/"},
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "bundle",
        "mounts": copy.deepcopy(bundle_config.DEFAULT_MOUNTS),
        "linux": {"namespaces": [{"type": t} for t in bundle_config.NAMESPACES],
                  "maskedPaths": list(bundle_config.MASKED_PATHS), "readonlyPaths": list(bundle_config.READONLY_PATHS)},
    }


@pytest.fixture
def make_bundle(tmp_path, busybox_rootfs):
    """make_bundle(args, edit=None) -> bundle dir; `edit(config)` changes config.json before it is written."""
    from tests.conftest import bundle_factory
    return bundle_factory(tmp_path, busybox_rootfs, base_config, "mydocker-bundle")


@pytest.fixture
def runtime_root(tmp_path, no_leaks) -> str:
    return str(tmp_path / "mydocker-runtime-root")

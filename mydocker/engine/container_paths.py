"""Where a container's files are: its directory (bundle, rootfs, logs) under the engine root, its
runtime state under the run root."""

from __future__ import annotations

import os

from mydocker import jsonio
from mydocker.lazy import lazy_module

logs = lazy_module("mydocker.engine.logs")
fs = lazy_module("mydocker.linux.fs")

LOCKS = "locks"             # under the run root: one lock file per container (container_lock)
TRASH = "trash"             # under the root: directories of removed containers, emptied by a detached child
LOWERS = "lowers.json"      # in its directory: the image layers of the container, to mount its rootfs again on `start`


class ContainerPaths:
    def __init__(self, containers_dir: str, runtime_root: str) -> None:
        self.containers_dir = containers_dir      # <root>/containers
        self.runtime_root = runtime_root          # <runroot>/runtime: mydocker-runtime's --root

    @property
    def root(self) -> str:
        return os.path.dirname(self.containers_dir)

    @property
    def runroot(self) -> str:
        return os.path.dirname(self.runtime_root)

    @property
    def volumes_dir(self) -> str:
        return os.path.join(self.root, "volumes")

    @property
    def trash_dir(self) -> str:
        return os.path.join(self.root, TRASH)

    def container_dir(self, container_id: str) -> str:
        return os.path.join(self.containers_dir, container_id)

    def spec_mounts(self, container_id: str) -> list[dict]:
        """The mounts of the container's config.json ([] once it is gone)."""
        try:
            return jsonio.load_file(os.path.join(self.container_dir(container_id), "config.json")).get("mounts") or []
        except (OSError, ValueError):
            return []

    def log_path(self, container_id: str) -> str:
        return logs.log_path(self.container_dir(container_id), container_id)

    def container_lock(self, container_id: str):
        """Held while a container is made and started, while `rm` decides, and during its teardown:
        `rm -f` and the container's own `run` or monitor never work on it at the same moment."""
        return fs.Flock(os.path.join(self.runroot, LOCKS, container_id))

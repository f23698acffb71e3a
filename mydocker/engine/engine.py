"""The Python API behind the CLI: `Engine(root=..., runroot=...)` with its services."""

from __future__ import annotations

import os

from mydocker.record import lazy

DEFAULT_ROOT = "/var/lib/mydocker"
DEFAULT_RUNROOT = "/run/mydocker"


class Engine:
    def __init__(self, root: str = DEFAULT_ROOT, runroot: str = DEFAULT_RUNROOT) -> None:
        self.root = os.path.abspath(root)
        self.runroot = os.path.abspath(runroot)
        os.makedirs(self.root, mode=0o711, exist_ok=True)

    @lazy
    def records(self):
        from mydocker.engine.records import Records
        return Records(os.path.join(self.root, "mydocker.db"))

    @lazy
    def images(self):
        from mydocker.engine.images import ImageService
        from mydocker.image.store import ImageStore
        store = ImageStore(os.path.join(self.root, "image"))
        return ImageService(self.records, store)

    @lazy
    def networks(self):
        from mydocker.engine.networks import NetworkService
        return NetworkService(self.records, self.root, self.runroot, DEFAULT_ROOT)

    @lazy
    def volumes(self):
        from mydocker.engine.volumes import VolumeService
        return VolumeService(self.records, self.root)

    @lazy
    def containers(self):
        from mydocker.engine.containers import ContainerService
        return ContainerService(self.records, lambda: self.images, os.path.join(self.root, "containers"),
                                os.path.join(self.runroot, "runtime"))

"""The Python API behind the CLI: `Engine(root=..., runroot=...)` with its services."""

from __future__ import annotations

import os

from mydocker.record import lazy

DEFAULT_ROOT = "/var/lib/mydocker"
DEFAULT_RUNROOT = "/run/mydocker"
VERSION = "0.1.0"


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
        return ContainerService(self.records, lambda: self.images, lambda: self.networks,
                                os.path.join(self.root, "containers"), os.path.join(self.runroot, "runtime"))

    def info(self) -> dict:
        """Docker's /info fields."""
        from mydocker.image import snapshot
        containers = self.records.containers()
        return {
            "Containers": len(containers),
            "ContainersRunning": sum(c.status == "running" for c in containers),
            "ContainersStopped": sum(c.status != "running" for c in containers),
            "Images": len(self.images.list()),
            "Driver": snapshot.probe(os.path.join(self.root, "containers")),
            "DockerRootDir": self.root,
            "RunRoot": self.runroot,
            "ServerVersion": VERSION,
            "KernelVersion": os.uname().release,
            "OperatingSystem": _os_name(),
            "Architecture": os.uname().machine,
            "NCPU": os.cpu_count(),
            **self.networks.info(),  # IPv4Forwarding (containers' traffic needs it), firewall table, bridge
        }

    def list_networks(self) -> tuple[list, list[str]]:
        """(every network, warnings): overlay networks other hosts created are joined first."""
        warnings = []
        if self.networks.overlay.configured():
            from mydocker.network.cluster import StoreUnavailable
            try:
                self.networks.overlay.join_all()
            except StoreUnavailable as e:
                warnings.append(str(e))
        return self.networks.networks(), warnings

    def reconcile_networks(self) -> dict:
        """The host's bridges and rules rebuilt from the records; endpoints of containers gone detached."""
        running = {c.id: c for c in self.records.containers()}

        def live(container_id: str) -> bool:
            c = running.get(container_id)
            if c is None or c.status != "running" or not c.pid:
                return False
            return os.path.exists(f"/proc/{c.pid}")

        return self.networks.reconcile(live)


def version() -> dict:
    import platform
    return {"Version": VERSION, "ApiVersion": "1.43", "Os": "linux", "Arch": os.uname().machine,
            "KernelVersion": os.uname().release, "PythonVersion": platform.python_version()}


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"

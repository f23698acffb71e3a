"""The Python API behind the CLI: `Engine(root=..., runroot=...)` with its services."""

from __future__ import annotations

import os
import stat

from mydocker.recordclass import lazy
from mydocker.errors import StoreUnavailable
from mydocker.lazy import lazy_module

platform = lazy_module("platform")
database = lazy_module("mydocker.engine.database")
engine_images = lazy_module("mydocker.engine.images")
image_store = lazy_module("mydocker.image.store")
engine_networks = lazy_module("mydocker.engine.networks")
engine_volumes = lazy_module("mydocker.engine.volumes")
engine_containers = lazy_module("mydocker.engine.containers")
snapshot = lazy_module("mydocker.image.snapshot")
rootless = lazy_module("mydocker.engine.rootless")  # an ordinary user's engine only

DEFAULT_ROOT = "/var/lib/mydocker"
DEFAULT_RUNROOT = "/run/mydocker"
VERSION = "0.1.0"
# What the root holds is root's alone (Docker: 0710/0700): image layers may carry setuid-root binaries
# and device nodes (CVE-2021-41091), the records hold containers' environments. The only bit ever
# added is x for others, by --userns remap (image/shift.reachable), on the dirs down to a remapped
# container's rootfs and bind sources; the image store needs no such way in (overlay reads its
# lower layers with the mounter's credentials).
PRIVATE_DIRS = ("image", "containers", "volumes")
RECORDS = "mydocker.db"
ROOTLESS_ENV = "_MYDOCKER_ROOTLESS"  # rootless.ENV: set in the processes a rootless engine starts


class Engine:
    def __init__(self, root: str | None = None, runroot: str | None = None) -> None:
        # An ordinary user (or a process its engine started): what differs is decided once, here
        # (engine/rootless.py joins the user's namespaces; `self.rootless` records the choices).
        self.rootless = None
        if os.geteuid() != 0 or ROOTLESS_ENV in os.environ:
            self.rootless = rootless.enter(root, runroot)
            if self.rootless is not None:
                root, runroot = self.rootless.root, self.rootless.runroot
        self.root = os.path.abspath(root or DEFAULT_ROOT)
        self.runroot = os.path.abspath(runroot or DEFAULT_RUNROOT)
        make_private(self.root)

    @lazy
    def records(self):
        return database.Records(os.path.join(self.root, RECORDS))

    @lazy
    def images(self):
        store = image_store.ImageStore(os.path.join(self.root, "image"))
        return engine_images.ImageService(self.records, store, self.runroot)

    @lazy
    def networks(self):
        usermode = self.rootless is not None and self.rootless.network == "usermode"
        return engine_networks.NetworkService(self.records, self.root, self.runroot, DEFAULT_ROOT, usermode=usermode)

    @lazy
    def volumes(self):
        return engine_volumes.VolumeService(self.records, self.root, self.runroot)

    @lazy
    def containers(self):
        return engine_containers.ContainerService(self.records, lambda: self.images, lambda: self.networks,
                                                  os.path.join(self.root, "containers"),
                                                  os.path.join(self.runroot, "runtime"),
                                                  rootless=self.rootless)

    def info(self) -> dict:
        """Docker's /info fields."""
        containers = self.records.containers()
        return {
            "Containers": len(containers),
            "ContainersRunning": sum(c.status == "running" for c in containers),
            "ContainersPaused": sum(c.status == "paused" for c in containers),
            "ContainersStopped": sum(c.status not in ("running", "paused") for c in containers),
            "Images": len(self.images.list()),
            "Driver": snapshot.probe(os.path.join(self.root, "containers")),
            "DockerRootDir": self.root,
            "RunRoot": self.runroot,
            "ServerVersion": VERSION,
            "KernelVersion": os.uname().release,
            "OperatingSystem": _os_name(),
            "Architecture": os.uname().machine,
            "NCPU": os.cpu_count(),
            # rootless: the id mapping, no cgroups, the user-mode network; else IPv4Forwarding
            # (containers' traffic needs it), firewall table, bridge
            **(self.rootless.info() if self.rootless is not None else self.networks.info()),
        }

    def list_networks(self) -> tuple[list, list[str]]:
        """(every network, warnings): overlay networks other hosts created are joined first."""
        warnings = []
        try:
            self.networks.join_cluster_networks()
        except StoreUnavailable as e:
            warnings.append(str(e))
        return self.networks.listed(), warnings

    def reconcile_networks(self) -> dict:
        """The host's bridges and rules rebuilt from the records; endpoints of containers gone detached."""
        running = {c.id: c for c in self.records.containers()}

        def live(container_id: str) -> bool:
            c = running.get(container_id)
            if c is None or c.status not in ("running", "paused") or not c.pid:
                return False
            return os.path.exists(f"/proc/{c.pid}")

        return self.networks.reconcile(live)


def version() -> dict:
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


def make_private(root: str) -> None:
    """Create the engine root private to root; close one that an older version left open."""
    try:
        mode = os.stat(root).st_mode
    except FileNotFoundError:
        os.makedirs(root, mode=0o700, exist_ok=True)
        for name in PRIVATE_DIRS:
            os.makedirs(os.path.join(root, name), mode=0o700, exist_ok=True)
        return
    if mode & 0o076:  # older versions made it 0711 and the dirs under it 0755: close it, once
        _close_old_root(root)


def _close_old_root(root: str) -> None:
    """Private modes for a root made by an older version. Others keep the x bit where they had it on
    the root and containers/ (a --userns remap container made earlier walks through them to its
    rootfs); image/ and volumes/ lose it, and each volume its old 0701."""
    keep_x = {root: True, os.path.join(root, "containers"): True}
    for name in PRIVATE_DIRS:
        os.makedirs(os.path.join(root, name), mode=0o700, exist_ok=True)
    volumes = os.path.join(root, "volumes")
    dirs = [os.path.join(root, name) for name in PRIVATE_DIRS]
    dirs += [os.path.join(volumes, name) for name in os.listdir(volumes)
             if os.path.isdir(os.path.join(volumes, name)) and not os.path.islink(os.path.join(volumes, name))]
    for path in dirs:
        mode = stat.S_IMODE(os.lstat(path).st_mode)
        os.chmod(path, 0o700 | (mode & stat.S_IXOTH if keep_x.get(path) else 0))
    for suffix in ("", "-wal", "-shm"):
        try:
            os.chmod(os.path.join(root, RECORDS + suffix), 0o600)
        except FileNotFoundError:
            pass
    os.chmod(root, 0o700 | (stat.S_IMODE(os.stat(root).st_mode) & stat.S_IXOTH))  # last: marks it done

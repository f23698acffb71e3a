"""A `--userns remap` container's user namespace, made by the engine and pinned at a path.

The engine creates and wires a container's network namespace before the runtime runs (as CNI
does). A netns made that way belongs to the host's user namespace, and the kernel lets only a
process privileged over a netns's owner mount a sysfs for it: the container would get the host's
/sys. So the engine makes the container's user namespace first, pins it here for the container's
life, creates the netns inside it (network/netns.create's `owner`), and config.json joins both by
path: the container owns its network namespace and mounts its own sysfs, as under runc and crun,
which create the netns after the user namespace.
"""

from __future__ import annotations

import os

# an nsfs pin is made (by a child) and unpinned the same way, whatever its kind
from mydocker.network.netns import is_pinned, pin_from_child, remove
from mydocker.lazy import lazy_module

sc = lazy_module("mydocker.linux.syscalls")

__all__ = ["path_for", "pin", "restore", "is_pinned", "remove"]


def path_for(runroot: str, container_id: str) -> str:
    return os.path.join(runroot, "userns", container_id)


def pin(config: dict, path: str) -> None:
    """Make config.json's new user namespace one pinned at `path`, with config.json's id mappings
    (made unless one is pinned there), and make config.json join it."""
    linux = config["linux"]
    for ns in linux["namespaces"]:
        if ns.get("type") == "user":
            ns["path"] = path
    if not is_pinned(path):
        remove(path)  # the empty file a crash may have left
        _create(path, linux["uidMappings"], linux["gidMappings"])


def restore(config: dict, runroot: str, container_id: str) -> None:
    """Before a start: pin the container's user namespace again if it is gone (/run is a tmpfs:
    after a reboot)."""
    path = path_for(runroot, container_id)
    if any(ns.get("type") == "user" and ns.get("path") == path for ns in config["linux"]["namespaces"]):
        pin(config, path)


def _create(path: str, uid_maps: list[dict], gid_maps: list[dict]) -> None:
    """A child unshares a user namespace; we write its maps (privileged, from outside) and pin it."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444))

    def write_maps(pid: int) -> None:
        for name, maps in (("uid_map", uid_maps), ("gid_map", gid_maps)):
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write("".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in maps))

    try:
        pin_from_child(path, "user", lambda: sc.unshare(sc.CLONE_NEWUSER), OSError(
            "cannot create a user namespace for --userns remap (unshare(CLONE_NEWUSER) failed)"), write_maps)
    except BaseException:
        remove(path)
        raise

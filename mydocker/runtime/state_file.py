"""Per-container runtime state: <runtime root>/<id>/state.json, written atomically.

The directory is created with mkdir, so of two `create`s of one id exactly one wins. The record is
written before each thing it names is created (pid, cgroup paths), so `delete --force` after a
crash at any point can remove everything from the record alone.
"""

from __future__ import annotations

import os
import stat

from mydocker.recordclass import asdict, factory, record
from mydocker import jsonio

from mydocker.errors import Conflict, InvalidArgument, NotFound
# These live in status.py, which `mydocker-runtime state` imports without os
from mydocker.runtime.state_view import (DEFAULT_ROOT, OCI_VERSION, VIEW, oci_state, process_start_time,  # noqa: F401
                                     status, unprivileged, valid_id, view_text)


@record
class State:
    id: str
    bundle: str
    pid: int = 0
    pid_start: int = 0          # the init's start time in clock ticks: guards against pid reuse
    created: str = ""
    annotations: dict = factory(dict)
    cgroup_paths: dict = factory(dict)
    rootfs: str = ""
    paused: bool = False
    hooks: dict = factory(dict)  # poststart and poststop run from `start` and `delete`, after create has gone


def check_id(container_id: str) -> None:
    if not valid_id(container_id):
        raise InvalidArgument(f"invalid container id {container_id!r}: use letters, digits, '_', '.', '+', '-' "
                              "(at most 128, starting with a letter or digit)")


def container_dir(root: str, container_id: str) -> str:
    return os.path.join(root, container_id)


def claim(root: str, container_id: str) -> str:
    """Create the container's state directory; fail if another create has it."""
    check_id(container_id)
    if not unprivileged():
        os.makedirs(root, mode=0o711, exist_ok=True)
    else:
        _own_root(root)
    path = container_dir(root, container_id)
    try:
        os.mkdir(path, 0o711)  # searchable: an init in a user namespace opens its exec fifo here
    except FileExistsError:
        raise Conflict(f"container {container_id} already exists: delete it first or choose another id") from None
    return path


def _own_root(root: str) -> None:
    """An ordinary user's state directory: made 0700 if missing, and refused when it is not the
    user's own directory (a shared /tmp lets anyone make /tmp/mydocker-runtime-<uid> first)."""
    uid = os.geteuid()
    parent = os.path.dirname(os.path.abspath(root))
    os.makedirs(parent, mode=0o700, exist_ok=True)
    try:
        os.mkdir(root, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(root)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid or info.st_mode & 0o022:
        what = "is not a directory" if not stat.S_ISDIR(info.st_mode) else (
            f"belongs to uid {info.st_uid}" if info.st_uid != uid
            else f"is writable by others ({info.st_mode & 0o7777:o})")
        raise InvalidArgument(f"state directory {root} {what}, not to you (uid {uid}) alone: remove it, "
                              "or pass --root with a directory of your own")


def remove_dir(root: str, container_id: str) -> None:
    """Remove the container's state directory (flat: state.json, exec.fifo, temp files)."""
    path = container_dir(root, container_id)
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return
    for name in names:
        try:
            os.unlink(os.path.join(path, name))
        except FileNotFoundError:
            pass
    try:
        os.rmdir(path)
    except FileNotFoundError:  # another forced delete of the same container got there first
        pass


def save(root: str, state: State) -> None:
    """state.json, then the view `mydocker-runtime state` reads (status.VIEW), each written atomically."""
    directory = container_dir(root, state.id)
    for name, text in (("state.json", jsonio.dumps(asdict(state))), (VIEW, view_text(state))):
        path = os.path.join(directory, name)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, path)


def load(root: str, container_id: str) -> State:
    check_id(container_id)
    path = os.path.join(container_dir(root, container_id), "state.json")
    try:
        data = jsonio.load_file(path)
    except FileNotFoundError:
        if os.path.isdir(container_dir(root, container_id)):
            return State(id=container_id, bundle="")  # create died before its first record
        raise NotFound(f"container {container_id} does not exist") from None
    data.pop("started", None)  # written by `start` before it stopped saving (the fifo tells: status())
    return State(**data)


def list_ids(root: str) -> list[str]:
    try:
        return sorted(name for name in os.listdir(root) if valid_id(name))
    except FileNotFoundError:
        return []


def hook_state(state: State, status: str) -> dict:
    """The state hooks get on stdin (the spec's fields only)."""
    return {"ociVersion": OCI_VERSION, "id": state.id, "status": status, "pid": state.pid,
            "bundle": state.bundle, "annotations": state.annotations}

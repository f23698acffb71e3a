"""A container's status, read from the process itself: what `state` prints.

Only builtin modules here (posix), so `mydocker-runtime state` can answer before `os` is imported:
containerd and podman call it after every operation, and `import os` alone is a millisecond.
"""

import posix

OCI_VERSION = "1.0.2"
DEFAULT_ROOT = "/run/mydocker-runtime"  # runc's is /run/runc
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.+-")


def valid_id(name: str) -> bool:
    """[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}, without `re` (its import is on every call's start-up)."""
    return 0 < len(name) <= 128 and name[0].isascii() and name[0].isalnum() and _ID_CHARS.issuperset(name)


def process_start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat, or None when the process is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = data[data.rindex(b")") + 2:].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def status(root: str, state) -> str:
    """created | running | paused | stopped (| creating), from the process, not from the record.

    `state` is anything with the State record's attributes (pid, pid_start, bundle, id, paused)."""
    if state.pid <= 0 or process_start_time(state.pid) != state.pid_start:
        return "stopped" if state.pid > 0 or not state.bundle else "creating"
    try:
        posix.stat(f"{root}/{state.id}/exec.fifo")
        return "created"  # the init still waits on its fifo for `start`
    except FileNotFoundError:
        return "paused" if state.paused else "running"


def oci_state(root: str, state) -> dict:
    """The state of the runtime spec (id, status, pid, bundle, annotations), plus runc's extra fields."""
    current = status(root, state)
    out = {"ociVersion": OCI_VERSION, "id": state.id, "status": current,
           "pid": state.pid if current in ("created", "running", "paused") else 0,
           "bundle": state.bundle, "rootfs": state.rootfs, "created": state.created, "owner": ""}
    if state.annotations:
        out["annotations"] = state.annotations
    return out

"""A container's status, read from the process itself: what `state` prints.

Only builtin modules here (posix), so `mydocker-runtime state` can answer before `os` is imported:
containerd and podman call it after every operation, and `import os` alone is a millisecond.
"""

import posix

OCI_VERSION = "1.0.2"
ROOT_OF_ROOT = "/run/mydocker-runtime"  # runc's is /run/runc
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.+-")


def valid_id(name: str) -> bool:
    """[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}, without `re` (its import is on every call's start-up)."""
    return 0 < len(name) <= 128 and name[0].isascii() and name[0].isalnum() and _ID_CHARS.issuperset(name)


def read_small(path: str) -> bytes:
    """A file's bytes through posix alone (open() builds three io objects per call)."""
    fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    try:
        chunks = [posix.read(fd, 1 << 16)]
        while chunks[-1]:  # one read for /proc files and usual views; big annotations take more
            chunks.append(posix.read(fd, 1 << 16))
        return b"".join(chunks)
    finally:
        posix.close(fd)


def in_user_namespace() -> bool:
    """True inside a user namespace other than the host's (whose uid_map maps all 2^32-1 ids)."""
    try:
        return read_small("/proc/self/uid_map").split() != [b"0", b"0", b"4294967295"]
    except OSError:
        return False


def unprivileged() -> bool:
    """An ordinary user, or root of a user namespace an ordinary user made (podman rootless runs its
    runtime so): not the host's root."""
    return posix.geteuid() != 0 or in_user_namespace()


def default_root() -> str:
    """The state directory without --root: root's under /run; an ordinary user's under
    $XDG_RUNTIME_DIR (runc's $XDG_RUNTIME_DIR/runc; honoured by root too inside a user namespace,
    unless $USER is root, as runc), else /tmp/mydocker-runtime-<uid>, which state.claim makes 0700
    and refuses when someone else owns it. Builtins only (the state fast path)."""
    uid = posix.geteuid()
    runtime_dir = posix.environ.get(b"XDG_RUNTIME_DIR", b"").decode(errors="surrogateescape")
    if uid == 0 and (not runtime_dir or posix.environ.get(b"USER") == b"root" or not in_user_namespace()):
        return ROOT_OF_ROOT
    if runtime_dir.startswith("/"):
        return runtime_dir.rstrip("/") + "/mydocker-runtime"
    return f"/tmp/mydocker-runtime-{uid}"


DEFAULT_ROOT = default_root()


def process_start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat, or None when the process is gone or a zombie."""
    try:
        data = read_small(f"/proc/{pid}/stat")
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


# `state` answered without a JSON parser: every save writes, next to state.json, what `state` would
# print with the two live fields left as markers, after one header line "pid pid_start paused bundle?".
VIEW = "state.view"
_STATUS, _PID = "@@status@@", "@@pid@@"


def view_text(state) -> str:
    """The view file's text for `state` (pretty-printed by the caller's jsonio: see state.save)."""
    from mydocker import jsonio
    shown = dict(oci_state_fields(state), status=_STATUS, pid=_PID)
    return f"{state.pid} {state.pid_start} {int(bool(state.paused))} {int(bool(state.bundle))}\n{jsonio.pretty(shown)}"


class _Live:
    """What status() reads of a record, from a view's header line."""

    def __init__(self, container_id: str, header: str) -> None:
        pid, pid_start, paused, has_bundle = header.split()
        self.id, self.pid, self.pid_start = container_id, int(pid), int(pid_start)
        self.paused, self.bundle = paused == "1", "-" if has_bundle == "1" else ""


def read_live(root: str, container_id: str) -> _Live:
    """What status() needs, from the view's header line (OSError, ValueError when there is none)."""
    header = read_small(f"{root}/{container_id}/{VIEW}").partition(b"\n")[0]
    return _Live(container_id, header.decode())


def render_view(root: str, container_id: str, text: str) -> str:
    """`state`'s output from a view file's text: the live status and pid filled in."""
    header, _, body = text.partition("\n")
    live = _Live(container_id, header)
    current = status(root, live)
    return body.replace(f'"{_STATUS}"', f'"{current}"', 1).replace(f'"{_PID}"', str(_shown_pid(live, current)), 1)


def oci_state_fields(state) -> dict:
    """oci_state's fields in their order, status and pid not yet known."""
    out = {"ociVersion": OCI_VERSION, "id": state.id, "status": "", "pid": 0,
           "bundle": state.bundle, "rootfs": state.rootfs, "created": state.created, "owner": ""}
    if state.annotations:
        out["annotations"] = state.annotations
    return out


def oci_state(root: str, state) -> dict:
    """The state of the runtime spec (id, status, pid, bundle, annotations), plus runc's extra fields."""
    current = status(root, state)
    return dict(oci_state_fields(state), status=current, pid=_shown_pid(state, current))


def _shown_pid(state, current: str) -> int:
    """The init's pid while it lives (created, running, paused); 0 once it is gone."""
    return state.pid if current in ("created", "running", "paused") else 0

"""The engine's event log (`docker events`): one JSON line per event, appended by the verbs that make
them to <runroot>/events.jsonl: containers (create, start, die, stop, kill, pause, unpause, rename,
destroy), images (pull, push, tag, untag, delete, import, load, save), networks (create, connect,
disconnect, destroy) and volumes (create, mount, unmount, destroy), with Docker's actors and attributes.

An O_APPEND write of one short line is atomic among the CLI, the monitors and the API service, so
no lock is taken; a verb never fails because its event could not be written. The log is kept to
about 4 MB: past that it moves to events.jsonl.1 (one generation, like Docker's bounded history).
"""

from __future__ import annotations

import os
import time

from mydocker import jsonio  # not json: `run` writes events, and json's import costs start-up time

LOG = "events.jsonl"
_MAX_BYTES = 4 * 1024 * 1024
FILTER_KEYS = ("type", "container", "event", "image", "label", "network", "volume", "scope")
_PROPAGATIONS = ("private", "shared", "slave")


def emit(runroot: str, kind: str, action: str, actor: str, attributes: dict | None = None) -> None:
    ns = time.time_ns()
    attrs = {k: str(v) for k, v in (attributes or {}).items()}
    doc = {"Type": kind, "Action": action, "Actor": {"ID": actor, "Attributes": attrs}, "scope": "local",
           "time": ns // 1_000_000_000, "timeNano": ns}
    if kind in ("container", "image"):  # the fields of Docker's older event format, which clients still read
        doc.update(status=action, id=actor, **({"from": attrs["image"]} if kind == "container" and "image" in attrs
                                               else {}))
    path = os.path.join(runroot, LOG)
    try:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:  # a fresh run root: an image or volume verb can come before any container
            os.makedirs(runroot, mode=0o700, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, jsonio.dumps(doc).encode() + b"\n")
            if os.fstat(fd).st_size > _MAX_BYTES:
                os.replace(path, path + ".1")
        finally:
            os.close(fd)
    except OSError:
        pass  # an event is not worth failing the verb over


def container(runroot: str, rec, action: str, **extra) -> None:
    """A container's event, with Docker's attributes: name, image, its labels, and `extra` (exitCode...)."""
    labels = (rec.config or {}).get("Labels") or {}
    emit(runroot, "container", action, rec.id, {**labels, "image": rec.image, "name": rec.name, **extra})


def image(runroot: str, action: str, actor: str, name: str, labels: dict | None = None) -> None:
    """An image's event as Docker logs it: the actor is the image id (a name for pull and push), the
    attributes its labels and `name` (the tag made for a tag, the id for untag and delete)."""
    emit(runroot, "image", action, actor, {**(labels or {}), "name": name})


def network(runroot: str, action: str, net, **extra) -> None:
    """A network's event: its id, with its name and driver (`type`), and `extra` (container=<id>)."""
    emit(runroot, "network", action, net.id, {"name": net.name, "type": net.driver, **extra})


def volume(runroot: str, action: str, name: str, **extra) -> None:
    emit(runroot, "volume", action, name, {"driver": "local", **extra})


def volume_mounts(runroot: str, volumes_dir: str, container_id: str, mounts: list[dict], action: str) -> None:
    """Docker's `mount` (each start) or `unmount` (each stop) event of each volume among a container's
    config.json mounts (those whose source is <volumes_dir>/<name>/_data)."""
    prefix = volumes_dir.rstrip("/") + "/"
    for m in mounts:
        source = m.get("source", "")
        if not (source.startswith(prefix) and source.endswith("/_data")):
            continue
        extra = {"container": container_id}
        if action == "mount":
            options = m.get("options") or []
            extra.update({"destination": m.get("destination", ""), "read/write": str("ro" not in options).lower(),
                          "propagation": next((o for o in options if o.endswith(_PROPAGATIONS) and o != "rprivate"),
                                              "")})
        volume(runroot, action, source[len(prefix):-len("/_data")], **extra)


def matches(doc: dict, filters: dict[str, list[str]]) -> bool:
    """Docker's event filters: values of one key are alternatives, keys must all match. container,
    network and volume match an actor's id or name by prefix (of any type, as Docker's: type= narrows
    it); image the id or the name, with or without its tag; label the actor's attributes."""
    actor = doc.get("Actor") or {}
    attrs = actor.get("Attributes") or {}
    for key, values in filters.items():
        if not values:
            continue
        if key == "type" and doc.get("Type") not in values:
            return False
        if key == "event" and doc.get("Action") not in values:
            return False
        if key == "scope" and doc.get("scope") not in values:
            return False
        if key in ("container", "network", "volume") and not any(  # Docker's: on any actor, whatever its type
                actor.get("ID", "").startswith(v) or attrs.get("name", "").startswith(v) for v in values):
            return False
        if key == "image" and not _image_matches(doc, values):
            return False
        if key == "label" and not all(_label_matches(attrs, v) for v in values):
            return False
    return True


def _image_matches(doc: dict, values: list[str]) -> bool:
    """An image event's id or name, or a container event's image, with or without its tag."""
    actor = doc.get("Actor") or {}
    name = (actor.get("Attributes") or {}).get("name" if doc.get("Type") == "image" else "image", "")
    candidates = {c for c in (actor.get("ID", ""), name) if c}
    return any(v in candidates or v in {_strip_tag(c) for c in candidates} for v in values)


def _strip_tag(name: str) -> str:
    """busybox:latest, docker.io/library/busybox@sha256:... -> busybox (Docker's familiar name)."""
    if name.startswith("sha256:"):
        return name
    name = name.partition("@")[0]
    if ":" in name.rpartition("/")[2]:
        name = name.rsplit(":", 1)[0]
    if name.startswith("docker.io/"):
        name = name[len("docker.io/"):]
        if name.startswith("library/") and name.count("/") == 1:
            name = name[len("library/"):]
    return name


def _label_matches(attrs: dict, text: str) -> bool:
    key, eq, value = text.partition("=")
    return key in attrs and (not eq or attrs[key] == value)


def read(runroot: str, write, since_ns: int | None = None, until_ns: int | None = None,
         filters: dict[str, list[str]] | None = None, follow: bool = True, poll: float = 0.1, alive=None) -> None:
    """Past events from `since_ns` (none without it), then, with `follow`, new ones as they are
    appended, until `until_ns` passes; each to `write(doc)`. The caller stops a follow by raising
    from `write`, by `until_ns`, or by `alive()` turning false."""
    filters = filters or {}
    path = os.path.join(runroot, LOG)
    start = time.time_ns()
    offset = 0
    if since_ns is None:
        try:
            offset = os.stat(path).st_size  # only what happens from now on
        except FileNotFoundError:
            offset = 0
    else:
        for doc in _lines(path + ".1", 0)[0]:
            _deliver(doc, write, since_ns, until_ns, filters)
    inode = _inode(path)
    while True:
        docs, offset = _lines(path, offset)
        for doc in docs:
            _deliver(doc, write, since_ns, until_ns, filters)
        now = time.time_ns()
        if not follow or (until_ns is not None and now >= until_ns) or (since_ns is not None and until_ns is not None
                                                                          and until_ns <= start):
            return
        time.sleep(poll)
        if alive is not None and not alive():
            return
        if _inode(path) != inode:  # moved to .1: the rest of the old file, then the new one from its start
            docs, _ = _lines(path + ".1", offset)
            for doc in docs:
                _deliver(doc, write, since_ns, until_ns, filters)
            inode, offset = _inode(path), 0


def exit_code(runroot: str, container_id: str, since_ns: int) -> int | None:
    """The exit code of the container's last die event since `since_ns`; None if it told none."""
    found: list[dict] = []
    read(runroot, found.append, since_ns, filters={"container": [container_id], "event": ["die"]}, follow=False)
    codes = [doc["Actor"]["Attributes"].get("exitCode", "") for doc in found if doc["Actor"].get("ID") == container_id]
    return int(codes[-1]) if codes and codes[-1].lstrip("-").isdigit() else None


def _deliver(doc: dict, write, since_ns, until_ns, filters) -> None:
    stamp = doc.get("timeNano", 0)
    if since_ns is not None and stamp < since_ns:
        return
    if until_ns is not None and stamp > until_ns:
        return
    if matches(doc, filters):
        write(doc)


def _inode(path: str) -> int:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return 0


def _lines(path: str, offset: int) -> tuple[list[dict], int]:
    """The complete lines from `offset` on, and the offset after the last one."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1
    docs = []
    for line in data[:end].splitlines():
        try:
            docs.append(jsonio.loads(line))
        except ValueError:
            continue  # a torn line (a crash mid-write): skipped
    return docs, offset + end

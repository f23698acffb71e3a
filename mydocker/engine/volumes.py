"""Volumes: `-v /host:/ctr[:ro]` bind mounts, named and anonymous volumes under <root>/volumes.

Tables (created here on the shared connection):
    volumes(name, created, anonymous, labels)
    volume_users(volume, container)   which containers mount which volume

A volume is in use while a container that mounts it still exists (the join with `containers`
decides, so a container removed without `release` frees its volumes too). A new or empty volume
is first filled with what the image has at the mount point, as Docker does.
"""

from __future__ import annotations

import os

from mydocker.engine.names import valid_name as _valid_name
from mydocker.engine.database import Records
from mydocker.errors import Conflict, InvalidArgument, NotFound
from mydocker.recordclass import factory, record
from mydocker import jsonio  # the C codec alone: `import json` brings re and enum
from mydocker.lazy import lazy_module

database = lazy_module("mydocker.engine.database")
fs = lazy_module("mydocker.linux.fs")
engine_labels = lazy_module("mydocker.engine.labels")
api = lazy_module("mydocker.runtime.api")
engine_mounts = lazy_module("mydocker.engine.mounts")
snapshot = lazy_module("mydocker.image.snapshot")
events = lazy_module("mydocker.engine.events")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS volumes (name TEXT PRIMARY KEY, created TEXT NOT NULL, "
    "anonymous INTEGER NOT NULL DEFAULT 0, labels TEXT NOT NULL DEFAULT '{}')",
    "CREATE TABLE IF NOT EXISTS volume_users (volume TEXT NOT NULL, container TEXT NOT NULL, "
    "PRIMARY KEY (volume, container))",
)

_MODES = {"ro", "rw", "z", "Z", "nocopy", "private", "rprivate", "shared", "rshared", "slave", "rslave"}


@record
class VolumeSpec:
    """One `-v` argument, parsed."""
    kind: str            # bind | volume
    source: str          # host path for bind; volume name ("" = anonymous) for volume
    destination: str
    readonly: bool = False
    copy: bool = True    # fill a new volume from the image (not with `nocopy`)
    propagation: str = "rprivate"
    labels: dict = factory(dict)    # of a volume this mount creates (--mount volume-label=)


def parse_spec(text: str) -> VolumeSpec:
    """`/host:/ctr[:opts]`, `name:/ctr[:opts]` or `/ctr` (an anonymous volume)."""
    parts = text.split(":")
    if len(parts) == 1:
        source, dest, mode = "", parts[0], ""
    elif len(parts) == 2 and (parts[1].startswith("/") or not parts[0].startswith("/")):
        source, dest, mode = parts[0], parts[1], ""
    elif len(parts) == 2:
        source, dest, mode = "", parts[0], parts[1]
    elif len(parts) == 3:
        source, dest, mode = parts
    else:
        raise InvalidArgument(f"invalid volume specification {text!r}: use /host/path:/container/path[:ro], "
                              "name:/container/path[:ro] or /container/path")
    if not dest.startswith("/"):
        raise InvalidArgument(f"invalid volume specification {text!r}: the container path {dest!r} "
                              "must be absolute")
    if os.path.normpath(dest) == "/":
        raise InvalidArgument(f"invalid volume specification {text!r}: the destination cannot be /")
    options = [o for o in mode.split(",") if o]
    bad = [o for o in options if o not in _MODES]
    if bad:
        raise InvalidArgument(f"invalid mode {bad[0]!r} in volume specification {text!r}: use ro, rw or nocopy")
    propagation = next((o for o in options if "private" in o or "shared" in o or "slave" in o), "rprivate")
    if source.startswith("/") or source.startswith("."):
        kind = "bind"
    else:
        kind = "volume"
        if source and not _valid_name(source):
            raise InvalidArgument(f"invalid volume name {source!r}: use letters, digits and _ . - "
                                  "(at least two characters), or an absolute host path for a bind mount")
    return VolumeSpec(kind, source, os.path.normpath(dest), "ro" in options, "nocopy" not in options, propagation)


def spec_from_mount(mount) -> VolumeSpec:
    """A bind or volume `--mount` (options.Mount, checked by engine/mounts.py) as a VolumeSpec."""
    if mount.type == "volume" and mount.source and not _valid_name(mount.source):
        raise InvalidArgument(f'invalid mount config for type "volume": invalid volume name {mount.source!r}: '
                              "use letters, digits and _ . - (at least two characters)")
    return VolumeSpec(mount.type, mount.source, os.path.normpath(mount.target), mount.readonly,
                      not mount.volume_nocopy, mount.bind_propagation or "rprivate", labels=dict(mount.volume_labels))


class VolumeService:
    def __init__(self, records: Records, root: str, runroot: str = "") -> None:
        self.records = records
        self.runroot = runroot  # where the event log is ("": no events)
        self.db = records.db
        self.dir = os.path.join(root, "volumes")
        for statement in _SCHEMA:
            self.db.execute(statement)

    def data_dir(self, name: str) -> str:
        return os.path.join(self.dir, name, "_data")

    # the `volume` commands

    def create(self, name: str | None = None, labels: dict | None = None, anonymous: bool = False) -> str:
        """Create a volume (idempotent for an existing name, as Docker's)."""
        if name is None:
            name, anonymous = os.urandom(32).hex(), True
        if not _valid_name(name):
            raise InvalidArgument(f"invalid volume name {name!r}: use letters, digits and _ . - "
                                  "(at least two characters)")
        with self.records.transaction():
            made = self.db.execute("INSERT OR IGNORE INTO volumes VALUES (?,?,?,?)",
                                   (name, database.now(), int(anonymous), jsonio.dumps(labels or {}))).rowcount
        os.makedirs(self.data_dir(name), mode=0o755, exist_ok=True)
        os.chmod(os.path.join(self.dir, name), 0o700)  # a --userns remap container that mounts it adds o+x
        if made and self.runroot:
            events.volume(self.runroot, "create", name)
        return name

    def exists(self, name: str) -> bool:
        return self.db.execute("SELECT 1 FROM volumes WHERE name=?", (name,)).fetchone() is not None

    def inspect(self, name: str) -> dict:
        row = self.db.execute("SELECT name, created, anonymous, labels FROM volumes WHERE name=?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"no such volume: {name} (`mydocker volume ls` lists them)")
        return {"CreatedAt": row[1], "Driver": "local", "Labels": jsonio.loads(row[3]) or None,
                "Mountpoint": self.data_dir(row[0]), "Name": row[0], "Options": None, "Scope": "local",
                "Anonymous": bool(row[2]), "UsedBy": self.users(row[0])}

    def list(self) -> list[dict]:
        return [self.inspect(r[0]) for r in self.db.execute("SELECT name FROM volumes ORDER BY name").fetchall()]

    def users(self, name: str) -> list[str]:
        """Names of the existing containers that mount the volume."""
        return [r[0] for r in self.db.execute(
            "SELECT c.name FROM volume_users u JOIN containers c ON c.id = u.container WHERE u.volume=?", (name,))]

    def remove(self, name: str, force: bool = False) -> None:
        if not self.exists(name):
            if force:
                return
            raise NotFound(f"no such volume: {name} (`mydocker volume ls` lists them)")
        users = self.users(name)
        if users:
            raise Conflict(f"volume {name} is in use by container {users[0]}: remove that container first")
        self._delete(name)

    def _delete(self, name: str) -> None:
        with self.records.transaction():
            self.db.execute("DELETE FROM volumes WHERE name=?", (name,))
            self.db.execute("DELETE FROM volume_users WHERE volume=?", (name,))
        path = os.path.join(self.dir, name)
        if os.path.isdir(path):
            doomed = os.path.join(self.dir, f".remove-{name}")
            os.rename(path, doomed)
            fs.remove_tree(doomed)
        if self.runroot:
            events.volume(self.runroot, "destroy", name)

    def prune(self, all_volumes: bool = False, labels: list[str] | None = None) -> list[str]:
        """Remove unused anonymous volumes (named ones too with `all_volumes`), as Docker 23+; with
        `labels` (label=k, label=k=v filters) only those whose labels match."""
        removed = []
        for name, text in self.db.execute("SELECT name, labels FROM volumes WHERE anonymous=1 OR ?",
                                          (int(all_volumes),)).fetchall():
            if engine_labels.labels_match(jsonio.loads(text), labels or []) and not self.users(name):
                self._delete(name)
                removed.append(name)
        return removed

    # the container hooks

    def mounts_for(self, container_id: str, specs: list[str], rootfs: str,
                   image_volumes: dict | None = None, more: list[VolumeSpec] = (),
                   taken_by_tmpfs: set = frozenset()) -> list[dict]:
        """OCI mounts for a new container's `-v` arguments, its bind and volume `--mount`s (`more`,
        parsed) and its image's VOLUMEs (not where a tmpfs goes).

        Call after the container's record exists and its rootfs is mounted, before config.json
        is written: named volumes are created on demand and filled from the image."""
        parsed = [parse_spec(s) for s in specs] + list(more)
        taken = {p.destination for p in parsed}
        if len(taken) != len(parsed) or taken & taken_by_tmpfs:
            raise InvalidArgument("two mounts have the same container path: give each -v, --mount and --tmpfs "
                                  "its own destination")
        taken |= taken_by_tmpfs
        parsed += [VolumeSpec("volume", "", os.path.normpath(d)) for d in (image_volumes or {})
                   if os.path.normpath(d) not in taken]
        mounts = []
        for spec in parsed:
            if spec.kind == "bind":
                source = os.path.abspath(spec.source)
                if not os.path.exists(source):  # Docker makes it for -v (--mount type=bind refuses instead)
                    os.makedirs(source, mode=0o755)
            else:
                fresh = not spec.source or not self.exists(spec.source)
                name = self.create(spec.source or None, labels=spec.labels)
                with self.records.transaction():
                    self.db.execute("INSERT OR IGNORE INTO volume_users VALUES (?,?)", (name, container_id))
                source = self.data_dir(name)
                inside = api.secure_join(rootfs, spec.destination)
                if spec.copy and (fresh or not os.listdir(source)) and os.path.isdir(inside):
                    snapshot.copy_layer(inside, source)
                    st = os.stat(inside)
                    os.chown(source, st.st_uid, st.st_gid)
                    os.chmod(source, st.st_mode & 0o7777)
            options = ["rbind", spec.propagation]
            if spec.readonly:  # read-only through and through, submounts too (Docker 25+)
                options += ["ro", "rro"]
            mounts.append({"destination": spec.destination, "type": "bind", "source": source, "options": options})
        return mounts

    def release(self, container_id: str, remove_anonymous: bool = False) -> None:
        """The container is going away: it no longer uses its volumes; with `remove_anonymous`
        (`rm -v`, `run --rm`) its anonymous volumes are deleted. Named volumes are always kept."""
        rows = self.db.execute("SELECT u.volume, v.anonymous FROM volume_users u JOIN volumes v ON v.name = u.volume "
                               "WHERE u.container=?", (container_id,)).fetchall()
        with self.records.transaction():
            self.db.execute("DELETE FROM volume_users WHERE container=?", (container_id,))
        if remove_anonymous:
            for name, anonymous in rows:
                if anonymous and not self.users(name):
                    self._delete(name)


def for_container(records: Records, containers_dir: str, container_id: str, opts, image_config: dict,
                  rootfs: str, runroot: str = "") -> list[dict]:
    """The hook `ContainerService.run` calls before writing config.json: mounts for `-v`, `--mount`,
    `--tmpfs` and VOLUMEs."""
    specs = getattr(opts, "volumes", None) or []
    image_volumes = (image_config.get("config") or {}).get("Volumes")
    more, tmpfs = [], []
    if getattr(opts, "mounts", None) or getattr(opts, "tmpfs", None):
        others, tmpfs = engine_mounts.for_container(opts)
        more = [spec_from_mount(m) for m in others]
    if not specs and not image_volumes and not more:
        return tmpfs
    service = VolumeService(records, os.path.dirname(containers_dir), runroot)
    return service.mounts_for(container_id, specs, rootfs, image_volumes, more,
                              {m["destination"] for m in tmpfs}) + tmpfs


# internal bind mounts the engine makes (the network's /etc files): Docker's Mounts leaves them out
_ENGINE_FILES = {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"}


def docker_mounts(spec_mounts: list[dict], root: str) -> list[dict]:
    """Docker's Mounts of a container from its config.json `mounts` (engine root `root`): the user's
    binds and volumes (named and anonymous), not the engine's own files."""
    volumes = os.path.join(root, "volumes") + os.sep
    out = []
    for m in spec_mounts:
        options, source, dest = m.get("options") or [], m.get("source", ""), m.get("destination", "")
        if m.get("type") != "bind" and "bind" not in options and "rbind" not in options:
            continue
        rw = "ro" not in options
        if source.startswith(volumes) and source.endswith(os.sep + "_data"):
            out.append({"Type": "volume", "Name": source[len(volumes):-len("/_data")], "Source": source,
                        "Destination": dest, "Driver": "local", "Mode": "z", "RW": rw, "Propagation": ""})
        elif not (dest in _ENGINE_FILES and source.startswith(root + os.sep)):
            propagation = next((o for o in options if o.endswith(("private", "shared", "slave"))), "rprivate")
            out.append({"Type": "bind", "Source": source, "Destination": dest, "Mode": "ro" if not rw else "",
                        "RW": rw, "Propagation": propagation})
    return out


def release_container(records: Records, containers_dir: str, container_id: str, remove_anonymous: bool,
                      runroot: str = "") -> None:
    """The hook for container removal (`rm`, `rm -v`, `run --rm`)."""
    VolumeService(records, os.path.dirname(containers_dir), runroot).release(container_id, remove_anonymous)

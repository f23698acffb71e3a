"""Images as the engine sees them: names in the records, content in the image store.

Tables (created here on the shared connection):
    images(manifest, config, created)   every image in the store, tagged or not
    image_tags(name, manifest, created) canonical name -> manifest digest (records.py makes it)

What an image or layer is needed by is computed from the records on each removal (tags and
containers referencing a manifest; manifests referencing layers), never kept as counters that a
crash could leave wrong: `rmi` refuses an image a container uses, and a blob or unpacked layer
goes only when no remaining image lists it.
"""

from __future__ import annotations

import os

from mydocker.engine.database import Records, now  # noqa: F401 - now: build and overlay take it from here
from mydocker.errors import Conflict, InvalidArgument, NoSuchImage, NotFound
from mydocker import jsonio
from mydocker.image import reference
from mydocker.image.store import ImageStore
from mydocker.recordclass import record
from mydocker.lazy import lazy_module

busybox = lazy_module("mydocker.image.busybox")
_copy = lazy_module("copy")
config_changes = lazy_module("mydocker.image.changes")
image_store = lazy_module("mydocker.image.store")
diff = lazy_module("mydocker.image.diff")
image_layer = lazy_module("mydocker.image.layer")
archive = lazy_module("mydocker.image.archive")
snapshot = lazy_module("mydocker.image.snapshot")
sc = lazy_module("mydocker.linux.syscalls")
shutil = lazy_module("shutil")
tarfile = lazy_module("tarfile")
distribution = lazy_module("mydocker.engine.distribution")
events = lazy_module("mydocker.engine.events")

BUSYBOX = "docker.io/library/busybox:latest"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (manifest TEXT PRIMARY KEY, config TEXT NOT NULL, created TEXT NOT NULL)
"""


def empty_config() -> dict:
    """The OCI image config of an image with no layers yet (FROM scratch, import)."""
    return {"architecture": "amd64" if os.uname().machine == "x86_64" else os.uname().machine,
            "os": "linux", "config": {}, "rootfs": {"type": "layers", "diff_ids": []}, "history": []}


@record
class Image:
    name: str                 # canonical reference (or the id for an untagged image)
    manifest_digest: str
    config: dict              # the OCI image config (its "config" holds Env, Cmd, ...)
    layer_dirs: list[str]     # unpacked, bottom to top


class ImageService:
    def __init__(self, records: Records, store: ImageStore, runroot: str = "") -> None:
        self.records = records
        self.store = store
        self.runroot = runroot  # where the event log is ("": no events, as for a throwaway service)
        self.db = records.db
        self.db.execute(_SCHEMA)
        self.reclaimed = 0  # bytes of the blobs this service deleted (prune's SpaceReclaimed)

    # lookup

    def resolve(self, name: str) -> tuple[str, str | None]:
        """(manifest digest, canonical name or None) for a name, an image id or id prefix, or a digest."""
        text = name.removeprefix("sha256:")
        if 4 <= len(text) <= 64 and all(c in "0123456789abcdef" for c in text):
            rows = self.db.execute(
                "SELECT manifest, config, (SELECT COUNT(*) FROM image_tags t WHERE t.manifest=images.manifest) "
                "FROM images WHERE config LIKE ? OR manifest LIKE ? ORDER BY 3 DESC, created DESC",
                (f"sha256:{text}%", f"sha256:{text}%")).fetchall()
            if len({r[1] for r in rows}) > 1:
                raise InvalidArgument(f"image id prefix {text} is ambiguous: give more characters")
            if rows:  # one image id; of its manifests (e.g. gzip and plain), the tagged one
                return rows[0][0], None
        ref = reference.parse(name)
        canonical = str(ref)
        if ref.digest and not ref.tag:
            row = self.db.execute("SELECT manifest FROM images WHERE manifest=?", (ref.digest,)).fetchone()
            if row:
                return row[0], None
        manifest = self.records.image_for(canonical)
        if manifest is None and canonical == BUSYBOX:
            manifest = self.provision_busybox()
        if manifest is None:
            raise NoSuchImage(f"image {ref.familiar} not found locally: load, import or build it first "
                           "(`mydocker images` lists what is here)")
        return manifest, canonical

    def get(self, name: str, progress=None, pull: bool = True) -> Image:
        """The image called `name`, its layers unpacked; busybox is built from the host on first use,
        anything else missing is pulled (as Docker's run does; not with `pull` False), telling
        `progress` how it goes."""
        try:
            manifest, canonical = self.resolve(name)
        except NoSuchImage:
            if not pull:
                raise
            manifest, canonical = distribution.pull_missing(self, name, progress)
        return self._load(canonical or manifest, manifest)

    def provision_busybox(self) -> str:
        digest, size = busybox.build_image(self.store)
        self.register(digest, [BUSYBOX])
        return digest

    def _load(self, canonical: str, manifest_digest: str) -> Image:
        manifest, config, dirs = self.store.image_layers(manifest_digest)
        self.unpack(manifest, config)
        return Image(canonical, manifest_digest, config, dirs)

    def unpack(self, manifest: dict, config: dict) -> None:
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        if len(diff_ids) != len(manifest["layers"]):
            raise InvalidArgument("the image's manifest and config disagree on its layers: remove and reload it")
        if not all(map(self.store.has_layer, diff_ids)):
            for layer, diff_id in zip(manifest["layers"], diff_ids):
                self.store.unpack_layer(layer["digest"], diff_id,
                                        lambda path, target, d=diff_id: image_layer.apply_layer(path, target, d))

    def admit(self, manifest_digests: list[str]) -> None:
        """Unpack the layers of images a load brings, before they are recorded: a layer that cannot
        be applied is refused now, not at the first `run`, and the refused images leave nothing
        (what they brought that no recorded image needs is deleted)."""
        try:
            for digest in manifest_digests:
                manifest = self.store.read_json(digest)
                self.unpack(manifest, self.store.read_json(manifest["config"]["digest"]))
        except BaseException:
            known = {row[0] for row in self.db.execute("SELECT manifest FROM images")}
            for digest in manifest_digests:
                if digest not in known:
                    self._forget_unrecorded(digest)
            raise

    def _forget_unrecorded(self, manifest_digest: str) -> None:
        """Delete an image that was never recorded: its blobs and layers that no recorded image needs."""
        try:
            manifest = self.store.read_json(manifest_digest)
            config_digest = manifest["config"]["digest"]
            layers = [layer["digest"] for layer in manifest["layers"]]
        except (NotFound, KeyError, TypeError):
            self.store.remove_blob(manifest_digest)
            return
        try:
            diff_ids = (self.store.read_json(config_digest).get("rootfs") or {}).get("diff_ids") or []
        except NotFound:
            diff_ids = []
        self.sweep([*layers, config_digest, manifest_digest], diff_ids)

    # records

    def register(self, manifest_digest: str, names: list[str], created: str | None = None) -> None:
        """Record an image whose blobs are in the store, and point `names` at it (moving tags)."""
        manifest = self.store.read_json(manifest_digest)
        created = created or now()
        with self.records.transaction():
            self.db.execute("INSERT OR IGNORE INTO images VALUES (?,?,?)",
                            (manifest_digest, manifest["config"]["digest"], created))
            for name in names:
                self.db.execute("INSERT OR REPLACE INTO image_tags VALUES (?,?,?)", (name, manifest_digest, created))
        self._sync_index()

    def _sync_index(self) -> None:
        tags: dict[str, list[str]] = {}
        for name, manifest in self.db.execute("SELECT name, manifest FROM image_tags ORDER BY name"):
            tags.setdefault(manifest, []).append(name)
        entries = []
        for (manifest,) in self.db.execute("SELECT manifest FROM images ORDER BY created"):
            size = os.path.getsize(self.store.blob_path(manifest)) if self.store.has_blob(manifest) else 0
            entries += [(manifest, size, name) for name in tags.get(manifest) or [None]]
        self.store.write_index(entries)

    def _tags_of(self, manifest: str) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT name FROM image_tags WHERE manifest=? ORDER BY name",
                                              (manifest,))]

    def _users(self, manifest: str) -> list[str]:
        """Names of containers created from this image."""
        return [c.name for c in self.records.containers() if c.image_id == manifest]

    # commands

    def list(self, all_images: bool = True) -> list[dict]:
        """One row per tag (and one per untagged image): repository, tag, id, created, size."""
        rows = []
        tagged_configs = {r[0] for r in self.db.execute(
            "SELECT DISTINCT config FROM images JOIN image_tags ON image_tags.manifest=images.manifest")}
        intermediates = set() if all_images else self._parents()
        for manifest, config_digest, created in self.db.execute(
                "SELECT manifest, config, created FROM images ORDER BY created DESC").fetchall():
            info = self._summary(manifest, config_digest, created)
            tags = self._tags_of(manifest)
            if not tags and config_digest in tagged_configs:
                continue  # another manifest of the same image (say, compressed) carries its names
            if not tags and not all_images and manifest in intermediates:
                continue  # an untagged image with children (a build step's): shown with -a only, as Docker does
            for name in tags or [None]:
                ref = reference.parse(name) if name else None
                rows.append(dict(info, Repository=ref.familiar_repository if ref else "<none>",
                                 Tag=(ref.tag or "<none>") if ref else "<none>"))
        return rows

    def _parents(self) -> set[str]:
        """Manifests of images another image is built on (its history and layers start with theirs):
        Docker's intermediate images, as opposed to dangling ones (untagged, without children)."""
        whole, prefixes = {}, set()
        for manifest, config_digest in self.db.execute("SELECT manifest, config FROM images").fetchall():
            config = self.store.read_json(config_digest)
            history, diff_ids = config.get("history") or [], config["rootfs"]["diff_ids"]
            signatures, layers = [], 0
            for entry in history:  # the signature of each first-k-steps image this one contains
                layers += not entry.get("empty_layer")
                signatures.append(jsonio.dumps([history[:len(signatures) + 1], diff_ids[:layers]]))
            if signatures:
                whole[manifest] = signatures[-1]
                prefixes.update(signatures[:-1])
        return {m for m, signature in whole.items() if signature in prefixes}

    def labels_of(self, config_digest: str) -> dict:
        """The labels of an image (by its id, the config digest): `images -f label=`."""
        return (self.store.read_json(config_digest).get("config") or {}).get("Labels") or {}

    def _summary(self, manifest_digest: str, config_digest: str, created: str) -> dict:
        manifest = self.store.read_json(manifest_digest)
        config = self.store.read_json(config_digest)
        size = sum(layer.get("size", 0) for layer in manifest.get("layers", []))
        return {"ID": config_digest, "Manifest": manifest_digest, "Created": config.get("created") or created,
                "Size": size}

    def tag(self, source: str, target: str) -> str:
        manifest, _ = self.resolve(source)
        canonical = str(reference.parse(target))
        if reference.parse(target).digest:
            raise InvalidArgument(f"cannot tag with a digest ({target}): give repository[:tag]")
        self.register(manifest, [canonical])
        self.event("tag", manifest, name=reference.parse(canonical).familiar)
        return canonical

    def event(self, action: str, manifest: str, name: str | None = None, actor: str | None = None) -> None:
        """Docker's image event (engine/events.py) about the image `manifest`: its id is the actor and
        the name unless told otherwise; its labels go with it while it exists."""
        if not self.runroot:
            return
        try:
            image_id = self.store.read_json(manifest)["config"]["digest"]
            labels = self.labels_of(image_id)
        except (NotFound, OSError, KeyError, ValueError):  # deleted already: the id recorded is all there is
            row = self.db.execute("SELECT config FROM images WHERE manifest=?", (manifest,)).fetchone()
            image_id, labels = row[0] if row else manifest, {}
        events.image(self.runroot, action, actor or image_id, name or image_id, labels)

    def remove(self, name: str, force: bool = False) -> list[str]:
        """Untag `name`; delete the image when no tag is left. Returns Docker's Untagged/Deleted lines."""
        manifest, canonical = self.resolve(name)
        tags = self._tags_of(manifest)
        users = self._users(manifest)
        lines = []
        by_id = canonical is None
        if by_id and len(tags) > 1 and not force:
            raise Conflict(f"image {name} is referenced by several names ({', '.join(self._familiar(tags))}): "
                           "remove them by name, or use -f")
        if users and (len(tags) <= 1 or by_id) and not force:
            raise Conflict(f"image {name} is in use by container {users[0]}: remove the container first "
                           "(or use -f to untag it)")
        untag = tags if by_id else [canonical]
        with self.records.transaction():
            for tag in untag:
                self.db.execute("DELETE FROM image_tags WHERE name=?", (tag,))
        lines += [f"Untagged: {n}" for n in self._familiar(untag)]
        for _tag in untag:
            self.event("untag", manifest)
        if not self._tags_of(manifest) and not users:
            image_id = self.db.execute("SELECT config FROM images WHERE manifest=?", (manifest,)).fetchone()
            lines += self._delete(manifest)
            if self.runroot:
                events.image(self.runroot, "delete", image_id[0] if image_id else manifest,
                             image_id[0] if image_id else manifest)
        self._sync_index()
        return lines

    @staticmethod
    def _familiar(names: list[str]) -> list[str]:
        return [reference.parse(n).familiar for n in names]

    def _delete(self, manifest_digest: str) -> list[str]:
        """Forget an image and delete every blob and unpacked layer no remaining image needs."""
        with self.records.transaction():
            row = self.db.execute("SELECT config FROM images WHERE manifest=?", (manifest_digest,)).fetchone()
            self.db.execute("DELETE FROM images WHERE manifest=?", (manifest_digest,))
        try:
            manifest, config, _ = self.store.image_layers(manifest_digest)
        except NotFound:
            return [f"Deleted: {row[0] if row else manifest_digest}"]
        blobs = [*(layer["digest"] for layer in manifest["layers"]), manifest["config"]["digest"], manifest_digest]
        deleted = self.sweep(blobs, config["rootfs"]["diff_ids"])
        return [f"Deleted: {manifest['config']['digest']}", *(f"Deleted: {d}" for d in deleted)]

    def sweep(self, blobs: list[str], diff_ids: list[str]) -> list[str]:
        """Delete the blobs and unpacked layers named that no recorded image needs; return the
        diff ids of the layers deleted."""
        needed_blobs, needed_layers = set(), set()
        for (other,) in self.db.execute("SELECT manifest FROM images").fetchall():
            manifest, config, _ = self.store.image_layers(other)
            needed_blobs.update([other, manifest["config"]["digest"], *(l["digest"] for l in manifest["layers"])])
            needed_layers.update(config["rootfs"]["diff_ids"])
        for digest in blobs:
            if digest not in needed_blobs:
                try:
                    self.reclaimed += os.path.getsize(self.store.blob_path(digest))
                except OSError:
                    pass  # gone already: nothing reclaimed
                self.store.remove_blob(digest)
        deleted = []
        for diff_id in dict.fromkeys(diff_ids):
            if diff_id not in needed_layers:
                self.store.remove_layer(diff_id)
                deleted.append(diff_id)
        return deleted

    def prune(self, all_images: bool = False) -> list[str]:
        """Delete dangling images (untagged, no image built on them), then the untagged parents that
        leaves childless, as Docker's prune; with `all_images`, every image no container uses. The
        steps under a tagged image stay: they are the build cache."""
        used = {c.image_id for c in self.records.containers()}
        lines: list[str] = []
        while True:
            parents = set() if all_images else self._parents()
            doomed = [m for (m,) in self.db.execute("SELECT manifest FROM images").fetchall()
                      if m not in used and m not in parents and (all_images or not self._tags_of(m))]
            if not doomed:
                break
            for manifest in doomed:
                tags = self._tags_of(manifest)
                with self.records.transaction():
                    self.db.execute("DELETE FROM image_tags WHERE manifest=?", (manifest,))
                lines += [f"untagged: {n}" for n in self._familiar(tags)]
                lines += [line.replace("Deleted", "deleted") for line in self._delete(manifest)]
        self._sync_index()
        return lines

    def inspect(self, name: str) -> dict:
        """Docker's `image inspect` document."""
        manifest_digest, _ = self.resolve(name)
        manifest, config, _dirs = self.store.image_layers(manifest_digest)
        row = self.db.execute("SELECT created FROM images WHERE manifest=?", (manifest_digest,)).fetchone()
        cfg = dict(config.get("config") or {})
        return {
            "Id": manifest["config"]["digest"],
            "RepoTags": self._familiar(self._tags_of(manifest_digest)),
            "RepoDigests": [],
            "Manifest": manifest_digest,
            "Parent": "",
            "Comment": (config.get("history") or [{}])[-1].get("comment", ""),
            "Created": config.get("created") or (row[0] if row else ""),
            "Author": config.get("author", ""),
            "Config": {"Env": cfg.get("Env"), "Cmd": cfg.get("Cmd"), "Entrypoint": cfg.get("Entrypoint"),
                       "WorkingDir": cfg.get("WorkingDir", ""), "User": cfg.get("User", ""),
                       "Labels": cfg.get("Labels"), "ExposedPorts": cfg.get("ExposedPorts"),
                       "Volumes": cfg.get("Volumes"), "StopSignal": cfg.get("StopSignal"),
                       **({"Healthcheck": cfg["Healthcheck"]} if cfg.get("Healthcheck") else {})},
            "Architecture": config.get("architecture", ""),
            "Os": config.get("os", ""),
            "Size": sum(layer.get("size", 0) for layer in manifest["layers"]),
            "RootFS": {"Type": "layers", "Layers": list(config["rootfs"]["diff_ids"])},
            "Metadata": {"LastTagTime": row[0] if row else ""},
        }

    def history(self, name: str) -> list[dict]:
        """Newest first: one row per history entry, the layer sizes matched to non-empty entries."""
        manifest_digest, _ = self.resolve(name)
        manifest, config, _ = self.store.image_layers(manifest_digest)
        sizes = [layer.get("size", 0) for layer in manifest["layers"]]
        entries = config.get("history") or [{} for _ in sizes]
        rows = []
        for entry in entries:
            size = 0 if entry.get("empty_layer") or not sizes else sizes.pop(0)
            rows.append({"Created": entry.get("created", ""), "CreatedBy": entry.get("created_by", ""),
                         "Size": size, "Comment": entry.get("comment", ""), "ID": "<missing>"})
        rows.reverse()
        if rows:
            rows[0]["ID"] = manifest["config"]["digest"]
        return rows

    def commit(self, writable: str, base_manifest: str, name: str | None, changes: list[str],
               message: str = "", author: str = "", created_by: str = "", container_config: dict | None = None) -> str:
        """A new image: the base image plus the layer made of `writable` (an overlay upper dir), its
        config the container's (Cmd, Entrypoint, Env...; Docker's commit), then `changes` over it."""
        layer_digest, layer_size = self.write_upper_layer(writable)
        manifest, config, _ = self.store.image_layers(base_manifest)
        if container_config:
            config = dict(config, config=_image_config_of(config.get("config") or {}, container_config))
        return self._derive(manifest, config, layer_digest, layer_size, name, changes, message, author,
                            created_by or "mydocker commit")

    def _derive(self, manifest: dict | None, config: dict | None, layer_digest: str, layer_size: int,
                name: str | None, changes: list[str], message: str, author: str, created_by: str) -> str:
        canonical = str(reference.parse(name)) if name else None
        config = _copy.deepcopy(config) if config else empty_config()
        created = now()
        config_changes.apply_all(config, changes)
        config["created"] = created
        if author:
            config["author"] = author
        config["rootfs"]["diff_ids"].append(layer_digest)
        entry = {"created": created, "created_by": created_by}
        if message:
            entry["comment"] = message
        if author:
            entry["author"] = author
        config.setdefault("history", []).append(entry)
        layers = list(manifest["layers"]) if manifest else []
        layers.append({"mediaType": image_store.MEDIA_LAYER, "digest": layer_digest, "size": layer_size})
        digest, _size = self.store.put_image(config, layers)
        self.register(digest, [canonical] if canonical else [], created)
        if canonical:
            self.event("tag", digest, name=reference.parse(canonical).familiar)
        return self.store.read_json(digest)["config"]["digest"]

    def write_upper_layer(self, upper: str) -> tuple[str, int]:
        """A new layer of an overlay upper dir (whiteouts as .wh. entries): its (digest, size)."""
        return self._write_blob(lambda out: diff.write_layer(upper, out, overlay_upper=True))

    def _write_blob(self, write) -> tuple[str, int]:
        """Stream a new uncompressed layer into the store; its digest is also its diff id."""
        scratch = self.store.temp_dir(".write-")
        try:
            path = os.path.join(scratch, "layer")
            with open(path, "wb") as f:
                out = diff.HashingWriter(f)
                write(out)
            digest = out.digest
            target = self.store.blob_path(digest)
            if not os.path.exists(target):
                os.rename(path, target)
            return digest, out.size
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def import_tar(self, stream, name: str | None, changes: list[str], message: str = "") -> str:
        """An image of one layer from a flat rootfs tar (plain, gzip, bzip2 or xz)."""
        def copy(out) -> None:
            try:
                with tarfile.open(fileobj=stream, mode="r|*", bufsize=1 << 20) as src, \
                        tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, bufsize=1 << 20) as dst:
                    dst.copybufsize = 1 << 20
                    for member in src:
                        dst.addfile(member, src.extractfile(member) if member.isreg() else None)
            except tarfile.TarError as e:
                raise InvalidArgument(f"the input is not a readable tar ({e}): give a rootfs tar") from None
        digest, size = self._write_blob(copy)
        try:  # refused here, as load refuses it, rather than at the first run
            self.store.unpack_layer(digest, digest, lambda path, target: image_layer.apply_layer(path, target, digest))
        except BaseException:
            self.sweep([digest], [digest])
            raise
        image_id = self._derive(None, None, digest, size, name, changes, message, "", "mydocker import")
        row = self.db.execute("SELECT manifest FROM images WHERE config=?", (image_id,)).fetchone()
        self.event("import", row[0] if row else image_id)
        return image_id

    def save(self, names: list[str], out, fmt: str = "docker") -> None:
        images: dict[str, list[str]] = {}
        for name in names:
            manifest, canonical = self.resolve(name)
            images.setdefault(manifest, [])
            if canonical:
                images[manifest].append(canonical)
        archive.save(self.store, list(images.items()), out, fmt)
        for manifest in images:
            self.event("save", manifest)

    def load(self, stream) -> list[str]:
        """Load an archive; return Docker's "Loaded image: ..." lines."""
        lines = []
        loaded = archive.load(self.store, stream)
        self.admit([digest for digest, _size, _names in loaded])
        for digest, _size, names in loaded:
            self.register(digest, names)
            config_digest = self.store.read_json(digest)["config"]["digest"]
            lines += [f"Loaded image: {n}" for n in self._familiar(names)] or [f"Loaded image ID: {config_digest}"]
            self.event("load", digest)
        return lines

    def import_dir(self, directory: str, name: str | None, changes: list[str], message: str = "") -> str:
        """An image of one layer holding `directory` (commit under the vfs driver)."""
        digest, size = self._write_blob(lambda out: diff.write_layer(directory, out, overlay_upper=False))
        return self._derive(None, None, digest, size, name, changes, message, "", "mydocker commit (vfs)")

    def export_container(self, container_dir: str, manifest_digest: str, out) -> None:
        """Write the container's merged filesystem as a flat tar.

        A stopped overlay container is viewed through a read-only overlay with its upper dir as
        the topmost lower (a second writable mount of one upper dir is not allowed)."""
        rootfs = os.path.join(container_dir, "rootfs")
        if not os.path.isdir(container_dir):
            raise NotFound("the container's filesystem is gone: it was removed")
        if os.path.ismount(rootfs) or snapshot.driver_of(container_dir) == "vfs":
            diff.write_layer(rootfs, out, overlay_upper=False)
            return
        view = os.path.join(container_dir, "export")
        os.makedirs(view, exist_ok=True)
        lowers = self.layer_dirs(manifest_digest) or [snapshot._empty_layer(container_dir)]
        snapshot.mount_overlay(lowers, None, None, view, top=(os.path.join(container_dir, "upper"),))
        try:
            diff.write_layer(view, out, overlay_upper=False)
        finally:
            sc.umount2(view, sc.MNT_DETACH)
            os.rmdir(view)

    def layer_dirs(self, manifest_digest: str) -> list[str]:
        manifest, config, dirs = self.store.image_layers(manifest_digest)
        self.unpack(manifest, config)
        return dirs


# the fields of a container's Config that an image keeps (moby's image config: the rest is the container's)
_IMAGE_CONFIG_KEYS = ("User", "ExposedPorts", "Env", "Cmd", "Healthcheck", "Volumes", "WorkingDir", "Entrypoint",
                      "OnBuild", "Labels", "StopSignal", "Shell")


def _image_config_of(base: dict, container: dict) -> dict:
    """A committed image's config: the base image's, with the container's values over it."""
    out = dict(base)
    for key in _IMAGE_CONFIG_KEYS:
        if key in container:
            if container[key] in (None, "", [], {}):
                out.pop(key, None)
            else:
                out[key] = container[key]
    return out

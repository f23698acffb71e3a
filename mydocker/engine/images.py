"""Images as the engine sees them: names in the records, content in the image store."""

from __future__ import annotations

import datetime
from mydocker.record import record

from mydocker.engine.records import Records
from mydocker.errors import NotFound
from mydocker.image import reference
from mydocker.image.store import ImageStore

BUSYBOX = "docker.io/library/busybox:latest"


@record
class Image:
    name: str                 # canonical reference
    manifest_digest: str
    config: dict              # the OCI image config (its "config" holds Env, Cmd, ...)
    layer_dirs: list[str]     # unpacked, bottom to top


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


class ImageService:
    def __init__(self, records: Records, store: ImageStore) -> None:
        self.records = records
        self.store = store

    def get(self, name: str) -> Image:
        """The image called `name`, its layers unpacked; busybox is built from the host on first use."""
        ref = reference.parse(name)
        canonical = str(ref)
        manifest = self.records.image_for(canonical)
        if manifest is None and canonical == BUSYBOX:
            manifest = self.provision_busybox()
        if manifest is None:
            raise NotFound(f"image {ref.familiar} not found locally: load, import or build it first "
                           "(`mydocker images` lists what is here)")
        return self._load(canonical, manifest)

    def provision_busybox(self) -> str:
        from mydocker.image.busybox import build_image
        digest, size = build_image(self.store)
        self.store.add_to_index(digest, size, BUSYBOX)
        self.records.tag_image(BUSYBOX, digest, now())
        return digest

    def _load(self, canonical: str, manifest_digest: str) -> Image:
        manifest, config, dirs = self.store.image_layers(manifest_digest)
        if not all(map(self.store.has_layer, config["rootfs"]["diff_ids"])):
            from mydocker.image.layer import apply_layer
            for layer, diff_id in zip(manifest["layers"], config["rootfs"]["diff_ids"]):
                self.store.unpack_layer(layer["digest"], diff_id, apply_layer)
        return Image(canonical, manifest_digest, config, dirs)

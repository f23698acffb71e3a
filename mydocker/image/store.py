"""A content-addressed store in the OCI image layout, plus each layer unpacked once.

    <root>/oci-layout, index.json     the OCI image layout (index.json lists manifests by ref name)
    <root>/blobs/sha256/<hex>         manifests, configs, layer tars
    <root>/layers/<diff-id hex>/      each layer unpacked once, shared by images and containers

Names belong to the engine's records; the store only knows digests.
"""

from __future__ import annotations

import os

from mydocker import jsonio  # reads with the C codec alone; writers load json, for sort_keys and indent
from mydocker.errors import NotFound
from mydocker.lazy import lazy_module

hashlib = lazy_module("hashlib")
json = lazy_module("json")
shutil = lazy_module("shutil")
fs = lazy_module("mydocker.linux.fs")
tempfile = lazy_module("tempfile")

MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar"
MEDIA_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
# The largest JSON document (index, manifest, image config) read from an archive or a registry.
# Real configs reach several MiB (long histories, big labels) and Docker sets no bound; one is
# still needed, as each is parsed in memory, and 64 MiB is far past any real image.
MAX_JSON = 64 << 20


class ImageStore:
    def __init__(self, root: str) -> None:
        self.root = root
        self.blobs = os.path.join(root, "blobs", "sha256")
        self.layers = os.path.join(root, "layers")

    def ensure(self) -> None:
        if os.path.isdir(self.layers):
            return
        os.makedirs(self.root, mode=0o700, exist_ok=True)  # layers hold setuid files and device nodes
        os.makedirs(self.blobs, exist_ok=True)
        os.makedirs(self.layers, exist_ok=True)
        fs.write_atomic(os.path.join(self.root, "oci-layout"), b'{"imageLayoutVersion": "1.0.0"}')
        if not os.path.exists(os.path.join(self.root, "index.json")):
            fs.write_atomic(os.path.join(self.root, "index.json"), b'{"schemaVersion": 2, "manifests": []}')

    def blob_path(self, digest: str) -> str:
        algo, _, hexpart = digest.partition(":")
        if algo != "sha256" or len(hexpart) != 64 or not all(c in "0123456789abcdef" for c in hexpart):
            raise NotFound(f"blob {digest} is not a sha256 digest")
        return os.path.join(self.blobs, hexpart)

    def has_blob(self, digest: str) -> bool:
        return os.path.exists(self.blob_path(digest))

    def put_bytes(self, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        path = self.blob_path(digest)
        if not os.path.exists(path):
            fs.write_atomic(path, data)
        return digest

    def put_json(self, obj: dict) -> tuple[str, int]:
        data = encode_json(obj)
        return self.put_bytes(data), len(data)

    def put_image(self, config: dict, layers: list[dict]) -> tuple[str, int]:
        """Store an image: `config` and a manifest of it and `layers` (descriptors, bottom first);
        the manifest's (digest, size)."""
        config_digest, config_size = self.put_json(config)
        return self.put_json({"schemaVersion": 2, "mediaType": MEDIA_MANIFEST,
                              "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest, "size": config_size},
                              "layers": layers})

    def put_file(self, path: str) -> tuple[str, int]:
        """Move a finished file into the store under its digest."""
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        digest = "sha256:" + h.hexdigest()
        size = os.path.getsize(path)
        target = self.blob_path(digest)
        if os.path.exists(target):
            os.unlink(path)
        else:
            os.rename(path, target)
        return digest, size

    def read_json(self, digest: str) -> dict:
        try:
            return jsonio.load_file(self.blob_path(digest))
        except FileNotFoundError:
            raise NotFound(f"blob {digest} is missing from the image store") from None

    def layer_dir(self, diff_id: str) -> str:
        return os.path.join(self.layers, diff_id.partition(":")[2])

    def has_layer(self, diff_id: str) -> bool:
        return os.path.isdir(self.layer_dir(diff_id))

    def unpack_layer(self, blob_digest: str, diff_id: str, apply) -> str:
        """Unpack a layer blob once (into a temp dir renamed into place); return its directory."""
        target = self.layer_dir(diff_id)
        if os.path.isdir(target):
            return target
        tmp = tempfile.mkdtemp(prefix=".unpack-", dir=self.layers)
        try:
            os.chmod(tmp, 0o755)
            apply(self.blob_path(blob_digest), tmp)
            try:
                os.rename(tmp, target)
            except OSError:
                if not os.path.isdir(target):
                    raise
                shutil.rmtree(tmp, ignore_errors=True)  # a concurrent unpack of the same layer won
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target

    def image_layers(self, manifest_digest: str) -> tuple[dict, dict, list[str]]:
        """(manifest, config, unpacked layer dirs bottom to top)."""
        manifest = self.read_json(manifest_digest)
        config = self.read_json(manifest["config"]["digest"])
        dirs = [self.layer_dir(d) for d in config.get("rootfs", {}).get("diff_ids", [])]
        return manifest, config, dirs

    def temp_dir(self, prefix: str) -> str:
        """A scratch directory on the store's filesystem, so finished files can be renamed in."""
        self.ensure()
        return tempfile.mkdtemp(prefix=prefix, dir=self.root)

    def remove_blob(self, digest: str) -> None:
        try:
            os.unlink(self.blob_path(digest))
        except FileNotFoundError:
            pass

    def remove_layer(self, diff_id: str) -> None:
        """Delete an unpacked layer: renamed away first so a half-deleted layer is never used."""
        path = self.layer_dir(diff_id)
        if not os.path.isdir(path):
            return
        doomed = os.path.join(self.layers, f".remove-{os.path.basename(path)}")
        os.rename(path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)
        short = os.path.join(self.root, "l", os.path.basename(path)[:12])
        if os.path.islink(short) and os.readlink(short).endswith(os.path.basename(path)):
            os.unlink(short)

    def write_index(self, entries: list[tuple[str, int, str | None]]) -> None:
        """Rewrite index.json: one descriptor per (manifest digest, size, ref name or None)."""
        self.ensure()
        manifests = []
        for digest, size, name in entries:
            desc = {"mediaType": MEDIA_MANIFEST, "digest": digest, "size": size}
            if name:
                desc["annotations"] = {"org.opencontainers.image.ref.name": name}
            manifests.append(desc)
        fs.write_atomic(os.path.join(self.root, "index.json"),
                      jsonio.pretty({"schemaVersion": 2, "manifests": manifests}, 1).encode())

    def add_to_index(self, manifest_digest: str, size: int, ref_name: str) -> None:
        path = os.path.join(self.root, "index.json")
        index = jsonio.load_file(path)
        index["manifests"] = [m for m in index["manifests"]
                              if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != ref_name]
        index["manifests"].append({"mediaType": MEDIA_MANIFEST, "digest": manifest_digest, "size": size,
                                   "annotations": {"org.opencontainers.image.ref.name": ref_name}})
        fs.write_atomic(path, jsonio.pretty(index, 1).encode())


def encode_json(obj: dict) -> bytes:
    """A document as the store writes it (its digest depends on these bytes)."""
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()

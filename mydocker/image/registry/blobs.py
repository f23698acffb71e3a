"""Layers from a registry into the store, never trusted: every byte is hashed as it arrives.

A layer is streamed once: its compressed bytes are hashed (the digest) and written to the blob
file, and decompressed on the fly (gzip, or zstd with the `zstandard` package) into a tar whose
hash must equal the config's diff_id. Only then is the blob renamed into the store and the tar
unpacked. An interrupted download leaves `.partial-<hex>` behind, locked while in use; the next pull
replays it through the hashes and resumes with a Range request (or starts over if refused).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
import zlib

from mydocker.errors import InvalidArgument, RuntimeFailure
from mydocker.lazy import lazy_module

image_layer = lazy_module("mydocker.image.layer")

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
CHUNK = 1 << 20


class Corrupt(RuntimeFailure):
    """A blob whose bytes do not match its digest."""


class _Decoder:
    """Decompresses a stream of concatenated gzip members or zstd frames (or passes a plain tar)."""

    def __init__(self, head: bytes, digest: str) -> None:
        if head.startswith(GZIP_MAGIC):
            self.kind = "gzip"
        elif head.startswith(ZSTD_MAGIC):
            self.kind = "zstd"
            try:
                import zstandard  # optional: C wheels; Python has zstd only from 3.14
            except ImportError:
                raise InvalidArgument(f"layer {digest} is zstd-compressed: install the 'zstandard' Python "
                                      "package (pip install zstandard) to pull it") from None
            self._zstd = zstandard
        else:
            self.kind = "tar"
        self._obj = self._new()

    def _new(self):
        if self.kind == "gzip":
            return zlib.decompressobj(wbits=31)
        if self.kind == "zstd":
            return self._zstd.ZstdDecompressor().decompressobj()
        return None

    def feed(self, data: bytes) -> bytes:
        if self._obj is None:
            return data
        out = []
        while data:
            if self._obj.eof:
                self._obj = self._new()
            out.append(self._obj.decompress(data))
            data = self._obj.unused_data if self._obj.eof else b""
        return b"".join(out)

    def finished(self) -> bool:
        return self._obj is None or self._obj.eof


class _Layer:
    """The hashes (and the uncompressed tar) of one layer, fed its compressed bytes in order."""

    def __init__(self, digest: str, diff_id: str, tar_path: str) -> None:
        self.digest, self.diff_id, self.tar_path = digest, diff_id, tar_path
        self.reset()

    def reset(self) -> None:
        if getattr(self, "tar_fd", -1) >= 0:
            os.close(self.tar_fd)
        self.compressed = hashlib.sha256()
        self.plain = hashlib.sha256()
        self.size = 0
        self.decoder: _Decoder | None = None
        self.tar_fd = -1
        self.broken = ""

    def feed(self, data: bytes) -> None:
        if self.decoder is None:
            self.decoder = _Decoder(data[:4], self.digest)
            if self.decoder.kind != "tar":
                self.tar_fd = os.open(self.tar_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self.size += len(data)
        self.compressed.update(data)
        if self.broken:
            return
        try:
            plain = self.decoder.feed(data)
        except Exception as e:  # noqa: BLE001 - zlib.error, zstd.ZstdError: judged after the digest
            self.broken = str(e)
            return
        if self.tar_fd >= 0:
            self.plain.update(plain)
            _write_all(self.tar_fd, plain)

    def verify(self) -> str:
        """Check both hashes; return the path of the plain tar (the blob itself when uncompressed)."""
        if self.tar_fd >= 0:
            os.close(self.tar_fd)
            self.tar_fd = -1
        got = "sha256:" + self.compressed.hexdigest()
        if got != self.digest:
            raise Corrupt(f"blob {self.digest} does not match its digest (got {got}): the registry or the "
                          "network corrupted it; nothing was stored")
        if self.broken:
            raise Corrupt(f"layer {self.digest} cannot be decompressed ({self.broken}): the image is broken")
        if self.decoder is None or not self.decoder.finished():
            raise Corrupt(f"layer {self.digest} is truncated: its compressed stream does not end")
        plain = got if self.decoder.kind == "tar" else "sha256:" + self.plain.hexdigest()
        if plain != self.diff_id:
            raise Corrupt(f"layer {self.digest} unpacks to {plain}, not to the config's diff_id {self.diff_id}: "
                          "the image is inconsistent; nothing was stored")
        return "" if self.decoder.kind == "tar" else self.tar_path


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def fetch_layer(client, store, digest: str, size: int, diff_id: str, emit) -> str:
    """Download (or resume) one layer blob and unpack it into the store; `emit(status, current, total)`."""
    hexpart = store.blob_path(digest).rsplit("/", 1)[1]
    partial = os.path.join(store.blobs, f".partial-{hexpart}")
    fd = os.open(partial, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            emit("Waiting", 0, size)   # another pull is fetching this blob: wait for it
            fcntl.flock(fd, fcntl.LOCK_EX)
        layer = _Layer(digest, diff_id, partial + ".tar")
        if store.has_blob(digest):
            if store.has_layer(diff_id):
                return "Already exists"
            _replay(store.blob_path(digest), layer, size, None)
        else:
            _download(client, digest, size, fd, layer, emit)
        try:
            emit("Verifying Checksum", size, size)
            tar = layer.verify()
        except Corrupt:
            os.ftruncate(fd, 0)
            raise
        if not store.has_blob(digest):
            os.rename(partial, store.blob_path(digest))
        emit("Extracting", 0, 0)   # tar extraction reports no byte count
        store.unpack_layer(digest, diff_id,
                           lambda blob, target: image_layer.apply_layer(tar or blob, target, name=hexpart[:12]))
        return "Pull complete"
    finally:
        for path in (partial + ".tar",):
            if os.path.exists(path):
                os.unlink(path)
        try:
            if os.path.exists(partial) and os.stat(partial).st_ino == os.fstat(fd).st_ino \
                    and os.fstat(fd).st_size == 0:
                os.unlink(partial)
        finally:
            os.close(fd)


def discard_partial(store, digest: str) -> None:
    """Delete what a killed download of `digest` left (`.partial-<hex>` and its `.tar`) unless another
    pull holds it: for an image that was refused, whose blobs are not kept for a resume."""
    partial = os.path.join(store.blobs, f".partial-{store.blob_path(digest).rsplit('/', 1)[1]}")
    try:
        fd = os.open(partial, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        fd = None
    try:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError: another pull is at it
        for path in (partial + ".tar", partial):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
    except BlockingIOError:
        pass
    finally:
        if fd is not None:
            os.close(fd)


def _replay(path: str, layer: _Layer, size: int, fd: int | None) -> int:
    """Feed the bytes already on disk through the hashes; return how many there were."""
    done = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            layer.feed(chunk)
            done += len(chunk)
    if done > size:
        raise Corrupt(f"blob {layer.digest} is larger than its {size} bytes")
    return done


def _download(client, digest: str, size: int, fd: int, layer: _Layer, emit) -> None:
    done = os.fstat(fd).st_size
    if done:
        done = _replay(f"/proc/self/fd/{fd}", layer, size, fd)
    if done == size and size:
        return
    resp = client.get_blob(digest, offset=done)
    if done and resp.status != 206:      # the registry ignored the Range: start over
        layer.reset()
        done = 0
        os.ftruncate(fd, 0)
    os.lseek(fd, done, os.SEEK_SET)
    last = 0.0
    for chunk in resp.chunks(CHUNK):
        done += len(chunk)
        if done > size:
            raise Corrupt(f"blob {digest} is larger than the {size} bytes its manifest says: refused")
        _write_all(fd, chunk)
        layer.feed(chunk)
        now = time.monotonic()
        if now - last > 0.1:
            emit("Downloading", done, size)
            last = now
    if done != size:
        raise Corrupt(f"blob {digest} ended after {done} of its {size} bytes: pull again to resume")
    emit("Download complete", size, size)

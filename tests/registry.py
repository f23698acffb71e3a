"""A real registry for tests: Debian's docker-registry on 127.0.0.1, a free port, storage in a temp dir.

`start_registry(tmp, htpasswd=None)` -> Registry(url host:port, data dir, stop()); tests skip with the
reason when the package is missing (scripts/test.sh installs it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest

BINARY = shutil.which("docker-registry") or "/usr/bin/docker-registry"


def need_registry() -> None:
    if not os.path.exists(BINARY):
        pytest.skip("docker-registry is not installed (apt-get install docker-registry)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    def __init__(self, base: str, htpasswd: str | None = None) -> None:
        need_registry()
        self.base = base
        self.data = os.path.join(base, "data")
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        config = os.path.join(base, "config.yml")
        auth = (f"auth:\n  htpasswd:\n    realm: mydocker-test\n    path: {htpasswd}\n" if htpasswd else "")
        with open(config, "w") as f:
            f.write(f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                    f"storage:\n  filesystem:\n    rootdirectory: {self.data}\n  delete:\n    enabled: true\n"
                    f"http:\n  addr: {self.host}\n{auth}")
        self.log = open(os.path.join(base, "registry.log"), "wb")
        self.proc = subprocess.Popen([BINARY, "serve", config], stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1)
                break
            except urllib.error.HTTPError:
                break  # 401: up, with auth
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"docker-registry did not start: {open(self.log.name).read()}")
                time.sleep(0.05)

    def blob_file(self, digest: str) -> str:
        hexpart = digest.partition(":")[2]
        return os.path.join(self.data, "docker", "registry", "v2", "blobs", "sha256", hexpart[:2], hexpart, "data")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def mounts_under(path) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(str(path))]


@pytest.fixture(name="mydocker")
def scoped_cli(bindir, tmp_path):
    """The CLI on private roots. Leaks are checked under this test's own directory only: other
    engineers' tests run at the same time and their containers come and go."""
    from tests.conftest import CLI
    base = tmp_path / "mydocker-test"
    base.mkdir()
    yield CLI(bindir, str(base / "root"), str(base / "run"))
    assert mounts_under(tmp_path) == []


def layer_tar(files: dict[str, bytes]) -> bytes:
    import io
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def busybox_tar() -> bytes:
    import io
    from mydocker.image.busybox import build_layer, find_host_busybox
    buf = io.BytesIO()
    build_layer(find_host_busybox(), buf)
    return buf.getvalue()


def compress(data: bytes, how: str) -> bytes:
    if how == "gzip":
        import gzip
        return gzip.compress(data, compresslevel=1, mtime=0)
    if how == "zstd":
        import zstandard
        return zstandard.ZstdCompressor().compress(data)
    return data


def make_image(engine, name: str | None, tars: list[bytes], how: str = "gzip", arch: str = "amd64",
               cmd=("sh",)) -> str:
    """Put an image of these layer tars into the engine's store (and tag it `name`); its manifest digest."""
    import hashlib
    from mydocker.image.registry import media
    store = engine.images.store
    store.ensure()
    layers, diff_ids = [], []
    suffix = {"gzip": "+gzip", "zstd": "+zstd", "none": ""}[how]
    for tar in tars:
        blob = compress(tar, how)
        digest = store.put_bytes(blob)
        layers.append({"mediaType": f"application/vnd.oci.image.layer.v1.tar{suffix}", "digest": digest,
                       "size": len(blob)})
        diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
    config = {"architecture": arch, "os": "linux",
              "config": {"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": list(cmd)},
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    config_digest, config_size = store.put_json(config)
    manifest = {"schemaVersion": 2, "mediaType": media.OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                           "size": config_size}, "layers": layers}
    digest, _size = store.put_json(manifest)
    from mydocker.image import reference
    engine.images.register(digest, [str(reference.parse(name))] if name else [])
    return digest

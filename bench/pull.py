"""Pull benchmark: a 200 MB, 5-layer gzip image from a local registry.

    python3 bench/pull.py [--runs 3] [--mb 200] [--layers 5]

mydocker `pull` (into an empty engine root: download, verify, unpack every layer) against
`skopeo copy docker://… oci:…` followed by `umoci unpack` (the same work done by the Go tools), in one
run, alternating. Target: mydocker ≤ 1.0× the skopeo+umoci time. The registry is Debian's
docker-registry on 127.0.0.1; the image is built here (half random, half compressible text per
layer) and pushed with skopeo, so neither side pushed what it pulls.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def layer(index: int, size: int) -> bytes:
    """A layer tar: half incompressible files of 1 MB, half compressible 100 kB text files."""
    buf = io.BytesIO()
    rnd = os.urandom
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for i in range(size // 2 // (1 << 20)):
            data = rnd(1 << 20)
            info = tarfile.TarInfo(f"layer{index}/bin/blob{i}")
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
        line = b"".join(b"%d the quick brown fox %d jumps over the lazy dog\n" % (j, index) for j in range(2000))
        for i in range(size // 2 // 100_000):
            data = (line * 2)[:100_000]
            info = tarfile.TarInfo(f"layer{index}/share/doc/file{i}.txt")
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def build_layout(path: str, total_mb: int, layers: int) -> None:
    blobs = os.path.join(path, "blobs", "sha256")
    os.makedirs(blobs)

    def put(data: bytes) -> tuple[str, int]:
        digest = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, digest), "wb") as f:
            f.write(data)
        return "sha256:" + digest, len(data)

    descs, diff_ids = [], []
    for i in range(layers):
        tar = layer(i, (total_mb << 20) // layers)
        diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
        digest, size = put(gzip.compress(tar, compresslevel=6, mtime=0))
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": size})
    config = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    cdigest, csize = put(json.dumps(config).encode())
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdigest,
                           "size": csize}, "layers": descs}
    mdigest, msize = put(json.dumps(manifest).encode())
    with open(os.path.join(path, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion": "1.0.0"}')
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{"mediaType": manifest["mediaType"], "digest": mdigest,
                   "size": msize, "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}, f)


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {(proc.stderr or proc.stdout).strip()[:300]}")
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--layers", type=int, default=5)
    args = ap.parse_args()
    for tool in ("docker-registry", "skopeo", "umoci"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is needed: apt-get install {tool}")
    work = tempfile.mkdtemp(prefix="mydocker-bench-pull-")
    port = free_port()
    host = f"127.0.0.1:{port}"
    with open(os.path.join(work, "config.yml"), "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n"
                f"    rootdirectory: {work}/registry\nhttp:\n  addr: {host}\n")
    registry = subprocess.Popen(["docker-registry", "serve", f"{work}/config.yml"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://{host}/v2/", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        print(f"building a {args.mb} MB, {args.layers}-layer image ...", file=sys.stderr)
        build_layout(f"{work}/src", args.mb, args.layers)
        image = f"{host}/bench/big:v1"
        subprocess.run(["skopeo", "copy", "-q", "--dest-tls-verify=false", f"oci:{work}/src:v1",
                        f"docker://{image}"], check=True)
        sys.path.insert(0, REPO)
        from mydocker import launcher   # the launchers of this checkout, as the tests use
        bindir = f"{work}/bin"
        launcher.install(bindir)
        mine, theirs = [], []
        for run in range(args.runs):
            for d in ("root", "run", "oci", "bundle"):
                shutil.rmtree(f"{work}/{d}", ignore_errors=True)
            mine.append(timed([f"{bindir}/mydocker", "--root", f"{work}/root", "--runroot", f"{work}/run",
                               "pull", "-q", image]))
            start = time.perf_counter()
            timed(["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{image}", f"oci:{work}/oci:v1"])
            timed(["umoci", "unpack", "--image", f"{work}/oci:v1", f"{work}/bundle"])
            theirs.append(time.perf_counter() - start)
            print(f"run {run + 1}: mydocker {mine[-1]:.2f}s, skopeo+umoci {theirs[-1]:.2f}s", file=sys.stderr)
        m, t = statistics.median(mine), statistics.median(theirs)
        print(f"pull of {args.mb} MB in {args.layers} gzip layers (median of {args.runs}):")
        print(f"  mydocker pull           {m:6.2f} s")
        print(f"  skopeo copy + umoci     {t:6.2f} s")
        print(f"  ratio                   {m / t:6.2f}x  (target <= 1.0x)")
    finally:
        registry.terminate()
        registry.wait()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

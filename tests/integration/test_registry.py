"""Push and pull against a real registry (Debian's docker-registry on 127.0.0.1), checked with skopeo too."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from tests.registry import Registry, busybox_tar, layer_tar, make_image, scoped_cli  # noqa: F401

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    reg = Registry(str(tmp_path_factory.mktemp("mydocker-registry")))
    yield reg
    reg.stop()


@pytest.fixture
def other(bindir, tmp_path):
    """A second CLI with its own empty roots, to pull into."""
    from tests.conftest import CLI
    base = tmp_path / "mydocker-other"
    base.mkdir()
    return CLI(bindir, str(base / "root"), str(base / "run"))


def engine_of(cli):
    from mydocker.engine.engine import Engine
    return Engine(cli.root, cli.runroot)


def three_layers() -> list[bytes]:
    return [busybox_tar(), layer_tar({"etc/motd": b"layer two\n", "data/a": b"A" * 5000}),
            layer_tar({"etc/motd": b"layer three\n", "data/b": os.urandom(300_000)})]


def visible(cli) -> list[str]:
    """Canonical names the engine has tagged."""
    return [name for name, _manifest, _created in engine_of(cli).records.image_tags()]


def test_push_busybox_and_pull_it_into_an_empty_root_and_run(mydocker, other, registry):
    name = f"{registry.host}/test/busybox:v1"
    mydocker("tag", "busybox", name)
    out = mydocker("push", name).out
    assert "Pushed" in out and "digest: sha256:" in out
    assert "Layer already exists" in mydocker("push", name).out   # HEAD skips what the registry has
    r = other("pull", name)
    assert "Pull complete" in r.out and r.out.strip().endswith(name)
    assert other("run", "--rm", name, "echo", "pulled").out == "pulled\n"
    assert "Already exists" in other("pull", name).out and "up to date" in other("pull", name).out


def test_three_layer_image_round_trip(mydocker, other, registry):
    name = f"{registry.host}/test/three:v1"
    digest = make_image(engine_of(mydocker), name, three_layers(), cmd=["cat", "/etc/motd"])
    mydocker("push", name)
    out = other("pull", name).out
    assert out.count("Pull complete") == 3
    assert f"Digest: {digest}" in out
    assert other("run", "--rm", name).out == "layer three\n"
    assert other("run", "--rm", name, "sh", "-c", "wc -c < /data/a").out.strip() == "5000"


def test_run_pulls_a_missing_image(mydocker, other, registry):
    name = f"{registry.host}/test/runpull:v1"
    make_image(engine_of(mydocker), name, three_layers()[:2], cmd=["cat", "/etc/motd"])
    mydocker("push", name)
    assert other("run", "--rm", name).out == "layer two\n"
    assert f"{name}" in visible(other)


def test_index_selects_the_hosts_platform(mydocker, other, registry):
    from mydocker.image.registry import media
    from mydocker.image.registry.client import RegistryClient
    engine = engine_of(mydocker)
    store = engine.images.store
    repo = "test/multi"
    amd = make_image(engine, f"{registry.host}/{repo}:amd64", [busybox_tar(), layer_tar({"arch": b"amd64\n"})],
                     cmd=["cat", "/arch"])
    arm = make_image(engine, f"{registry.host}/{repo}:arm64", [layer_tar({"arch": b"arm64\n"})], arch="arm64")
    mydocker("push", f"{registry.host}/{repo}:amd64")
    mydocker("push", f"{registry.host}/{repo}:arm64")
    index = {"schemaVersion": 2, "mediaType": media.OCI_INDEX, "manifests": [
        {"mediaType": media.OCI_MANIFEST, "digest": arm, "size": os.path.getsize(store.blob_path(arm)),
         "platform": {"os": "linux", "architecture": "arm64"}},
        {"mediaType": media.OCI_MANIFEST, "digest": amd, "size": os.path.getsize(store.blob_path(amd)),
         "platform": {"os": "linux", "architecture": "amd64"}}]}
    client = RegistryClient(registry.host, repo, actions="pull,push")
    client.put_manifest("multi", json.dumps(index).encode(), media.OCI_INDEX)
    name = f"{registry.host}/{repo}:multi"
    if os.uname().machine != "x86_64":
        pytest.skip("the index offers amd64 and arm64 images made for an x86_64 host")
    assert f"Digest: {amd}" in other("pull", name).out
    assert other("run", "--rm", name).out == "amd64\n"
    assert f"Digest: {arm}" in other("pull", "--platform", "linux/arm64", name).out
    r = other("pull", "--platform", "linux/s390x", name, rc=1)
    assert "linux/s390x" in r.err and "linux/amd64" in r.err and "linux/arm64" in r.err


def test_a_corrupted_blob_fails_the_pull_naming_its_digest(mydocker, other, registry):
    name = f"{registry.host}/test/corrupt:v1"
    engine = engine_of(mydocker)
    digest = make_image(engine, name, [busybox_tar(), layer_tar({"x": os.urandom(100_000)})])
    mydocker("push", name)
    layer = engine.images.store.read_json(digest)["layers"][1]["digest"]
    path = registry.blob_file(layer)
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(path, "wb").write(bytes(data))
    r = other("pull", name, rc=1)
    assert layer in r.err and "Traceback" not in r.err
    assert name not in visible(other)
    blobs = os.path.join(other.root, "image", "blobs", "sha256")
    # the corrupt bytes are not kept to resume from (other layers' partial downloads may be)
    assert not os.path.exists(os.path.join(blobs, f".partial-{layer.partition(':')[2]}"))
    assert not os.path.exists(os.path.join(blobs, layer.partition(":")[2]))


def test_a_killed_pull_leaves_no_image_and_the_next_pull_succeeds(mydocker, other, registry):
    name = f"{registry.host}/test/big:v1"
    big = [layer_tar({f"big{i}": os.urandom(40 << 20)}) for i in range(2)]
    make_image(engine_of(mydocker), name, [busybox_tar(), *big], how="gzip", cmd=["ls", "/"])
    mydocker("push", name)
    blobs = os.path.join(other.root, "image", "blobs", "sha256")
    proc = subprocess.Popen(other.argv("pull", name), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        partial = [f for f in os.listdir(blobs)] if os.path.isdir(blobs) else []
        if any(f.startswith(".partial-") and os.path.getsize(os.path.join(blobs, f)) > (1 << 20)
               for f in partial):
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the pull ended before it could be killed midway"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert name not in visible(other)
    out = other("pull", name).out
    assert "Pull complete" in out
    assert "big0" in other("run", "--rm", name).out


def test_skopeo_reads_what_mydocker_pushed(mydocker, registry, tmp_path):
    if not shutil.which("skopeo"):
        pytest.skip("skopeo is not installed")
    name = f"{registry.host}/test/forskopeo:v1"
    digest = make_image(engine_of(mydocker), name, three_layers())
    mydocker("push", name)
    info = json.loads(subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{name}"],
                                     capture_output=True, text=True, check=True).stdout)
    assert info["Digest"] == digest and len(info["Layers"]) == 3
    subprocess.run(["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{name}",
                    f"oci:{tmp_path}/layout:v1"], check=True)
    layout = json.loads((tmp_path / "layout" / "index.json").read_text())
    assert layout["manifests"][0]["digest"] == digest


def test_mydocker_pulls_what_skopeo_pushed(mydocker, other, registry, tmp_path):
    if not shutil.which("skopeo"):
        pytest.skip("skopeo is not installed")
    # an OCI layout with an uncompressed layer nobody pushed yet: skopeo compresses it on the way
    engine = engine_of(mydocker)
    digest = make_image(engine, None, [busybox_tar(), layer_tar({"who": b"skopeo\n", "r": os.urandom(64)})],
                        how="none", cmd=["cat", "/who"])
    layout = tmp_path / "layout"
    (layout / "blobs" / "sha256").mkdir(parents=True)
    store = engine.images.store
    manifest = store.read_json(digest)
    for d in [digest, manifest["config"]["digest"], *(l["digest"] for l in manifest["layers"])]:
        shutil.copy(store.blob_path(d), layout / "blobs" / "sha256" / d.partition(":")[2])
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest,
         "size": os.path.getsize(store.blob_path(digest)),
         "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}))
    for fmt, tag in (("v2s2", "docker"), ("oci", "oci")):
        name = f"{registry.host}/test/fromskopeo:{tag}"
        subprocess.run(["skopeo", "copy", "-q", "--dest-tls-verify=false", "--format", fmt,
                        "--dest-compress", "--dest-compress-format", "gzip", f"oci:{layout}:v1",
                        f"docker://{name}"], check=True)
        assert other("run", "--rm", name).out == "skopeo\n"
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{name}"],
                         capture_output=True, text=True, check=True).stdout
    assert "gzip" in raw


def test_zstd_layers(mydocker, other, registry):
    pytest.importorskip("zstandard", reason="zstd layers need the zstandard package")
    name = f"{registry.host}/test/zstd:v1"
    make_image(engine_of(mydocker), name, [busybox_tar(), layer_tar({"z": b"zstd\n"})], how="zstd",
               cmd=["cat", "/z"])
    mydocker("push", name)
    assert other("run", "--rm", name).out == "zstd\n"


def test_chunked_upload_and_cross_repository_mount(mydocker, other, registry):
    from mydocker.engine.distribution import Distribution
    engine = engine_of(mydocker)
    name = f"{registry.host}/test/chunked:v1"
    make_image(engine, name, [busybox_tar(), layer_tar({"c": os.urandom(3 << 20)})], cmd=["ls", "-l", "/c"])
    events = []
    Distribution.of(engine).push(name, chunk_size=1 << 20, progress=lambda *e: events.append(e))
    assert [e for e in events if e[1] == "Pushing" and 0 < e[2] < e[3]], "no partial chunk was reported"
    assert "3145728" in other("run", "--rm", name).out
    mydocker("tag", name, f"{registry.host}/elsewhere/chunked:v1")
    out = mydocker("push", f"{registry.host}/elsewhere/chunked:v1").out
    assert out.count("Mounted from test/chunked") == 2, out


def test_uncompressed_layers_are_pushed_gzipped(mydocker, other, registry):
    """Docker pushes gzip: the local busybox (uncompressed layers) reaches the registry as
    tar+gzip blobs, smaller, with the same config (diff ids of the uncompressed tars, same image id)."""
    from mydocker.image.registry import media
    from mydocker.image.registry.client import RegistryClient
    name = f"{registry.host}/test/gzipped:v1"
    mydocker("tag", "busybox", name)
    local = json.loads(mydocker("image", "inspect", name).out)[0]
    out = mydocker("push", name).out
    body, _kind, _digest = RegistryClient(registry.host, "test/gzipped").get_manifest("v1", media.ACCEPT)
    manifest = json.loads(body)
    assert f"digest: {_digest}" in out
    assert [layer["mediaType"] for layer in manifest["layers"]] == ["application/vnd.oci.image.layer.v1.tar+gzip"]
    assert manifest["layers"][0]["size"] < local["Size"] * 0.8
    assert os.path.getsize(registry.blob_file(manifest["layers"][0]["digest"])) == manifest["layers"][0]["size"]
    assert manifest["config"]["digest"] == local["Id"]
    assert "Layer already exists" in mydocker("push", name).out  # no second upload
    other("pull", name)
    assert json.loads(other("image", "inspect", name).out)[0]["Id"] == local["Id"]
    assert other("run", "--rm", name, "echo", "gzipped").out == "gzipped\n"

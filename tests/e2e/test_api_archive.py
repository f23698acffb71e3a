"""`docker cp` through `mydocker system service` (HEAD/GET/PUT /containers/{id}/archive) with the real
docker CLI and docker-py, and the symlink escapes of the CVE-2018-15664 class, which must leave the
host untouched: symlinks in the container that lead to / or up with ../../.., and one swapped in
while copies run."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import tarfile
import time

import pytest

from tests.e2e.test_api_service import each_cli, service  # noqa: F401 - the fixture

pytestmark = pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker CLI on PATH")


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _host_dir(tmp_path) -> str:
    """A host directory with a secret in it, the target of every escape attempt."""
    host = tmp_path / "hostside"
    host.mkdir()
    (host / "secret").write_text("host secret\n")
    return str(host)


def _untouched(host: str) -> None:
    assert sorted(os.listdir(host)) == ["secret"], f"something was written on the host: {os.listdir(host)}"
    with open(os.path.join(host, "secret")) as f:
        assert f.read() == "host secret\n"


@each_cli
def test_docker_cp_a_file_both_ways(service, mydocker, tmp_path):
    cid = service.docker("run", "-d", "--name", "web", "busybox", "sleep", "300").stdout.strip()
    service.docker("cp", "web:/etc/hostname", str(tmp_path))
    assert (tmp_path / "hostname").read_text().strip() == cid[:12]  # the container's /etc bind, not the rootfs file
    (tmp_path / "file").write_text("from the host\n")
    service.docker("cp", str(tmp_path / "file"), "web:/tmp/")
    assert mydocker("exec", "web", "cat", "/tmp/file").out == "from the host\n"
    service.docker("cp", str(tmp_path / "file"), "web:/tmp/renamed")
    assert mydocker("exec", "web", "cat", "/tmp/renamed").out == "from the host\n"
    missing = service.docker("cp", "web:/no/such", str(tmp_path), rc=1)
    # the CLI 28 prints the service's message; the 20.10 client words the 404 itself
    assert ("Could not find the file /no/such in container" in missing.stderr
            or "No such container:path: web:/no/such" in missing.stderr)
    status, _ = service.request("HEAD", "/containers/web/archive?path=/etc/hostname")
    assert status == 200


def test_docker_cp_of_a_file_larger_than_a_json_body(service, mydocker, tmp_path):
    big = tmp_path / "big"
    with open(big, "wb") as f:
        f.truncate(40 * 1024 * 1024)  # over http.MAX_BODY (16 MiB): uploads are spooled, not bounded
    service.docker("run", "-d", "--name", "web", "busybox", "sleep", "300")
    service.docker("cp", str(big), "web:/tmp/")
    assert mydocker("exec", "web", "stat", "-c", "%s", "/tmp/big").out == f"{40 * 1024 * 1024}\n"


@each_cli
def test_docker_cp_a_directory_both_ways_and_a_stopped_container(service, mydocker, tmp_path):
    src = tmp_path / "tree"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "a").write_text("a\n")
    os.symlink("sub/a", src / "link")
    os.chmod(src / "sub" / "a", 0o640)
    service.docker("run", "-d", "--name", "web", "busybox", "sleep", "300")
    service.docker("cp", str(src), "web:/tree")
    assert mydocker("exec", "web", "cat", "/tree/link").out == "a\n"
    assert mydocker("exec", "web", "stat", "-c", "%a %u", "/tree/sub/a").out == "640 0\n"
    service.docker("stop", "-t", "0", "web")
    (src / "sub" / "b").write_text("b\n")
    service.docker("cp", str(src / "sub" / "b"), "web:/tree/sub/")  # stopped: through its own mount of the rootfs
    back = tmp_path / "back"
    service.docker("cp", "web:/tree", str(back))
    assert (back / "sub" / "a").read_text() == "a\n" and (back / "sub" / "b").read_text() == "b\n"
    assert os.readlink(back / "link") == "sub/a"
    service.docker("start", "web")
    assert mydocker("exec", "web", "cat", "/tree/sub/b").out == "b\n"
    # "dir/." copies the contents
    flat = tmp_path / "flat"
    service.docker("cp", "web:/tree/sub/.", str(flat))
    assert sorted(os.listdir(flat)) == ["a", "b"]


def test_docker_py_get_and_put_archive(service):
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=f"unix://{service.sock}")
    try:
        box = client.containers.run("busybox", "sleep 300", detach=True, name="pybox")
        assert box.put_archive("/tmp", _tar({"x.txt": b"xyz"}))
        chunks, stat = box.get_archive("/tmp/x.txt")
        assert stat["name"] == "x.txt" and stat["size"] == 3 and stat["mode"] == 0o644
        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
            assert tar.extractfile("x.txt").read() == b"xyz"
        _, stat = box.get_archive("/tmp")
        assert stat["mode"] & (1 << 31)  # Go's ModeDir: the CLI decodes the mode as os.FileMode
        with pytest.raises(docker.errors.NotFound):
            box.get_archive("/nope")
    finally:
        client.close()


@pytest.mark.parametrize("running", [True, False], ids=["running", "stopped"])
def test_symlinks_in_the_container_cannot_lead_to_the_host(service, mydocker, tmp_path, running):
    host = _host_dir(tmp_path)
    up = "../" * 12 + host.lstrip("/")
    service.docker("run", "-d", "--name", "web", "busybox", "sh", "-c",
                   f"ln -s {host} /abs; ln -s {up} /up; ln -s / /root-link; mkdir -p /tmp/in; exec sleep 300")
    deadline = time.monotonic() + 10
    while mydocker("exec", "web", "ls", "/root-link", rc=None).rc != 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    if not running:
        service.docker("stop", "-t", "0", "web")
    (tmp_path / "evil").write_text("evil\n")
    for link in ("/abs", "/up"):
        # reading through the link finds the container's own path (none), never the host's secret
        out = service.docker("cp", f"web:{link}/secret", str(tmp_path / "got"), rc=None)
        assert out.returncode != 0 and not (tmp_path / "got").exists()
        service.docker("cp", str(tmp_path / "evil"), f"web:{link}/", rc=None)
        status, _ = service.request("PUT", f"/containers/web/archive?path={link}", _tar({"evil2": b"x"}))
        assert status in (400, 404)
        # a tar entry naming the link as its parent, or climbing with ..
        service.request("PUT", "/containers/web/archive?path=/tmp/in",
                        _tar({f"..{link}/evil3": b"x", "../../../../../../evil4": b"x"}))
    service.docker("cp", str(tmp_path / "evil"), f"web:/root-link{host}/", rc=None)
    # the link to / is the container's /: its files come back, not the host's
    service.docker("cp", "web:/root-link/etc/hostname", str(tmp_path / "hn"), rc=None)
    _untouched(host)
    assert not os.path.exists("/evil4") and not os.path.exists("/evil3")
    if running:
        listing = mydocker("exec", "web", "ls", "/tmp/in", "/").out.split()
        assert "evil3" not in listing  # the tar's "../abs/evil3" has no container dir /abs/ to land in


def test_a_symlink_swapped_in_during_copies_leads_nowhere(service, mydocker, tmp_path):
    """The CVE-2018-15664 race: the container swaps /x between a directory and a symlink to a host
    path while PUTs and GETs run through it, for a bounded time."""
    host = _host_dir(tmp_path)
    service.docker("run", "-d", "--name", "web", "busybox", "sh", "-c",
                   f"while :; do rm -rf /x; mkdir /x; echo inside > /x/secret; rm -rf /x; ln -s {host} /x; done")
    puts = gets = ok = 0
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        status, _ = service.request("PUT", "/containers/web/archive?path=/x", _tar({"evil": b"evil"}))
        puts += 1
        ok += status == 200
        status, body = service.request("GET", "/containers/web/archive?path=/x/secret")
        gets += 1
        assert b"host secret" not in body
        _untouched(host)
    assert puts > 5 and gets > 5
    _untouched(host)


def test_mydocker_cp_has_dockers_syntax(mydocker, tmp_path, monkeypatch):
    host = _host_dir(tmp_path)
    cid = mydocker("run", "-d", "--name", "box", "busybox", "sh", "-c",
                   f"ln -s {host} /abs; exec sleep 300").out.strip()
    monkeypatch.chdir(tmp_path)
    try:
        mydocker("cp", "box:/etc/hostname", ".")
        assert (tmp_path / "hostname").read_text().strip() == cid[:12]
        (tmp_path / "tree" / "sub").mkdir(parents=True)
        (tmp_path / "tree" / "sub" / "f").write_text("f\n")
        mydocker("cp", "tree", "box:/copied")
        assert mydocker("exec", "box", "cat", "/copied/sub/f").out == "f\n"
        mydocker("container", "cp", "box:/copied/sub/.", str(tmp_path / "flat"))
        assert os.listdir(tmp_path / "flat") == ["f"]
        assert "Could not find the file /nope in container" in mydocker("cp", "box:/nope", ".", rc=1).err
        assert "cannot copy a directory to a file" in mydocker("cp", "tree", "box:/copied/sub/f", rc=1).err
        mydocker("cp", "box:/abs/secret", str(tmp_path / "got"), rc=1)
        mydocker("cp", "tree", "box:/abs/", rc=None)
        _untouched(host)
        assert not (tmp_path / "got").exists()
    finally:
        mydocker("rm", "-f", "box", rc=None)

"""The image endpoints of `mydocker system service` driven by the real docker CLI (and docker-py): build,
tag, rmi, history, save/load, import, commit, push and login against a local registry, prune, filters."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile

import pytest

from tests.e2e.test_api_service import each_cli, service  # noqa: F401 - the fixture
from tests.registry import Registry, need_registry

pytestmark = pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker CLI on PATH")


def _context(base: str, dockerfile: str, files: dict[str, str] | None = None) -> str:
    ctx = os.path.join(base, "ctx")
    os.makedirs(ctx, exist_ok=True)
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write(dockerfile)
    for name, text in (files or {}).items():
        with open(os.path.join(ctx, name), "w") as f:
            f.write(text)
    return ctx


APP = ("FROM busybox\nCOPY hello.txt /hello.txt\nRUN echo built-by-run && cat /hello.txt > /copy.txt\n"
       "CMD [\"cat\", \"/copy.txt\"]\n")


@each_cli
@pytest.mark.parametrize("buildkit", ["0", None])
def test_docker_build_copy_and_run(service, buildkit):
    ctx = _context(service.base, APP, {"hello.txt": "hello from the context\n"})
    if buildkit is not None:
        service.env["DOCKER_BUILDKIT"] = buildkit
    out = service.docker("build", "-t", "app", "--label", "team=api", ctx, timeout=180)
    text = out.stdout + out.stderr
    assert "Step 1/4 : FROM busybox" in text and "Step 3/4 : RUN" in text
    assert "built-by-run" in text  # RUN's output reaches the client
    assert "Successfully tagged app:latest" in text
    assert service.docker("run", "--rm", "app").stdout == "hello from the context\n"
    assert service.docker("image", "inspect", "-f", "{{.Config.Labels.team}}", "app").stdout == "api\n"
    image_id = service.docker("build", "-q", "--no-cache", "-t", "app", ctx, timeout=180).stdout.strip()
    assert "built-by-run" not in image_id  # -q: the id alone
    assert image_id == service.docker("image", "inspect", "-f", "{{.Id}}", "app").stdout.strip()


def test_docker_build_failure_and_buildargs(service):
    ctx = _context(service.base, "FROM busybox\nARG WHO=nobody\nRUN echo hi $WHO; exit 3\n")
    out = service.docker("build", "--build-arg", "WHO=tester", "-t", "bad", ctx, rc=None, timeout=180)
    assert out.returncode == 1 and "hi tester" in out.stdout + out.stderr
    assert "3" in out.stderr
    assert service.docker("images", "-q", "bad").stdout == ""


def test_tag_history_rmi_and_conflict(service):
    service.docker("tag", "busybox", "mine:v1")
    assert "mine:v1" in service.docker("image", "inspect", "-f", "{{.RepoTags}}", "busybox").stdout
    history = service.docker("history", "--no-trunc", "--format", "{{.ID}} {{.CreatedBy}}", "mine:v1").stdout
    assert history.splitlines()[0].startswith("sha256:")
    missing = service.docker("tag", "nosuch", "x", rc=1)
    assert "No such image: nosuch" in missing.stderr
    cid = service.docker("create", "mine:v1", "true").stdout.strip()
    service.docker("rmi", "busybox")  # another tag is left: only untagged
    refused = service.docker("rmi", "mine:v1", rc=1)
    assert "409" in refused.stderr or "conflict" in refused.stderr.lower() or "in use" in refused.stderr
    service.docker("rm", cid)
    out = service.docker("rmi", "mine:v1").stdout
    assert "Untagged: mine:v1" in out and "Deleted: sha256:" in out
    assert service.docker("images", "-q").stdout == ""


@each_cli
def test_save_rmi_load(service):
    service.docker("tag", "busybox", "saved:1")
    tar = os.path.join(service.base, "x.tar")
    service.docker("save", "-o", tar, "saved:1")
    with tarfile.open(tar) as t:
        assert "manifest.json" in t.getnames()
    service.docker("rmi", "saved:1")
    assert service.docker("images", "-q", "saved").stdout == ""
    out = service.docker("load", "-i", tar).stdout
    assert "Loaded image: saved:1" in out
    assert service.docker("run", "--rm", "saved:1", "echo", "back").stdout == "back\n"


def test_import_and_commit(service):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        data = b"imported\n"
        info = tarfile.TarInfo("etc/marker")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    path = os.path.join(service.base, "rootfs.tar")
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    image_id = service.docker("import", "-c", "LABEL origin=tar", path, "imp:1").stdout.strip()
    assert image_id.startswith("sha256:")
    assert service.docker("image", "inspect", "-f", "{{.Config.Labels.origin}}", "imp:1").stdout == "tar\n"

    service.docker("run", "--name", "c1", "busybox", "sh", "-c", "echo changed > /changed")
    out = service.docker("commit", "-c", 'CMD ["cat", "/changed"]', "-m", "a message", "c1", "committed:1")
    assert out.stdout.strip().startswith("sha256:")
    assert service.docker("run", "--rm", "committed:1").stdout == "changed\n"
    assert service.docker("commit", "nosuch", "x", rc=1).stderr.strip().endswith("No such container: nosuch")


def test_prune_and_filters(service):
    ctx = _context(service.base, "FROM busybox\nLABEL kind=test\nRUN echo one > /f\n")
    service.docker("build", "-t", "p:1", ctx, timeout=180)
    _context(service.base, "FROM busybox\nLABEL kind=test\nRUN echo two > /f\n")
    service.docker("build", "-t", "p:1", ctx, timeout=180)  # the first p:1 is dangling now (no child)
    dangling = service.docker("images", "-q", "-f", "dangling=true").stdout.split()
    assert len(dangling) == 1
    labelled = service.docker("images", "--format", "{{.Repository}}:{{.Tag}}", "-f", "label=kind=test").stdout.split()
    assert sorted(labelled) == ["<none>:<none>", "p:1"]  # the dangling one has the label too
    assert service.docker("images", "-q", "-f", "label=kind=other").stdout == ""
    pruned = service.docker("image", "prune", "-f").stdout
    assert "deleted: sha256:" in pruned and "Total reclaimed space: 0B" not in pruned  # the first p:1's layer
    assert service.docker("images", "-q", "-f", "dangling=true").stdout == ""
    assert service.docker("run", "--rm", "p:1", "cat", "/f").stdout == "two\n"
    bad = service.docker("images", "-f", "colour=red", rc=1)
    assert "colour" in bad.stderr


@pytest.fixture(autouse=True)
def private_auth_file(tmp_path, monkeypatch):
    """The service's own credentials file (the engine's, for a push without X-Registry-Auth): never root's.
    (DOCKER_CONFIG, not REGISTRY_AUTH_FILE: docker-registry reads REGISTRY_* as its configuration.)"""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "engine-config"))
    return tmp_path / "engine-config" / "config.json"


@pytest.fixture
def registry(tmp_path):
    need_registry()
    if shutil.which("htpasswd") is None:
        reg = Registry(str(tmp_path))
        reg.auth = None
    else:
        htpasswd = tmp_path / "htpasswd"
        subprocess.run(["htpasswd", "-Bbc", str(htpasswd), "tester", "secret"], check=True, capture_output=True)
        reg = Registry(str(tmp_path), htpasswd=str(htpasswd))
        reg.auth = ("tester", "secret")
    yield reg
    reg.stop()


def test_login_and_push_to_a_local_registry(service, registry, private_auth_file):
    name = f"{registry.host}/team/app:1"
    service.docker("tag", "busybox", name)
    if registry.auth:
        assert service.docker("push", name, rc=None, timeout=180).returncode != 0  # no credentials yet
        wrong = service.docker("login", "-u", "tester", "-p", "wrong", registry.host, rc=1)
        assert "refused the login" in wrong.stderr
        out = service.docker("login", "-u", "tester", "-p", "secret", registry.host)
        assert "Login Succeeded" in out.stdout
    out = service.docker("push", name, timeout=180).stdout
    assert "digest: sha256:" in out
    assert not private_auth_file.exists()  # the client keeps the credentials; the service sent them with the push
    with open(os.path.join(registry.data, "docker", "registry", "v2", "repositories", "team", "app",
                           "_manifests", "tags", "1", "current", "link")) as f:
        assert f.read().startswith("sha256:")


def test_docker_py_build_tag_remove(service):
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=f"unix://{service.sock}", version="1.44")
    ctx = _context(service.base, APP, {"hello.txt": "py\n"})
    image, logs = client.images.build(path=ctx, tag="pyapp:1")
    text = "".join(entry.get("stream", "") for entry in logs)
    assert "built-by-run" in text and image.id.startswith("sha256:")
    image.tag("pyapp", "2")
    assert sorted(client.images.get("pyapp:1").tags) == ["pyapp:1", "pyapp:2"]
    assert [h["Id"] for h in client.api.history("pyapp:1")][0] == image.id
    client.images.remove("pyapp:2")
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("pyapp:2")
    client.close()
    assert json.loads(json.dumps(image.attrs))["Id"] == image.id


def test_docker_build_dockerfile_option_and_stdin(service):
    ctx = _context(service.base, "FROM busybox\nRUN false\n", {"data.txt": "from -f\n"})
    os.makedirs(os.path.join(ctx, "sub"))
    with open(os.path.join(ctx, "sub", "Dockerfile.dev"), "w") as f:
        f.write("FROM busybox\nCOPY data.txt /d\nCMD [\"cat\", \"/d\"]\n")
    service.docker("build", "-f", os.path.join(ctx, "sub", "Dockerfile.dev"), "-t", "dev", ctx, timeout=180)
    assert service.docker("run", "--rm", "dev").stdout == "from -f\n"
    proc = subprocess.run(["docker", "build", "-t", "fromstdin", "-"],
                          input="FROM busybox\nCMD [\"echo\", \"stdin\"]\n",
                          capture_output=True, text=True, env=service.env, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert service.docker("run", "--rm", "fromstdin").stdout == "stdin\n"


def test_a_context_larger_than_the_json_body_limit(service):
    """The context tar is spooled to a file, not bounded as a JSON body is (16 MiB)."""
    ctx = _context(service.base, "FROM busybox\nCOPY big /big\nRUN wc -c < /big\n")
    with open(os.path.join(ctx, "big"), "wb") as f:
        f.truncate(20 * 1024 * 1024)
    out = service.docker("build", "-t", "big", ctx, timeout=180)
    assert "20971520" in out.stdout

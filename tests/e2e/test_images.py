"""Images as a user handles them: images, tag, rmi, prune, inspect, history, commit, save/load,
import/export; archives from podman and skopeo; the vfs fallback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile

import pytest

from tests.imagekit import docker_archive, layer_tar


def image_ids(mydocker) -> dict[str, str]:
    rows = mydocker("images").out.splitlines()[1:]
    return {f"{r.split()[0]}:{r.split()[1]}": r.split()[2] for r in rows}


def load_bytes(mydocker, tmp_path, data: bytes, name: str = "img.tar") -> str:
    (tmp_path / name).write_bytes(data)
    return mydocker("load", "-i", str(tmp_path / name)).out


def test_images_table_and_tag(mydocker):
    assert mydocker("images").out.split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    mydocker("run", "--rm", "busybox", "true")
    mydocker("tag", "busybox", "mybox:latest")
    ids = image_ids(mydocker)
    assert ids["busybox:latest"] == ids["mybox:latest"] and len(ids["mybox:latest"]) == 12
    assert mydocker("images", "-q").out.split() == [ids["busybox:latest"]]
    assert mydocker("images", "mybox").out.splitlines()[1].startswith("mybox ")
    doc = json.loads(mydocker("image", "inspect", "mybox").out)[0]
    assert doc["Id"].startswith("sha256:" + ids["mybox:latest"])
    assert sorted(doc["RepoTags"]) == ["busybox:latest", "mybox:latest"]
    assert doc["Config"]["Cmd"] == ["sh"] and doc["RootFS"]["Type"] == "layers"


def test_three_layer_image_runs_with_the_right_view(mydocker, tmp_path):
    base = _busybox_layer()
    layers = [base,
              layer_tar([("dir", "data"), ("file", "data/a", "a1"), ("file", "data/b", "b1"), ("dir", "data/d"),
                         ("file", "data/d/x", "x")]),
              layer_tar([("file", "data/a", "a2"), ("whiteout", "data/b"), ("dir", "data/d"), ("opaque", "data/d"),
                         ("file", "data/d/z", "z")])]
    assert "Loaded image: three:layers" in load_bytes(mydocker, tmp_path, docker_archive(layers, ["three:layers"]))
    out = mydocker("run", "--rm", "three:layers", "sh", "-c",
                   "cat /data/a; echo; ls /data; ls /data/d; test -e /data/b || echo no-b").out.split()
    assert out == ["a2", "a", "d", "z", "no-b"]


def _busybox_layer() -> bytes:
    import io
    from mydocker.image.busybox import build_layer, find_host_busybox
    buf = io.BytesIO()
    build_layer(find_host_busybox(), buf)
    return buf.getvalue()


def test_commit_then_run_shows_changes_and_deletions(mydocker):
    mydocker("run", "--name", "c1", "busybox", "sh", "-c",
             "touch /new; rm /etc/shadow; rm -rf /var; mkdir -p /var/fresh")
    image_id = mydocker("commit", "-m", "first", "-c", "ENV MODE=committed", "-c", "WORKDIR /tmp",
                        "-c", 'CMD ["sh", "-c", "echo $MODE; pwd"]', "c1", "myimage:v1").out.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    out = mydocker("run", "--rm", "myimage:v1", "sh", "-c",
                   "ls /new; test -e /etc/shadow || echo shadow-gone; ls /var").out.split()
    assert out == ["/new", "shadow-gone", "fresh"]
    assert mydocker("run", "--rm", "myimage:v1").out.split() == ["committed", "/tmp"]
    history = mydocker("history", "myimage:v1").out.splitlines()
    assert history[0].split()[:2] == ["IMAGE", "CREATED"] and len(history) == 3
    assert "mydocker commit c1" in history[1] and history[1].rstrip().endswith("first")
    assert history[2].startswith("<missing>")
    # a second commit grows the history again and hides the deletion again
    mydocker("run", "--name", "c2", "myimage:v1", "rm", "/new")
    mydocker("commit", "c2", "myimage:v2")
    assert len(mydocker("history", "-q", "myimage:v2").out.split()) == 3
    mydocker("run", "--rm", "myimage:v2", "test", "!", "-e", "/new")


def test_rmi_refuses_an_image_in_use_and_keeps_shared_layers(mydocker):
    mydocker("run", "--name", "base", "busybox", "touch", "/x")
    mydocker("commit", "base", "child:1")
    mydocker("run", "--name", "user", "child:1", "true")
    err = mydocker("rmi", "child:1", rc=1).err
    assert "in use by container user" in err
    mydocker("tag", "child:1", "child:2")
    assert mydocker("rmi", "child:1").out == "Untagged: child:1\n"  # another name remains: only untag
    mydocker("rmi", "busybox", rc=1)    # container base uses busybox
    # without the containers' images: the busybox layer child:2 needs must survive child's deletion
    mydocker("run", "--rm", "child:2", "test", "-e", "/x")


def test_rmi_deletes_blobs_no_other_image_needs(mydocker):
    mydocker("run", "--name", "cc", "busybox", "touch", "/x")
    mydocker("commit", "cc", "gone:1")
    blobs = os.path.join(mydocker.root, "image", "blobs", "sha256")
    before = set(os.listdir(blobs))
    out = mydocker("rmi", "gone:1").out.splitlines()
    assert out[0] == "Untagged: gone:1" and out[1].startswith("Deleted: sha256:")
    after = set(os.listdir(blobs))
    assert len(before - after) == 3  # manifest, config, the commit's layer; busybox's blobs stay
    mydocker("run", "--rm", "busybox", "true")
    mydocker("rmi", "nosuch:1", rc=1)


def test_image_prune_removes_untagged_images(mydocker):
    mydocker("run", "--name", "cc", "busybox", "touch", "/x")
    mydocker("commit", "cc")                       # no name: <none>:<none>
    assert "<none>" in mydocker("images").out
    out = mydocker("image", "prune", "-f").out
    assert out.startswith("Deleted Images:") and "<none>" not in mydocker("images").out
    assert "busybox" in mydocker("images").out    # tagged and in use: kept by prune -a too
    mydocker("image", "prune", "-a", "-f")
    assert "busybox" in mydocker("images").out


def test_save_rmi_load_round_trips_digests(mydocker, tmp_path):
    mydocker("run", "--name", "cc", "busybox", "sh", "-c", "echo saved > /marker")
    mydocker("commit", "cc", "saved:1")
    before = json.loads(mydocker("image", "inspect", "saved:1").out)[0]
    archive = tmp_path / "saved.tar"
    mydocker("save", "-o", str(archive), "saved:1")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("manifest.json"))
        index = json.load(tar.extractfile("index.json"))
    assert {"oci-layout", "index.json", "manifest.json", "repositories"} <= set(names)
    assert manifest[0]["RepoTags"] == ["saved:1"]
    assert index["manifests"][0]["annotations"]["io.containerd.image.name"] == "docker.io/library/saved:1"
    mydocker("rm", "cc", rc=None)
    mydocker("rmi", "-f", "saved:1")
    assert "saved" not in mydocker("images").out
    assert mydocker("load", "-i", str(archive)).out == "Loaded image: saved:1\n"
    after = json.loads(mydocker("image", "inspect", "saved:1").out)[0]
    assert after["Id"] == before["Id"] and after["RootFS"] == before["RootFS"]
    assert after["Manifest"] == before["Manifest"]
    assert mydocker("run", "--rm", "saved:1", "cat", "/marker").out == "saved\n"
    # from a pipe as well, and the OCI-only format
    oci = tmp_path / "oci.tar"
    mydocker("save", "--format", "oci-archive", "-o", str(oci), "saved:1")
    with open(oci, "rb") as f:
        proc = subprocess.run(mydocker.argv("load"), stdin=f, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == "Loaded image: saved:1\n", proc.stderr


@pytest.mark.skipif(not shutil.which("podman"), reason="needs podman")
def test_podman_loads_our_archive_and_we_load_podmans(mydocker, tmp_path):
    import tempfile
    runroot = tempfile.mkdtemp(prefix="mydocker-podman-")  # podman wants a runroot under 50 characters
    podman = ["podman", "--root", str(tmp_path / "proot"), "--runroot", runroot,
              "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"]
    rootfs_tar = tmp_path / "rootfs.tar"
    rootfs_tar.write_bytes(_busybox_layer())
    try:
        imported = subprocess.run([*podman, "import", "--change", "CMD [\"sh\"]", str(rootfs_tar), "pbox:1"],
                                  capture_output=True, text=True)
        assert imported.returncode == 0, imported.stderr
        for fmt in ("docker-archive", "oci-archive"):
            out = tmp_path / f"p-{fmt}.tar"
            subprocess.run([*podman, "save", "--format", fmt, "-o", str(out), "pbox:1"], check=True,
                           capture_output=True)
            assert mydocker("load", "-i", str(out)).out == "Loaded image: localhost/pbox:1\n"
            assert mydocker("run", "--rm", "localhost/pbox:1", "echo", fmt).out == f"{fmt}\n"
            mydocker("rmi", "localhost/pbox:1")
        # and podman loads what we save
        mydocker("run", "--rm", "busybox", "true")
        ours = tmp_path / "ours.tar"
        mydocker("save", "-o", str(ours), "busybox")
        loaded = subprocess.run([*podman, "load", "-i", str(ours)], capture_output=True, text=True)
        assert loaded.returncode == 0 and "busybox:latest" in loaded.stdout, loaded.stderr
    finally:
        subprocess.run([*podman, "system", "reset", "-f"], capture_output=True)
        shutil.rmtree(runroot, ignore_errors=True)


@pytest.mark.skipif(not shutil.which("skopeo"), reason="needs skopeo")
def test_skopeo_written_archive_loads_and_runs(mydocker, tmp_path):
    mydocker("run", "--rm", "busybox", "true")
    layout = os.path.join(mydocker.root, "image")  # our store is an OCI layout: skopeo reads it
    out = tmp_path / "skopeo.tar"
    subprocess.run(["skopeo", "copy", "--dest-compress", f"oci:{layout}:docker.io/library/busybox:latest",
                    f"docker-archive:{out}:skopeo/box:2"], check=True, capture_output=True)
    mydocker("rmi", "busybox")
    assert mydocker("load", "-i", str(out)).out == "Loaded image: skopeo/box:2\n"
    assert mydocker("run", "--rm", "skopeo/box:2", "echo", "ok").out == "ok\n"


def test_import_and_export(mydocker, tmp_path):
    rootfs = tmp_path / "rootfs.tar"
    rootfs.write_bytes(_busybox_layer())
    import gzip
    (tmp_path / "rootfs.tgz").write_bytes(gzip.compress(rootfs.read_bytes()))
    image_id = mydocker("import", "-c", "CMD [\"echo\", \"imported\"]", "-m", "from a tar",
                        str(tmp_path / "rootfs.tgz"), "flat:1").out.strip()
    assert image_id.startswith("sha256:")
    assert mydocker("run", "--name", "cc", "flat:1").out == "imported\n"
    with open(rootfs, "rb") as f:
        proc = subprocess.run(mydocker.argv("import", "-", "flat:2"), stdin=f, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    mydocker("run", "--name", "c2", "flat:2", "sh", "-c", "echo exported > /proof; rm /etc/shadow")
    out = tmp_path / "c2.tar"
    mydocker("export", "-o", str(out), "c2")
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
        assert tar.extractfile("proof").read() == b"exported\n"
    assert "bin/busybox" in names and "etc/shadow" not in names
    assert not any(".wh." in n for n in names)
    with open(tmp_path / "stdout.tar", "wb") as f:
        assert subprocess.run(mydocker.argv("export", "c2"), stdout=f).returncode == 0
    assert os.path.getsize(tmp_path / "stdout.tar") == os.path.getsize(out)


def test_hostile_image_cannot_write_outside(mydocker, tmp_path):
    victim = tmp_path / "victim"
    layers = [_busybox_layer(),
              layer_tar([("file", str(tmp_path / "abs-evil"), "evil"), ("symlink", "root", "/"),
                         ("file", f"root{tmp_path}/via-link", "evil"), ("hardlink", "steal", str(victim))])]
    victim.write_text("host")
    (tmp_path / "evil1.tar").write_bytes(docker_archive(layers, ["evil:1"]))
    err = mydocker("load", "-i", str(tmp_path / "evil1.tar"), rc=1).err  # refused as it enters the store
    assert "hard link" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "abs-evil").exists() and not (tmp_path / "via-link").exists()
    assert victim.read_text() == "host" and os.stat(victim).st_nlink == 1
    layers[1] = layer_tar([("file", "../../../evil-dotdot", "evil")])
    (tmp_path / "evil2.tar").write_bytes(docker_archive(layers, ["evil:2"]))
    err = mydocker("load", "-i", str(tmp_path / "evil2.tar"), rc=1).err
    assert "outside the layer" in err and len(err.strip().splitlines()) == 1
    assert mydocker("images", "-q").out.strip() == ""


def test_info_reports_the_driver_and_vfs_fallback_works(mydocker, bindir):
    assert " Storage Driver: overlay\n" in mydocker("info").out
    env = dict(os.environ, MYDOCKER_STORAGE_DRIVER="vfs")
    proc = subprocess.run(mydocker.argv("info"), env=env, capture_output=True, text=True)
    assert " Storage Driver: vfs\n" in proc.stdout
    proc = subprocess.run(mydocker.argv("run", "--name", "vv", "busybox", "sh", "-c", "touch /vfs; ls /bin/sh"),
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == "/bin/sh\n", proc.stderr
    mydocker("commit", "vv", "fromvfs:1")
    mydocker("run", "--rm", "fromvfs:1", "ls", "/vfs")


def test_bad_image_input_is_one_line(mydocker, tmp_path):
    (tmp_path / "junk.tar").write_bytes(b"not a tar at all" * 100)
    for args in (["load", "-i", str(tmp_path / "junk.tar")], ["load", "-i", str(tmp_path / "missing.tar")],
                 ["import", str(tmp_path / "junk.tar")], ["tag", "nosuch", "x"], ["history", "nosuch"],
                 ["image", "inspect", "nosuch"], ["commit", "nosuch"], ["image", "bogus"]):
        err = mydocker(*args, rc=1).err  # Docker's CLI: 1 for a failure and for an unknown command
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, args

"""Labels on containers, images, networks and volumes (Docker's --label, --label-file, build --label),
shown by inspect and selected by the label= filters of ps, images, network ls and volume ls."""

from __future__ import annotations

import json


def test_container_labels_from_flags_file_and_image(mydocker, tmp_path):
    (tmp_path / "labels").write_text("# a comment\n\n  team=core\nowner=file\n")
    build = tmp_path / "ctx"
    build.mkdir()
    (build / "Dockerfile").write_text("FROM busybox\nLABEL from.image=yes owner=image\n")
    mydocker("build", "-q", "-t", "labelled", str(build))
    cid = mydocker("create", "--name", "c1", "--label-file", str(tmp_path / "labels"), "--label", "owner=flag",
                   "-l", "bare", "labelled", "true").out.strip()
    labels = json.loads(mydocker("inspect", cid).out)[0]["Config"]["Labels"]
    assert labels == {"from.image": "yes", "owner": "flag", "team": "core", "bare": ""}
    mydocker("create", "--name", "c2", "--label", "team=edge", "busybox", "true")
    assert mydocker("ps", "-a", "-q", "-f", "label=team").out.count("\n") == 2
    assert mydocker("ps", "-a", "--format", "{{.Names}}", "-f", "label=team=core").out == "c1\n"
    assert mydocker("ps", "-a", "--format", "{{.Names}}", "-f", "label=team=edge").out == "c2\n"
    assert mydocker("ps", "-a", "--format", "{{.Names}}", "-f", "label=bare", "-f", "label=team").out == "c1\n"
    assert mydocker("ps", "-a", "-q", "-f", "label=nobody").out == ""
    mydocker("rm", "c1", "c2")
    mydocker("rmi", "labelled")


def test_bad_label_file_is_one_clear_line(mydocker, tmp_path):
    err = mydocker("run", "--rm", "--label-file", str(tmp_path / "missing"), "busybox", "true", rc=125).err
    assert "label file" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "bad").write_text("bad key=1\n")
    err = mydocker("run", "--rm", "--label-file", str(tmp_path / "bad"), "busybox", "true", rc=125).err
    assert "line 1" in err and len(err.strip().splitlines()) == 1
    assert mydocker("ps", "-a", "-q").out == ""


def test_build_label_and_images_filter(mydocker, tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox\nLABEL stage=one\n")
    mydocker("build", "-q", "-t", "lab:1", "--label", "version=1.0", "--label", "stage=override",
             "--label", 'literal=$HOME "q" \\', str(tmp_path))
    labels = json.loads(mydocker("image", "inspect", "lab:1").out)[0]["Config"]["Labels"]
    assert labels == {"stage": "override", "version": "1.0", "literal": '$HOME "q" \\'}
    out = mydocker("images", "-f", "label=version=1.0").out
    assert "lab" in out and "busybox" not in out, out
    assert "lab" not in mydocker("images", "-f", "label=version=2.0").out
    assert "lab" in mydocker("images", "-f", "label=stage").out
    err = mydocker("images", "-f", "colour=red", rc=1).err
    assert "invalid filter" in err
    mydocker("rmi", "lab:1")


def test_network_and_volume_labels_and_filters(mydocker):
    mydocker("network", "create", "--label", "env=test", "--label", "tier", "lnet1")
    mydocker("network", "create", "--label", "env=prod", "lnet2")
    try:
        assert json.loads(mydocker("network", "inspect", "lnet1").out)[0]["Labels"] == {"env": "test", "tier": ""}
        names = mydocker("network", "ls", "-f", "label=env").out
        assert "lnet1" in names and "lnet2" in names
        names = mydocker("network", "ls", "-f", "label=env=prod").out
        assert "lnet2" in names and "lnet1" not in names
        names = mydocker("network", "ls", "-f", "label=tier", "-f", "label=env=test").out
        assert "lnet1" in names and "lnet2" not in names
    finally:
        mydocker("network", "rm", "lnet1", "lnet2")
    mydocker("volume", "create", "--label", "keep=yes", "v1")
    mydocker("volume", "create", "--label", "keep=no", "v2")
    assert json.loads(mydocker("volume", "inspect", "v1").out)[0]["Labels"] == {"keep": "yes"}
    assert mydocker("volume", "ls", "-q", "-f", "label=keep=yes").out == "v1\n"
    assert mydocker("volume", "ls", "-q", "-f", "label=keep").out == "v1\nv2\n"
    assert mydocker("volume", "ls", "-q", "-f", "label=other").out == ""
    mydocker("volume", "rm", "v1", "v2")

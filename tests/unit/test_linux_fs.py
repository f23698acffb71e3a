"""remove_tree: shutil.rmtree(ignore_errors=True) without shutil, and never through a symlink;
write_atomic: a file replaced whole or not at all."""

import _thread
import os

import pytest

from mydocker.linux.fs import remove_tree, write_atomic


@pytest.mark.parametrize("parallel", [False, True])
def test_removes_a_tree_with_files_links_and_empty_dirs(tmp_path, parallel):
    root = tmp_path / "tree"
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "a" / "file").write_text("x")
    (root / "a" / "b" / "fifo").parent.mkdir(exist_ok=True)
    os.mkfifo(root / "a" / "b" / "fifo")
    os.symlink("/nonexistent", root / "dangling")
    remove_tree(str(root), parallel=parallel)
    assert not root.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("parallel", [False, True])
def test_symlinks_inside_are_removed_not_followed(tmp_path, parallel):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep")
    root = tmp_path / "tree"
    root.mkdir()
    os.symlink(outside, root / "link-to-dir")
    (root / "sub").mkdir()
    os.symlink(outside / "precious", root / "sub" / "link-to-file")
    remove_tree(str(root), parallel=parallel)
    assert not root.exists()
    assert (outside / "precious").read_text() == "keep"


def test_parallel_removal_of_a_container_like_tree_leaves_no_thread(tmp_path):
    """Each top-level directory in a thread of its own; all of them joined before it returns."""
    root = tmp_path / "container"
    for d in ("upper/etc", "work/work", "rootfs", *(f"extra{i}/x/y" for i in range(20))):
        (root / d).mkdir(parents=True)
    for f in ("upper/etc/hosts", "config.json", "lowers.json", *(f"extra{i}/x/y/f" for i in range(20))):
        (root / f).write_text("x")
    threads_before = _thread._count()
    remove_tree(str(root), parallel=True)
    assert not root.exists()
    assert _thread._count() == threads_before


def test_a_symlink_given_as_the_tree_is_removed_alone(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    (target / "f").write_text("keep")
    os.symlink(target, tmp_path / "link")
    remove_tree(str(tmp_path / "link"))
    assert not os.path.lexists(tmp_path / "link") and (target / "f").exists()


def test_a_missing_path_is_fine(tmp_path):
    remove_tree(str(tmp_path / "nothing-here"))


def test_write_atomic_replaces_text_or_bytes_whole_with_the_mode_asked(tmp_path):
    path = tmp_path / "doc.json"
    write_atomic(str(path), "old")
    write_atomic(str(path), b"new")
    assert path.read_bytes() == b"new" and os.listdir(tmp_path) == ["doc.json"]
    write_atomic(str(tmp_path / "secret"), "x", mode=0o600)
    assert (tmp_path / "secret").stat().st_mode & 0o777 == 0o600


def test_write_atomic_that_fails_midway_leaves_the_old_content(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("old")
    with pytest.raises(TypeError):
        write_atomic(str(path), ["not", "text"])  # fails after the new file was opened
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["config.json"]

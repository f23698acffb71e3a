"""remove_tree: shutil.rmtree(ignore_errors=True) without shutil, and never through a symlink."""

import os

from mydocker.linux.fs import remove_tree


def test_removes_a_tree_with_files_links_and_empty_dirs(tmp_path):
    root = tmp_path / "tree"
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "a" / "file").write_text("x")
    (root / "a" / "b" / "fifo").parent.mkdir(exist_ok=True)
    os.mkfifo(root / "a" / "b" / "fifo")
    os.symlink("/nonexistent", root / "dangling")
    remove_tree(str(root))
    assert not root.exists() and list(tmp_path.iterdir()) == []


def test_symlinks_inside_are_removed_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep")
    root = tmp_path / "tree"
    root.mkdir()
    os.symlink(outside, root / "link-to-dir")
    (root / "sub").mkdir()
    os.symlink(outside / "precious", root / "sub" / "link-to-file")
    remove_tree(str(root))
    assert not root.exists()
    assert (outside / "precious").read_text() == "keep"


def test_a_symlink_given_as_the_tree_is_removed_alone(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    (target / "f").write_text("keep")
    os.symlink(target, tmp_path / "link")
    remove_tree(str(tmp_path / "link"))
    assert not os.path.lexists(tmp_path / "link") and (target / "f").exists()


def test_a_missing_path_is_fine(tmp_path):
    remove_tree(str(tmp_path / "nothing-here"))

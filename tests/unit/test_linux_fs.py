"""remove_tree: shutil.rmtree(ignore_errors=True) without shutil, and never through a symlink;
move_into and clear_detached: a tree moved aside and removed by an `rm` nobody waits for;
write_atomic: a file replaced whole or not at all."""

import _thread
import os
import time

import pytest

from mydocker.linux import fs
from mydocker.linux.fs import clear_detached, move_into, remove_tree, write_atomic


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


def test_move_into_makes_the_directory_private_and_moves_the_tree_whole(tmp_path):
    tree = tmp_path / "containers" / "c1"
    (tree / "upper").mkdir(parents=True)
    (tree / "config.json").write_text("{}")
    trash = tmp_path / "trash"
    assert move_into(str(tree), str(trash)) == str(trash / "c1")
    assert not tree.exists() and (trash / "c1" / "config.json").read_text() == "{}"
    assert os.stat(trash).st_mode & 0o777 == 0o700
    assert move_into(str(tree), str(trash)) is None  # gone already


def test_move_into_where_the_name_is_taken_moves_nothing(tmp_path):
    tree, trash = tmp_path / "c1", tmp_path / "trash"
    (tree / "a").mkdir(parents=True)
    (trash / "c1" / "b").mkdir(parents=True)
    assert move_into(str(tree), str(trash)) is None
    assert (tree / "a").is_dir()


def _wait_empty(directory, seconds=5.0) -> list[str]:
    deadline = time.monotonic() + seconds
    while os.listdir(directory) and time.monotonic() < deadline:
        time.sleep(0.01)
    return os.listdir(directory)


def test_clear_detached_removes_every_entry_in_an_rm_of_its_own_session(tmp_path, monkeypatch):
    """Its entries, a leftover of an earlier removal too, by a spawned `rm` (setsid, stdio on
    /dev/null) that the caller does not wait for; a link in them is removed, not followed."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep")
    trash = tmp_path / "trash"
    for name in ("c1", "leftover"):
        (trash / name / "upper" / "etc").mkdir(parents=True)
        (trash / name / "upper" / "etc" / "hosts").write_text("x")
        os.symlink(outside, trash / name / "link")
    spawned = []
    real_spawn = os.posix_spawn

    def spawn(path, argv, env, **kwargs):
        spawned.append((argv, kwargs))
        return real_spawn(path, argv, env, **kwargs)
    monkeypatch.setattr(os, "posix_spawn", spawn)
    clear_detached(str(trash))
    ((argv, kwargs),) = spawned
    assert argv[:3] == ["rm", "-rf", "--"] and sorted(argv[3:]) == [str(trash / "c1"), str(trash / "leftover")]
    assert kwargs["setsid"] is True and kwargs["file_actions"][0][2] == os.devnull
    assert _wait_empty(trash) == [] and (outside / "precious").read_text() == "keep"
    clear_detached(str(trash))  # nothing to remove: nothing spawned, and the earlier rm is reaped
    assert len(spawned) == 1 and _reaped(fs._spawned)


def _reaped(pids, seconds=5.0) -> bool:
    deadline = time.monotonic() + seconds
    while pids and time.monotonic() < deadline:
        time.sleep(0.01)
        fs.clear_detached("/nonexistent")
    return not pids


def test_clear_detached_without_an_rm_removes_here(tmp_path, monkeypatch):
    monkeypatch.setattr(fs, "_RM", (str(tmp_path / "no-rm"),))
    trash = tmp_path / "trash"
    (trash / "c1" / "work" / "work").mkdir(parents=True)
    clear_detached(str(trash))
    assert os.listdir(trash) == []


def test_clear_detached_of_a_missing_directory_is_fine(tmp_path):
    clear_detached(str(tmp_path / "none"))


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

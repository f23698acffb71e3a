from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as s

from mydocker.runtime.paths import secure_join


def test_symlinks_resolve_inside_root(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/", root / "evil")
    os.symlink("../../../..", root / "etc" / "up")
    os.symlink("/etc", root / "abs")
    assert secure_join(str(root), "/evil/etc/passwd") == f"{root}/etc/passwd"
    assert secure_join(str(root), "/etc/up/tmp") == f"{root}/tmp"
    assert secure_join(str(root), "/abs/x") == f"{root}/etc/x"
    assert secure_join(str(root), "../../..") == str(root)


def test_symlink_loop_is_an_error(tmp_path):
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    try:
        secure_join(str(tmp_path), "/a/x")
    except OSError as e:
        assert e.errno == 40
    else:
        raise AssertionError("a loop must not resolve")


@settings(max_examples=200)
@given(s.lists(s.sampled_from(["..", ".", "a", "b", "evil", "up", "", "x/../..", "/"]), max_size=12))
def test_result_never_leaves_root(tmp_path_factory, parts):
    root = tmp_path_factory.getbasetemp() / "paths-root"
    if not root.exists():
        (root / "a").mkdir(parents=True)
        os.symlink("/", root / "evil")
        os.symlink("../../..", root / "a" / "up")
    result = secure_join(str(root), "/".join(parts))
    assert result == str(root) or result.startswith(str(root) + "/")

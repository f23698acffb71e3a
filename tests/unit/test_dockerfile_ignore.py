""".dockerignore matching and COPY source globs (Go filepath.Match with Docker's ** and ! exceptions)."""

from __future__ import annotations

import pytest

from mydocker.engine.build_context import glob_sources, ignored, read_dockerignore


def rules(tmp_path, text: str):
    (tmp_path / ".dockerignore").write_text(text)
    return read_dockerignore(str(tmp_path))


@pytest.mark.parametrize("text,path,excluded", [
    ("*.key\n", "a.key", True),
    ("*.key\n", "sub/a.key", False),          # * does not cross directories
    ("**/*.key\n", "sub/deep/a.key", True),
    ("**/*.key\n", "a.key", True),
    ("build\n", "build/out/x", True),         # a directory excludes what is inside
    ("/build\n", "build/x", True),
    ("build\n", "builder", False),
    ("*.md\n!README.md\n", "README.md", False),
    ("*.md\n!README.md\n", "OTHER.md", True),
    ("!README.md\n*.md\n", "README.md", True),  # the last match wins
    ("# comment\n\n  \n", "anything", False),
    ("docs/?.txt\n", "docs/a.txt", True),
    ("docs/?.txt\n", "docs/ab.txt", False),
    ("[ab].txt\n", "b.txt", True),
    ("[^ab].txt\n", "c.txt", True),  # Go negates with ^
])
def test_dockerignore(tmp_path, text, path, excluded):
    assert ignored(rules(tmp_path, text), path) is excluded


def test_no_dockerignore_ignores_nothing(tmp_path):
    assert read_dockerignore(str(tmp_path)) == []
    assert ignored([], "x") is False


def test_glob_matches_per_component_and_respects_ignore(tmp_path):
    for name in ("a.py", "b.py", "c.txt", "pkg/d.py", "pkg/e.py"):
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        path.write_text("x")
    root = str(tmp_path)
    assert glob_sources(root, "*.py", []) == ["a.py", "b.py"]
    assert glob_sources(root, "pkg/*.py", []) == ["pkg/d.py", "pkg/e.py"]
    assert glob_sources(root, "*/d.py", []) == ["pkg/d.py"]
    assert glob_sources(root, "../../etc/passwd", []) == []  # sources stay inside the context
    assert glob_sources(root, ".", []) == ["."]
    assert glob_sources(root, "*.py", rules(tmp_path, "b.py\n")) == ["a.py"]
    assert glob_sources(root, "nothing*", []) == []

"""No line of Python in mydocker/, bench/ or tests/ is wider than 120 columns (the house style)."""

from __future__ import annotations

import os
import unicodedata

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCOPE = ("mydocker", "bench", "tests")
LIMIT = 120


def columns(line: str) -> int:
    """The width a terminal gives `line`: a wide (CJK) character takes two columns."""
    if line.isascii():
        return len(line)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def test_no_line_is_wider_than_120_columns() -> None:
    wide = []
    for top in SCOPE:
        for directory, subdirs, files in os.walk(os.path.join(REPO, top)):
            subdirs[:] = [d for d in subdirs if d != "__pycache__"]
            for name in sorted(files):
                if not name.endswith(".py"):
                    continue
                path = os.path.join(directory, name)
                with open(path, encoding="utf-8") as f:
                    for number, line in enumerate(f, 1):
                        if (width := columns(line.rstrip("\n"))) > LIMIT:
                            wide.append(f"{os.path.relpath(path, REPO)}:{number}: {width} columns")
    assert not wide, f"lines wider than {LIMIT} columns: wrap them\n" + "\n".join(wide)

"""The committed syscall table matches the kernel headers it was generated from.

Regenerate with `python3 tests/unit/test_seccomp_table.py --write` after a kernel-headers update.
"""

from __future__ import annotations

import os
import re
import sys

import pytest

HEADERS = "/usr/include/x86_64-linux-gnu/asm"
ARCHES = (("X86_64", "unistd_64.h"), ("X86", "unistd_32.h"), ("X32", "unistd_x32.h"))
X32_BIT = 0x40000000
TABLE = os.path.join(os.path.dirname(__file__), "..", "..", "mydocker", "runtime", "seccomp_table.py")
_DEFINE = re.compile(r"#define __NR_(\w+)\s+\(?(?:__X32_SYSCALL_BIT \+ )?(\d+)\)?\s*$")


def parse(path: str) -> dict[str, int]:
    out = {}
    with open(path) as f:
        for line in f:
            m = _DEFINE.match(line.strip())
            if m:
                out[m.group(1)] = int(m.group(2)) | (X32_BIT if "X32_SYSCALL_BIT" in line else 0)
    return out


def render() -> str:
    lines = ['"""Syscall numbers for the seccomp compiler. Generated from the kernel headers in',
             f'{HEADERS} by tests/unit/test_seccomp_table.py --write: do not edit."""', ""]
    for arch, header in ARCHES:
        table = parse(os.path.join(HEADERS, header))
        lines.append(f"{arch} = {{")
        lines += [f"    {name!r}: {nr}," for name, nr in sorted(table.items(), key=lambda kv: kv[1])]
        lines.append("}")
        lines.append("")
    return "\n".join(lines)


@pytest.mark.skipif(not os.path.isdir(HEADERS), reason="kernel headers (linux-libc-dev) not installed")
def test_table_matches_headers():
    with open(TABLE) as f:
        assert f.read() == render(), "regenerate with: python3 tests/unit/test_seccomp_table.py --write"


def test_table_has_the_well_known_numbers():
    from mydocker.runtime import seccomp_table as t
    assert t.X86_64["read"] == 0 and t.X86_64["execve"] == 59 and t.X86_64["clone3"] == 435
    assert t.X86["execve"] == 11 and t.X86["socketcall"] == 102
    assert t.X32["read"] == X32_BIT and t.X32["execve"] == X32_BIT + 520


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    with open(TABLE, "w") as f:
        f.write(render())

"""Make and apply layer tars.

`apply_layer` refuses members that would land outside the target (absolute names, `..`,
hard links leaving the layer) and applies the rest with ownership, modes and links intact.
"""

from __future__ import annotations

import os
import tarfile

from mydocker.errors import InvalidArgument


def _check_member(member: tarfile.TarInfo) -> None:
    name = member.name
    parts = name.split("/")
    if name.startswith("/") or ".." in parts:
        raise InvalidArgument(f"layer entry {name!r} points outside the layer: refused")
    if member.islnk() and (member.linkname.startswith("/") or ".." in member.linkname.split("/")):
        raise InvalidArgument(f"layer hard link {name!r} -> {member.linkname!r} leaves the layer: refused")


def apply_layer(tar_path: str, target: str) -> None:
    with tarfile.open(tar_path, "r:*") as tar:
        members = tar.getmembers()
        for member in members:
            _check_member(member)
        tar.extractall(target, members=members, numeric_owner=True, filter="fully_trusted")

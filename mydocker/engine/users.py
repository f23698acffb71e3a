"""Resolve `-u name[:group]` against the container's own /etc/passwd and /etc/group."""

from __future__ import annotations

from mydocker.recordclass import factory, record

from mydocker.errors import InvalidArgument
from mydocker.runtime.api import secure_join


@record
class ResolvedUser:
    uid: int
    gid: int
    home: str = "/"
    additional_gids: list[int] = factory(list)


def _read(rootfs: str, path: str) -> list[list[str]]:
    try:
        with open(secure_join(rootfs, path), errors="replace") as f:
            return [line.rstrip("\n").split(":") for line in f if line.strip() and not line.startswith("#")]
    except OSError:
        return []


def resolve_user(rootfs: str, spec: str | None) -> ResolvedUser:
    user, _, group = (spec or "").partition(":")
    user = user or "0"
    passwd = [e for e in _read(rootfs, "/etc/passwd") if len(e) >= 7]
    entry = next((e for e in passwd if e[0] == user or (user.isdigit() and e[2] == user)), None)
    if entry is None and not user.isdigit():
        raise InvalidArgument(f"unable to find user {user}: no matching entries in the image's /etc/passwd")
    uid = int(user) if user.isdigit() else int(entry[2])
    gid = int(entry[3]) if entry else 0
    groups = [e for e in _read(rootfs, "/etc/group") if len(e) >= 4]
    if group:
        found = next((g for g in groups if g[0] == group or (group.isdigit() and g[2] == group)), None)
        if found is None and not group.isdigit():
            raise InvalidArgument(f"unable to find group {group}: no matching entries in the image's /etc/group")
        gid = int(group) if group.isdigit() else int(found[2])
    # Like runc: the primary group is always a supplementary group too, then the user's memberships.
    extra = [gid]
    if entry and not group:
        extra += sorted({int(g[2]) for g in groups if entry[0] in g[3].split(",") and int(g[2]) != gid})
    return ResolvedUser(uid, gid, entry[5] if entry else "/", extra)

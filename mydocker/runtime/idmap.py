"""Write a new user namespace's uid_map and gid_map, as root or as an ordinary user.

Root writes /proc/<pid>/{uid,gid}_map itself. An ordinary user may write only its own id that way
(and must deny setgroups first, the kernel's rule for an unprivileged gid_map); anything wider goes
through the setuid helpers newuidmap/newgidmap (Debian's `uidmap`), which allow the user's own id
and its ranges in /etc/subuid and /etc/subgid. Those ranges are checked here first, so a mapping
outside them fails with one line naming the range rather than the helper's words.
"""

from __future__ import annotations

import os

from mydocker.errors import InvalidArgument
from mydocker.runtime.oci_config import IDMapping

SUBID_FILES = {"uid": "/etc/subuid", "gid": "/etc/subgid"}
HELPERS = {"uid": "newuidmap", "gid": "newgidmap"}


def write_id_maps(pid: int, uid_maps: list[IDMapping], gid_maps: list[IDMapping]) -> None:
    """Map the user namespace of process `pid` (a child waiting for it) as the config says."""
    if not uid_maps or not gid_maps:
        raise InvalidArgument("config.json: linux.uidMappings and linux.gidMappings are required "
                              "with a new user namespace")
    if os.geteuid() == 0:
        _write(pid, "uid", uid_maps)
        _write(pid, "gid", gid_maps)
        return
    own = {"uid": os.geteuid(), "gid": os.getegid()}
    maps = {"uid": uid_maps, "gid": gid_maps}
    if all(_only_own(maps[kind], own[kind]) for kind in maps):
        _write(pid, "uid", uid_maps)
        _deny_setgroups(pid)  # the kernel's condition for an unprivileged gid_map
        _write(pid, "gid", gid_maps)
        return
    user = _user_name(own["uid"])
    for kind in ("uid", "gid"):
        allowed = [(own[kind], 1), *subordinate_ranges(SUBID_FILES[kind], user, own["uid"])]
        for m in maps[kind]:
            if not any(start <= m.host_id and m.host_id + m.size <= start + size for start, size in allowed):
                ranges = ", ".join(f"{start}-{start + size - 1}" for start, size in allowed)
                raise InvalidArgument(
                    f"config.json: linux.{kind}Mappings maps {m.container_id}-{m.container_id + m.size - 1} to host "
                    f"{kind}s {m.host_id}-{m.host_id + m.size - 1}, outside what {kind} "
                    f"{own['uid'] if kind == 'uid' else own['gid']} "
                    f"may use ({ranges}; ranges come from {SUBID_FILES[kind]}): map into those")
        _run_helper(pid, kind, maps[kind])


def subordinate_ranges(path: str, user: str | None, uid: int) -> list[tuple[int, int]]:
    """(start, count) of each line of /etc/subuid or /etc/subgid that names the user or its uid."""
    names = {str(uid)} | ({user} if user else set())
    ranges = []
    try:
        with open(path) as f:
            for line in f:
                fields = line.strip().split(":")
                if len(fields) == 3 and fields[0] in names and fields[1].isdigit() and fields[2].isdigit():
                    ranges.append((int(fields[1]), int(fields[2])))
    except FileNotFoundError:
        pass
    return ranges


def _only_own(maps: list[IDMapping], own: int) -> bool:
    return len(maps) == 1 and maps[0].size == 1 and maps[0].host_id == own


def _user_name(uid: int) -> str | None:
    """The user's name from /etc/passwd (pwd would do the same; the files are what newuidmap reads)."""
    try:
        with open("/etc/passwd") as f:
            for line in f:
                fields = line.split(":")
                if len(fields) > 2 and fields[2] == str(uid):
                    return fields[0]
    except FileNotFoundError:
        pass
    return None


def _write(pid: int, kind: str, maps: list[IDMapping]) -> None:
    text = "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in maps)
    try:
        with open(f"/proc/{pid}/{kind}_map", "w") as f:
            f.write(text)
    except OSError as e:
        raise InvalidArgument(f"config.json: linux.{kind}Mappings rejected by the kernel "
                              f"({e.strerror}): {text.strip()!r}") from None


def _deny_setgroups(pid: int) -> None:
    with open(f"/proc/{pid}/setgroups", "w") as f:
        f.write("deny")


def _run_helper(pid: int, kind: str, maps: list[IDMapping]) -> None:
    import subprocess  # only here: root and single-id mappings never need it (start-up budget)
    argv = [HELPERS[kind], str(pid)] + [str(n) for m in maps for n in (m.container_id, m.host_id, m.size)]
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, check=False)
    except FileNotFoundError:
        raise InvalidArgument(f"config.json: linux.{kind}Mappings needs {HELPERS[kind]} to map more than your own "
                              f"{kind}: install Debian's uidmap package, or map only your own {kind}") from None
    if done.returncode != 0:
        said = " ".join(done.stdout.split())
        raise InvalidArgument(f"config.json: linux.{kind}Mappings: {HELPERS[kind]} refused the mapping: {said}")

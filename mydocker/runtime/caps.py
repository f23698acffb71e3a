"""process.capabilities: the five capability sets, applied in runc's order.

    drop from the bounding set → keep caps across setuid → switch user → capset(eff, prm, inh) → ambient

Names are "CAP_CHOWN" style (the spec's); an unknown name is an error naming the field, a name the
running kernel does not know (newer than it) is skipped, as runc does.
"""

from __future__ import annotations

import os

from mydocker.errors import InvalidArgument
from mydocker.linux import syscalls as sc

NAMES = ("CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
         "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
         "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
         "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE",
         "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
         "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE")
NUMBERS = {f"CAP_{name}": number for number, name in enumerate(NAMES)}
SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")


_last_cap: int | None = None


def last_cap() -> int:
    """The kernel's highest capability number, read once per process (the init asks three times,
    the last after pivot_root, where /proc may be the container's or none)."""
    global _last_cap
    if _last_cap is None:
        try:
            with open("/proc/sys/kernel/cap_last_cap") as f:
                _last_cap = int(f.read())
        except OSError:
            return len(NAMES) - 1
    return _last_cap


def to_masks(capabilities: dict, last: int) -> dict[str, int]:
    """{"bounding": [...names]} -> {"bounding": mask}; sets left out of the config are None."""
    masks = {}
    for kind in SETS:
        names = capabilities.get(kind)
        if names is None:
            masks[kind] = None
            continue
        if not isinstance(names, list):
            raise InvalidArgument(f"config.json: process.capabilities.{kind} must be a list of names such as CAP_CHOWN")
        mask = 0
        for name in names:
            number = NUMBERS.get(str(name).upper())
            if number is None:
                raise InvalidArgument(f"config.json: process.capabilities.{kind}: unknown capability {name!r}; "
                                      "use names such as CAP_CHOWN")
            if number <= last:
                mask |= 1 << number
        masks[kind] = mask
    return masks


def check_held(masks: dict[str, int | None], last: int) -> None:
    """Fail at `create`, as runc does, when the config asks for capabilities this runtime does not
    hold itself: capset would refuse them only after `start` had already reported success."""
    wanted = 0
    for kind in ("effective", "permitted", "inheritable"):
        wanted |= masks.get(kind) or 0
    # the bounding set read for the capabilities asked for only (a prctl each: ~14 of ~41 for Docker's default)
    bounding = sum(1 << n for n in range(last + 1) if wanted & (1 << n) and sc.prctl(sc.PR_CAPBSET_READ, n) == 1)
    held = sc.capget()[1] & bounding
    missing = [f"CAP_{NAMES[n]}" for n in range(last + 1) if wanted & ~held & (1 << n)]
    if missing:
        raise InvalidArgument(f"config.json: process.capabilities asks for {', '.join(missing)}, which the runtime "
                              "itself does not hold: remove them from the config or run the runtime with them")


def drop_bounding(masks: dict[str, int | None], last: int) -> None:
    """Before the user switch: dropping from the bounding set needs CAP_SETPCAP."""
    bounding = masks.get("bounding")
    if bounding is None:
        return
    for number in range(last + 1):
        if not bounding & (1 << number):
            sc.prctl(sc.PR_CAPBSET_DROP, number)


def switch_user(uid: int, gid: int, groups: list[int], keep_caps: bool) -> None:
    if keep_caps:
        sc.prctl(sc.PR_SET_KEEPCAPS, 1)
    try:
        os.setgroups(groups)
    except PermissionError:
        if not _setgroups_denied():
            raise
        # An ordinary user's single-id user namespace denies setgroups: the groups stay as inherited
        # (runc's too), which is enough when no group beyond the primary one is asked for.
        if set(groups) - {gid}:
            raise PermissionError(1, f"supplementary groups {sorted(set(groups) - {gid})} need setgroups(2), which a "
                                     "user namespace mapping only the caller's own gid denies: map a range of "
                                     "/etc/subgid in linux.gidMappings, or drop additionalGids") from None
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if keep_caps:
        sc.prctl(sc.PR_SET_KEEPCAPS, 0)


def _setgroups_denied() -> bool:
    try:
        with open("/proc/self/setgroups") as f:
            return f.read().strip() == "deny"
    except FileNotFoundError:
        return False


def apply_sets(masks: dict[str, int | None]) -> None:
    """After the user switch: the process's own sets, then the ambient set (which needs them)."""
    effective, permitted, inheritable = sc.capget()
    permitted = masks["permitted"] if masks.get("permitted") is not None else permitted
    effective = masks["effective"] if masks.get("effective") is not None else effective & permitted
    inheritable = masks["inheritable"] if masks.get("inheritable") is not None else inheritable
    sc.capset(effective, permitted, inheritable)
    ambient = masks.get("ambient")
    if ambient is None:
        return
    sc.prctl(sc.PR_CAP_AMBIENT, sc.PR_CAP_AMBIENT_CLEAR_ALL)
    for number in range(64):
        if ambient & (1 << number):
            try:
                sc.prctl(sc.PR_CAP_AMBIENT, sc.PR_CAP_AMBIENT_RAISE, number)
            except OSError:
                pass  # runc ignores what cannot be raised (not in permitted and inheritable)

"""Translate OCI mount options ("ro", "nosuid", "rbind", "mode=755", ...) into mount(2) arguments."""

from __future__ import annotations

from mydocker.record import record

from mydocker.linux import syscalls as sc

# option -> (clear these flags?, flag). clear=True means the option turns the flag off.
_FLAGS: dict[str, tuple[bool, int]] = {
    "ro": (False, sc.MS_RDONLY), "rw": (True, sc.MS_RDONLY),
    "nosuid": (False, sc.MS_NOSUID), "suid": (True, sc.MS_NOSUID),
    "nodev": (False, sc.MS_NODEV), "dev": (True, sc.MS_NODEV),
    "noexec": (False, sc.MS_NOEXEC), "exec": (True, sc.MS_NOEXEC),
    "sync": (False, sc.MS_SYNCHRONOUS), "async": (True, sc.MS_SYNCHRONOUS),
    "dirsync": (False, sc.MS_DIRSYNC),
    "remount": (False, sc.MS_REMOUNT),
    "mand": (False, sc.MS_MANDLOCK), "nomand": (True, sc.MS_MANDLOCK),
    "noatime": (False, sc.MS_NOATIME), "atime": (True, sc.MS_NOATIME),
    "nodiratime": (False, sc.MS_NODIRATIME), "diratime": (True, sc.MS_NODIRATIME),
    "relatime": (False, sc.MS_RELATIME), "norelatime": (True, sc.MS_RELATIME),
    "strictatime": (False, sc.MS_STRICTATIME), "nostrictatime": (True, sc.MS_STRICTATIME),
    "lazytime": (False, sc.MS_LAZYTIME), "nolazytime": (True, sc.MS_LAZYTIME),
    "nosymfollow": (False, sc.MS_NOSYMFOLLOW), "symfollow": (True, sc.MS_NOSYMFOLLOW),
    "bind": (False, sc.MS_BIND), "rbind": (False, sc.MS_BIND | sc.MS_REC),
}

PROPAGATION: dict[str, int] = {
    "private": sc.MS_PRIVATE, "rprivate": sc.MS_PRIVATE | sc.MS_REC,
    "shared": sc.MS_SHARED, "rshared": sc.MS_SHARED | sc.MS_REC,
    "slave": sc.MS_SLAVE, "rslave": sc.MS_SLAVE | sc.MS_REC,
    "unbindable": sc.MS_UNBINDABLE, "runbindable": sc.MS_UNBINDABLE | sc.MS_REC,
}

# Flags a bind mount must re-apply with MS_REMOUNT: the first bind ignores them.
REMOUNT_FLAGS = (sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC | sc.MS_NOATIME
                 | sc.MS_NODIRATIME | sc.MS_RELATIME | sc.MS_STRICTATIME | sc.MS_NOSYMFOLLOW)


@record
class MountOptions:
    flags: int = 0
    propagation: list[int] | None = None
    data: str = ""

    @property
    def is_bind(self) -> bool:
        return bool(self.flags & sc.MS_BIND)


def parse_options(options: list[str]) -> MountOptions:
    result = MountOptions(propagation=[])
    data = []
    for opt in options:
        if opt in _FLAGS:
            clear, flag = _FLAGS[opt]
            result.flags = result.flags & ~flag if clear else result.flags | flag
        elif opt in PROPAGATION:
            result.propagation.append(PROPAGATION[opt])
        elif opt != "defaults":
            data.append(opt)
    result.data = ",".join(data)
    return result

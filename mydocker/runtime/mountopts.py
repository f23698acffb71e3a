"""Translate OCI mount options ("ro", "nosuid", "rbind", "rro", "tmpcopyup", "mode=755", ...) into
mount(2) and mount_setattr(2) arguments.

The options are those runc 1.1 and crun accept: mount(2) flags, propagation, the recursive "r"
family (applied to every mount below the destination with mount_setattr(2)) and the `tmpcopyup`
extension. An option that is none of these is handed to the filesystem as mount data; on a bind
mount, where the kernel would ignore it silently, it is refused by name.
"""

from __future__ import annotations

from mydocker.errors import InvalidArgument
from mydocker.recordclass import record

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
    "iversion": (False, sc.MS_I_VERSION), "noiversion": (True, sc.MS_I_VERSION),
    "acl": (False, sc.MS_POSIXACL), "noacl": (True, sc.MS_POSIXACL),
    "silent": (False, sc.MS_SILENT), "loud": (True, sc.MS_SILENT),
    "bind": (False, sc.MS_BIND), "rbind": (False, sc.MS_BIND | sc.MS_REC),
}

PROPAGATION: dict[str, int] = {
    "private": sc.MS_PRIVATE, "rprivate": sc.MS_PRIVATE | sc.MS_REC,
    "shared": sc.MS_SHARED, "rshared": sc.MS_SHARED | sc.MS_REC,
    "slave": sc.MS_SLAVE, "rslave": sc.MS_SLAVE | sc.MS_REC,
    "unbindable": sc.MS_UNBINDABLE, "runbindable": sc.MS_UNBINDABLE | sc.MS_REC,
}

# The recursive options (runtime-spec, runc 1.1, crun): option -> (attributes to set, to clear).
# An atime mode is one value of a 3-bit field, so changing it clears the whole field.
_ATIME = sc.MOUNT_ATTR__ATIME
RECURSIVE: dict[str, tuple[int, int]] = {
    "rro": (sc.MOUNT_ATTR_RDONLY, 0), "rrw": (0, sc.MOUNT_ATTR_RDONLY),
    "rnosuid": (sc.MOUNT_ATTR_NOSUID, 0), "rsuid": (0, sc.MOUNT_ATTR_NOSUID),
    "rnodev": (sc.MOUNT_ATTR_NODEV, 0), "rdev": (0, sc.MOUNT_ATTR_NODEV),
    "rnoexec": (sc.MOUNT_ATTR_NOEXEC, 0), "rexec": (0, sc.MOUNT_ATTR_NOEXEC),
    "rnodiratime": (sc.MOUNT_ATTR_NODIRATIME, 0), "rdiratime": (0, sc.MOUNT_ATTR_NODIRATIME),
    "rnosymfollow": (sc.MOUNT_ATTR_NOSYMFOLLOW, 0), "rsymfollow": (0, sc.MOUNT_ATTR_NOSYMFOLLOW),
    "rnoatime": (sc.MOUNT_ATTR_NOATIME, _ATIME), "ratime": (sc.MOUNT_ATTR_RELATIME, _ATIME),
    "rrelatime": (sc.MOUNT_ATTR_RELATIME, _ATIME), "rnorelatime": (sc.MOUNT_ATTR_STRICTATIME, _ATIME),
    "rstrictatime": (sc.MOUNT_ATTR_STRICTATIME, _ATIME), "rnostrictatime": (sc.MOUNT_ATTR_RELATIME, _ATIME),
}

# Extensions: not mount(2) flags but something the runtime does with the mount.
TMPCOPYUP = "tmpcopyup"  # runc/crun: copy what the directory held into the new tmpfs (podman --read-only)
# Known by name and refused: an idmapped mount needs the runtime to build it from the host side.
_UNSUPPORTED = {"idmap": "idmapped mounts", "ridmap": "idmapped mounts"}

# Flags a bind mount must re-apply with MS_REMOUNT: the first bind ignores them.
REMOUNT_FLAGS = (sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC | sc.MS_NOATIME
                 | sc.MS_NODIRATIME | sc.MS_RELATIME | sc.MS_STRICTATIME | sc.MS_NOSYMFOLLOW)

KNOWN = frozenset({*_FLAGS, *PROPAGATION, *RECURSIVE, TMPCOPYUP, "defaults"})


@record
class MountOptions:
    flags: int = 0
    propagation: list[int] | None = None
    data: str = ""
    attr_set: int = 0  # mount_setattr(2) attributes for the whole tree under the destination
    attr_clr: int = 0
    tmpcopyup: bool = False

    @property
    def is_bind(self) -> bool:
        return bool(self.flags & sc.MS_BIND)

    @property
    def recursive(self) -> bool:
        return bool(self.attr_set or self.attr_clr)


def parse_options(options: list[str]) -> MountOptions:
    result = MountOptions(propagation=[])
    data = []
    for opt in options:
        if opt in _FLAGS:
            clear, flag = _FLAGS[opt]
            result.flags = result.flags & ~flag if clear else result.flags | flag
        elif opt in PROPAGATION:
            result.propagation.append(PROPAGATION[opt])
        elif opt in RECURSIVE:
            attr_set, attr_clr = RECURSIVE[opt]  # the later of two opposite options wins
            result.attr_set = (result.attr_set & ~attr_clr) | attr_set
            result.attr_clr = (result.attr_clr & ~attr_set) | attr_clr
        elif opt == TMPCOPYUP:
            result.tmpcopyup = True
        elif opt != "defaults":
            data.append(opt)
    result.data = ",".join(data)
    return result


def check_options(options: list[str], kind: str | None, where: str) -> None:
    """Refuse, naming it, an option this runtime cannot honour for a mount of type `kind`: one it
    knows but does not implement, an extension that does not apply, an unknown one on a bind."""
    is_bind = kind == "bind" or "bind" in options or "rbind" in options
    for opt in options:
        if opt in _UNSUPPORTED:
            raise InvalidArgument(f"config.json: {where}: {opt!r} asks for {_UNSUPPORTED[opt]}, which "
                                  "mydocker-runtime does not support; give the source the owner the container's "
                                  "ids map to, or use runc 1.2+ or crun")
        if opt == TMPCOPYUP and (is_bind or kind != "tmpfs"):
            raise InvalidArgument(f"config.json: {where}: 'tmpcopyup' applies to tmpfs mounts only, "
                                  f"not to a {'bind' if is_bind else kind} mount")
        if is_bind and opt not in KNOWN:
            raise InvalidArgument(f"config.json: {where}: unknown mount option {opt!r} for a bind mount "
                                  "(the kernel would ignore it); `mydocker-runtime features` lists the known ones")

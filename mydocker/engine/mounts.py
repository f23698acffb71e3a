"""`--mount` (type=bind|volume|tmpfs) and `--tmpfs`, with Docker's syntax, defaults and messages.

The CSV of `--mount` becomes an options.Mount (parse_mount); the engine checks it here, turns tmpfs
mounts into OCI tmpfs mounts with Docker's options, and hands bind and volume mounts to the `-v`
machinery (engine/volumes.py: named volumes made and filled, read-only binds recursively read-only).
"""

from __future__ import annotations

import os

from mydocker.engine.options import Mount
from mydocker.errors import InvalidArgument
from mydocker.lazy import lazy_module

csv = lazy_module("csv")
units = lazy_module("mydocker.engine.units")

TYPES = ("bind", "volume", "tmpfs")
PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")
# Docker's tmpfs defaults (moby daemon/oci_linux.go); the user's options come after and win
TMPFS_DEFAULTS = ["noexec", "nosuid", "nodev"]
_OPPOSITES = {"exec": "noexec", "suid": "nosuid", "dev": "nodev", "rw": "ro", "atime": "noatime",
              "diratime": "nodiratime", "sync": "async"}
_TMPFS_FLAGS = {*_OPPOSITES, *_OPPOSITES.values(), "strictatime", "relatime", "norelatime", "nostrictatime",
                "dirsync", "mand", "nomand", *PROPAGATIONS}
_TMPFS_KEYS = ("size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol")


def parse_mount(text: str) -> Mount:
    """One `--mount` value: comma-separated key=value fields (Docker's opts.MountOpt)."""
    mount = Mount(type="volume")
    for field in _csv(text):
        key, eq, value = field.partition("=")
        key = key.strip().lower()
        if not eq and key in ("readonly", "ro", "volume-nocopy"):
            value = "true"
        elif not eq:
            raise InvalidArgument(f"invalid field {field!r} in --mount {text!r}: use key=value, e.g. "
                                  "type=bind,source=/host,target=/ctr")
        if key == "type":
            mount.type = value
        elif key in ("source", "src"):
            mount.source = value
        elif key in ("target", "dst", "destination"):
            mount.target = value
        elif key in ("readonly", "ro"):
            mount.readonly = _bool(value, key, text)
        elif key == "bind-propagation":
            mount.bind_propagation = value
        elif key == "volume-nocopy":
            mount.volume_nocopy = _bool(value, key, text)
        elif key == "volume-label":
            name, _, label = value.partition("=")
            mount.volume_labels[name] = label
        elif key == "volume-driver":
            if value != "local":
                raise InvalidArgument(f"volume driver {value!r} is not available: only local is")
        elif key == "tmpfs-size":
            try:
                mount.tmpfs_size = units.ram_in_bytes(value)
            except ValueError as e:
                raise InvalidArgument(f"invalid tmpfs-size in --mount {text!r}: {e}") from None
        elif key == "tmpfs-mode":
            try:
                mount.tmpfs_mode = int(value, 8)
            except ValueError:
                raise InvalidArgument(f"invalid tmpfs-mode {value!r} in --mount {text!r}: "
                                      "give octal permissions, e.g. 1777") from None
        else:
            raise InvalidArgument(f"unexpected key '{key}' in '{field}' (--mount {text!r})")
    return mount


def _csv(text: str) -> list[str]:
    """Fields split on commas, a double-quoted field kept whole (as Docker reads it with encoding/csv)."""
    rows = list(csv.reader([text]))
    return [f for f in (rows[0] if rows else []) if f]


def _bool(value: str, key: str, text: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise InvalidArgument(f"invalid value for {key}: {value!r} in --mount {text!r}: use true or false")


def check(mount: Mount) -> None:
    """Docker's validation of a mount (daemon/volume/mounts/linux_parser.go), one line each."""
    kind = mount.type
    where = f'invalid mount config for type "{kind}"'
    if kind not in TYPES:
        raise InvalidArgument(f"invalid mount type {kind!r}: use bind, volume or tmpfs")
    if not mount.target:
        raise InvalidArgument(f"{where}: field Target must not be empty")
    if not mount.target.startswith("/"):
        raise InvalidArgument(f"{where}: invalid mount path: '{mount.target}' mount path must be absolute")
    if os.path.normpath(mount.target) == "/":
        raise InvalidArgument(f"{where}: invalid specification: destination can't be '/'")
    if kind != "bind" and mount.bind_propagation:
        raise InvalidArgument(f"{where}: field BindOptions must not be specified")
    if kind != "volume" and (mount.volume_nocopy or mount.volume_labels):
        raise InvalidArgument(f"{where}: field VolumeOptions must not be specified")
    if kind != "tmpfs" and (mount.tmpfs_size is not None or mount.tmpfs_mode is not None):
        raise InvalidArgument(f"{where}: field TmpfsOptions must not be specified")
    if kind == "bind":
        if not mount.source:
            raise InvalidArgument(f"{where}: field Source must not be empty")
        if not os.path.isabs(mount.source):
            raise InvalidArgument(f"{where}: invalid mount path: '{mount.source}' mount path must be absolute")
        if mount.bind_propagation and mount.bind_propagation not in PROPAGATIONS:
            raise InvalidArgument(f"{where}: invalid propagation mode: {mount.bind_propagation}")
        if not os.path.exists(mount.source):
            raise InvalidArgument(f"{where}: bind source path does not exist: {mount.source}")
    if kind == "tmpfs" and mount.source:
        raise InvalidArgument(f"{where}: field Source must not be specified")


def tmpfs_options(mount: Mount) -> str:
    """A tmpfs Mount as --tmpfs's option string."""
    opts = ["ro"] if mount.readonly else []
    if mount.tmpfs_size is not None:
        opts.append(f"size={mount.tmpfs_size}")
    if mount.tmpfs_mode is not None:
        opts.append(f"mode={mount.tmpfs_mode:o}")
    return ",".join(opts)


def parse_tmpfs(values: list[str]) -> dict[str, str]:
    """`--tmpfs /path[:opts]` as typed into Docker's HostConfig.Tmpfs map (path -> options)."""
    out = {}
    for value in values:
        path, _, opts = value.partition(":")
        out[path] = opts
    return out


def tmpfs_mount(destination: str, options: str) -> dict:
    """The OCI mount for one tmpfs: Docker's defaults merged with the user's options (later wins)."""
    if not destination.startswith("/") or os.path.normpath(destination) == "/":
        raise InvalidArgument(f"invalid --tmpfs {destination!r}: the container path must be absolute and not /")
    flags: dict[str, str] = {}   # the flag's pair ("exec"/"noexec" share one slot) -> the flag
    data: dict[str, str] = {}
    for opt in [*TMPFS_DEFAULTS, "rprivate", *(o for o in options.split(",") if o)]:
        key, eq, value = opt.partition("=")
        if eq:
            if key not in _TMPFS_KEYS:
                raise InvalidArgument(f"invalid tmpfs option {opt!r} for {destination}: use size=, mode=, uid=, "
                                      "gid=, nr_inodes= or flags such as ro, exec, nosuid")
            if key == "size":
                try:
                    value = str(units.ram_in_bytes(value))
                except ValueError as e:
                    raise InvalidArgument(f"invalid tmpfs size for {destination}: {e}") from None
            data[key] = value
            continue
        if opt not in _TMPFS_FLAGS:
            raise InvalidArgument(f"invalid tmpfs option {opt!r} for {destination}: use size=, mode=, uid=, "
                                  "gid=, nr_inodes= or flags such as ro, exec, nosuid")
        slot = "propagation" if opt in PROPAGATIONS else \
            next((k for k, v in _OPPOSITES.items() if opt in (k, v)), opt)
        flags[slot] = opt
    return {"destination": os.path.normpath(destination), "type": "tmpfs", "source": "tmpfs",
            "options": [*flags.values(), *(f"{k}={v}" for k, v in data.items())]}


def for_container(opts) -> tuple[list[Mount], list[dict]]:
    """(the checked bind and volume --mounts, OCI mounts of --mount type=tmpfs and --tmpfs)."""
    others, tmpfs = [], []
    seen: set[str] = set()
    for mount in getattr(opts, "mounts", None) or []:
        check(mount)
        if mount.type == "tmpfs":
            tmpfs.append(tmpfs_mount(mount.target, tmpfs_options(mount)))
        else:
            others.append(mount)
    for destination, options in (getattr(opts, "tmpfs", None) or {}).items():
        tmpfs.append(tmpfs_mount(destination, options))
    for target in [*(os.path.normpath(m.target) for m in others), *(m["destination"] for m in tmpfs)]:
        if target in seen:
            raise InvalidArgument(f"duplicate mount point: {target}")
        seen.add(target)
    return others, tmpfs

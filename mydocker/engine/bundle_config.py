"""Turn an image config and the user's options into an OCI config.json, with Docker's defaults."""

from __future__ import annotations

import os

from mydocker.engine.options import RunOptions
from mydocker.engine.resources import resources_from_options
from mydocker.engine.users import resolve_user
from mydocker.errors import InvalidArgument

OCI_VERSION = "1.0.2"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_NOSUID_NOEXEC_NODEV = ["nosuid", "noexec", "nodev"]
DEFAULT_MOUNTS = [
    {"destination": "/proc", "type": "proc", "source": "proc", "options": _NOSUID_NOEXEC_NODEV},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": [*_NOSUID_NOEXEC_NODEV, "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
     "options": ["ro", *_NOSUID_NOEXEC_NODEV]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": _NOSUID_NOEXEC_NODEV},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": [*_NOSUID_NOEXEC_NODEV, "mode=1777", "size=67108864"]},
]
MASKED_PATHS = ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                "/sys/firmware", "/sys/devices/virtual/powercap"]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
NAMESPACES = ["pid", "network", "ipc", "uts", "mount"]


def validate_env(entries: list[str], host_env: dict[str, str] | None = None) -> list[str]:
    """`-e K=V` as given; `-e K` takes K from the caller's environment, or is dropped (Docker)."""
    host_env = os.environ if host_env is None else host_env
    out = []
    for entry in entries:
        name, eq, value = entry.partition("=")
        if not name or any(c.isspace() or c == "\0" for c in name):
            raise InvalidArgument(f"invalid environment variable {entry!r}: use -e NAME=value "
                                  "(a non-empty name without spaces)")
        if eq:
            out.append(entry)
        elif name in host_env:
            out.append(f"{name}={host_env[name]}")
    return out


def merge_env(base: list[str], overrides: list[str]) -> list[str]:
    merged: dict[str, str] = {}
    for entry in [*base, *overrides]:
        name, _, value = entry.partition("=")
        merged[name] = value
    return [f"{k}={v}" for k, v in merged.items()]


def command_for(image_config: dict, opts: RunOptions) -> list[str]:
    entrypoint = [opts.entrypoint] if opts.entrypoint else (image_config.get("Entrypoint") or [])
    cmd = opts.command or ([] if opts.entrypoint else image_config.get("Cmd") or [])
    args = [*entrypoint, *cmd]
    if not args:
        raise InvalidArgument("no command specified: the image has no CMD or ENTRYPOINT; "
                              "give one after the image name")
    return args


def cgroups_path(parent: str | None, container_id: str) -> str:
    """<parent>/<id>, the parent "/mydocker" unless --cgroup-parent names another (absolute, or relative
    to the caller's own cgroup, as the OCI runtime spec reads cgroupsPath)."""
    parent = (parent or "/mydocker").rstrip("/") or "/mydocker"
    if ".." in parent.split("/"):
        raise InvalidArgument(f"invalid --cgroup-parent {parent!r}: '..' is not allowed")
    return f"{parent}/{container_id}"


REMAP_DEFAULT = (100000, 65536)  # Docker's dockremap subordinate range


def userns_remap(value: str | None) -> tuple[int, int] | None:
    """--userns: None for host (no user namespace), else (first host id, size) of the remap range."""
    if value in (None, "", "host"):
        return None
    mode, _, rest = value.partition(":")
    if value == "remap":
        return REMAP_DEFAULT
    start, _, size = rest.partition(":")
    if mode == "remap" and start.isdigit() and size.isdigit() and 0 < int(start) and 0 < int(size) \
            and int(start) + int(size) <= 2**32 - 1:
        return int(start), int(size)
    raise InvalidArgument(f"invalid --userns {value!r}: use host, remap or remap:<host-uid>:<size> "
                          "(e.g. remap:100000:65536)")


def build_spec(image_config: dict, opts: RunOptions, rootfs: str, hostname: str,
               container_id: str | None = None) -> dict:
    """config.json for a container whose merged root filesystem is mounted at `rootfs`."""
    cfg = image_config.get("config") or {}
    workdir = opts.workdir or cfg.get("WorkingDir") or "/"
    if not workdir.startswith("/"):
        raise InvalidArgument(f"the working directory {workdir!r} is invalid: it needs to be an absolute path")
    args = command_for(cfg, opts)
    user = resolve_user(rootfs, opts.user or cfg.get("User"))
    env = list(cfg.get("Env") or [])
    if not any(e.startswith("PATH=") for e in env):
        env.insert(0, DEFAULT_PATH)
    env = merge_env(env, [f"HOSTNAME={hostname}"] + (["TERM=xterm"] if opts.tty else []))
    env = merge_env(env, validate_env(opts.env))
    if not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={user.home}")
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": opts.tty,
            "user": {"uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids},
            "args": args, "env": env, "cwd": os.path.normpath(workdir),
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": hostname,
        "mounts": [dict(m, options=list(m["options"])) for m in DEFAULT_MOUNTS],
        "linux": {
            "namespaces": [{"type": t} for t in [*NAMESPACES, *(["user"] if userns_remap(opts.userns) else [])]],
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
            "resources": resources_from_options(opts.resources),
            **({"cgroupsPath": cgroups_path(opts.cgroup_parent, container_id)} if container_id else {}),
            **_userns(userns_remap(opts.userns)),
        },
    }


def _userns(remap: tuple[int, int] | None) -> dict:
    """linux.uidMappings/gidMappings for --userns remap; the namespace itself is added by build_spec."""
    if remap is None:
        return {}
    mapping = [{"containerID": 0, "hostID": remap[0], "size": remap[1]}]
    return {"uidMappings": mapping, "gidMappings": [dict(mapping[0])]}

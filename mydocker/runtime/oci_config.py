"""The OCI runtime config (config.json) as typed records, loaded with errors that name the field."""

from __future__ import annotations

import os
from mydocker.recordclass import factory, record
from mydocker.errors import InvalidArgument
from mydocker import jsonio
from mydocker.lazy import lazy_module

mountopts = lazy_module("mydocker.runtime.mountopts")

NAMESPACE_TYPES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")


def _bad(field_name: str, problem: str) -> InvalidArgument:
    return InvalidArgument(f"config.json: {field_name} {problem}")


def _get(data: dict, key: str, kind: type | tuple[type, ...], where: str, default: object = None) -> object:
    value = data.get(key, default)
    if value is not None and not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise _bad(f"{where}{key}", f"must be {names}, not {type(value).__name__}")
    return value


def _strings(value: object, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(where, "must be a list of strings")
    return value


@record
class User:
    uid: int = 0
    gid: int = 0
    umask: int | None = None
    additional_gids: list[int] = factory(list)

    @classmethod
    def from_dict(cls, d: dict) -> User:
        gids = _get(d, "additionalGids", list, "process.user.", [])
        if not all(isinstance(g, int) for g in gids):
            raise _bad("process.user.additionalGids", "must be a list of integers")
        return cls(uid=_get(d, "uid", int, "process.user.", 0), gid=_get(d, "gid", int, "process.user.", 0),
                   umask=_get(d, "umask", int, "process.user."), additional_gids=gids)


@record
class Process:
    args: list[str]
    env: list[str] = factory(list)
    cwd: str = "/"
    terminal: bool = False
    user: User = factory(User)
    no_new_privileges: bool = False
    oom_score_adj: int | None = None
    rlimits: list[dict] = factory(list)
    capabilities: dict | None = None
    console_size: dict | None = None

    @classmethod
    def from_dict(cls, d: dict) -> Process:
        if not isinstance(d, dict):
            raise _bad("process", "must be an object")
        args = _strings(d.get("args"), "process.args")
        if not args:
            raise _bad("process.args", "must name the command to run (a non-empty list)")
        cwd = _get(d, "cwd", str, "process.", "/")
        if not cwd.startswith("/"):
            raise _bad("process.cwd", f"must be an absolute path, not {cwd!r}")
        return cls(args=args, env=_strings(d.get("env"), "process.env"), cwd=cwd,
                   terminal=bool(_get(d, "terminal", bool, "process.", False)),
                   user=User.from_dict(_get(d, "user", dict, "process.", {})),
                   no_new_privileges=bool(_get(d, "noNewPrivileges", bool, "process.", False)),
                   oom_score_adj=_get(d, "oomScoreAdj", int, "process."),
                   rlimits=_get(d, "rlimits", list, "process.", []),
                   capabilities=_get(d, "capabilities", dict, "process."),
                   console_size=_get(d, "consoleSize", dict, "process."))

    def env_value(self, name: str) -> str | None:
        prefix = name + "="
        for item in reversed(self.env):
            if item.startswith(prefix):
                return item[len(prefix):]
        return None


@record
class Mount:
    destination: str
    type: str | None = None
    source: str | None = None
    options: list[str] = factory(list)

    @classmethod
    def from_dict(cls, d: dict, index: int) -> Mount:
        where = f"mounts[{index}]."
        if not isinstance(d, dict):
            raise _bad(f"mounts[{index}]", "must be an object")
        dest = _get(d, "destination", str, where)
        if not dest:
            raise _bad(f"{where}destination", "is required")
        if not dest.startswith("/"):
            raise _bad(f"{where}destination", f"must be an absolute path, not {dest!r}")
        mount = cls(destination=dest, type=_get(d, "type", str, where), source=_get(d, "source", str, where),
                    options=_strings(d.get("options"), f"{where}options"))
        mountopts.check_options(mount.options, mount.type, f"{where}options")
        return mount


@record
class Namespace:
    type: str
    path: str | None = None


@record
class IDMapping:
    container_id: int
    host_id: int
    size: int


@record
class Linux:
    namespaces: list[Namespace] = factory(list)
    uid_mappings: list[IDMapping] = factory(list)
    gid_mappings: list[IDMapping] = factory(list)
    devices: list[dict] = factory(list)
    cgroups_path: str | None = None
    resources: dict = factory(dict)
    sysctl: dict[str, str] = factory(dict)
    masked_paths: list[str] = factory(list)
    readonly_paths: list[str] = factory(list)
    rootfs_propagation: str | None = None
    seccomp: dict | None = None
    personality: dict | None = None

    @classmethod
    def from_dict(cls, d: dict) -> Linux:
        namespaces = []
        seen = set()
        for i, ns in enumerate(_get(d, "namespaces", list, "linux.", [])):
            kind = ns.get("type") if isinstance(ns, dict) else None
            if kind not in NAMESPACE_TYPES:
                raise _bad(f"linux.namespaces[{i}].type", f"must be one of {', '.join(NAMESPACE_TYPES)}")
            if kind in seen:
                raise _bad(f"linux.namespaces[{i}]", f"repeats the {kind} namespace")
            seen.add(kind)
            namespaces.append(Namespace(kind, _get(ns, "path", str, f"linux.namespaces[{i}].")))
        return cls(namespaces=namespaces,
                   uid_mappings=_mappings(d, "uidMappings"), gid_mappings=_mappings(d, "gidMappings"),
                   devices=_get(d, "devices", list, "linux.", []),
                   cgroups_path=_get(d, "cgroupsPath", str, "linux."),
                   resources=_get(d, "resources", dict, "linux.", {}),
                   sysctl=_get(d, "sysctl", dict, "linux.", {}),
                   masked_paths=_strings(d.get("maskedPaths"), "linux.maskedPaths"),
                   readonly_paths=_strings(d.get("readonlyPaths"), "linux.readonlyPaths"),
                   rootfs_propagation=_get(d, "rootfsPropagation", str, "linux."),
                   seccomp=_get(d, "seccomp", dict, "linux."),
                   personality=_personality(d))

    def namespace(self, kind: str) -> Namespace | None:
        return next((ns for ns in self.namespaces if ns.type == kind), None)


def _personality(d: dict) -> dict | None:
    persona = _get(d, "personality", dict, "linux.")
    if persona and persona.get("domain", "LINUX") not in ("LINUX", "LINUX32"):
        raise _bad("linux.personality.domain", "must be LINUX or LINUX32")
    if persona and persona.get("flags"):
        raise _bad("linux.personality.flags", "are not supported: leave them out")
    return persona


def _mappings(d: dict, key: str) -> list[IDMapping]:
    out = []
    for i, m in enumerate(_get(d, key, list, "linux.", [])):
        where = f"linux.{key}[{i}]."
        if not isinstance(m, dict):
            raise _bad(f"linux.{key}[{i}]", "must be an object")
        try:
            out.append(IDMapping(int(m["containerID"]), int(m["hostID"]), int(m["size"])))
        except (KeyError, TypeError, ValueError):
            raise _bad(where.rstrip("."), "needs integer containerID, hostID and size") from None
    return out


@record
class Spec:
    oci_version: str
    root_path: str
    root_readonly: bool
    process: Process | None
    hostname: str | None
    domainname: str | None
    mounts: list[Mount]
    hooks: dict
    linux: Linux
    annotations: dict[str, str]
    raw: dict

    @classmethod
    def from_dict(cls, data: object, bundle: str) -> Spec:
        if not isinstance(data, dict):
            raise InvalidArgument("config.json: must be a JSON object")
        version = _get(data, "ociVersion", str, "")
        if not version:
            raise _bad("ociVersion", "is required")
        if not _is_semver(version):
            raise _bad("ociVersion", f"must be a SemVer 2.0.0 version such as 1.0.2, not {version!r}")
        root = _get(data, "root", dict, "")
        if not root or not _get(root, "path", str, "root."):
            raise _bad("root.path", "is required (the container's root filesystem)")
        root_path = os.path.join(bundle, root["path"])
        if not os.path.isdir(root_path):
            raise _bad("root.path", f"{root_path} is not a directory")
        process = data.get("process")
        if (data.get("linux") or {}).get("intelRdt") is not None:
            raise _bad("linux.intelRdt", "is not supported by mydocker-runtime (no resctrl support): remove it")
        linux = Linux.from_dict(_get(data, "linux", dict, "", {}))
        names = {key: _get(data, key, str, "") for key in ("hostname", "domainname")}
        for key, value in names.items():  # without a UTS namespace of its own, it would rename the host
            if value and linux.namespace("uts") is None:
                raise _bad(key, 'needs a UTS namespace: add {"type": "uts"} to linux.namespaces or remove it')
        for key in linux.sysctl:  # likewise: only sysctls of the container's own namespaces
            kind = _sysctl_namespace(key)
            if kind is None:
                raise _bad(f"linux.sysctl {key}", "is not in a separate kernel namespace: setting it would change "
                                                  "the host; remove it")
            if linux.namespace(kind) is None:
                raise _bad(f"linux.sysctl {key}", f"needs the container's own {kind} namespace: add {kind} to "
                                                  "linux.namespaces or remove the sysctl")
        return cls(oci_version=version, root_path=os.path.realpath(root_path),
                   root_readonly=bool(_get(root, "readonly", bool, "root.", False)),
                   process=Process.from_dict(process) if process is not None else None,
                   hostname=names["hostname"], domainname=names["domainname"],
                   mounts=[Mount.from_dict(m, i) for i, m in enumerate(_get(data, "mounts", list, "", []))],
                   hooks=_get(data, "hooks", dict, "", {}),
                   linux=linux,
                   annotations=_get(data, "annotations", dict, "", {}), raw=data)


def load_spec(bundle: str) -> Spec:
    """Read and validate <bundle>/config.json."""
    path = os.path.join(bundle, "config.json")
    try:
        data = jsonio.load_file(path)
    except FileNotFoundError:
        raise InvalidArgument(f"{path} does not exist: pass the bundle directory with --bundle") from None
    except jsonio.JSONError as e:
        raise InvalidArgument(f"config.json: not valid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    except UnicodeDecodeError:
        raise InvalidArgument("config.json: not valid UTF-8 text") from None
    return Spec.from_dict(data, os.path.abspath(bundle))


# The sysctls a namespace isolates (the kernel's ipc, net and uts tables); any other one is the host's.
_IPC_SYSCTLS = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
                "kernel.shmmni", "kernel.shm_rmid_forced"}


def _sysctl_namespace(key: str) -> str | None:
    if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
        return "ipc"
    if key.startswith("net."):
        return "network"
    return "uts" if key in ("kernel.domainname", "kernel.hostname") else None


def _is_semver(version: str) -> bool:
    """MAJOR.MINOR.PATCH, numbers without leading zeros, then optional -pre-release and +build
    identifiers ([0-9A-Za-z-], dot-separated, none empty), as the spec asks of ociVersion."""
    core, plus, build = version.partition("+")
    core, dash, pre = core.partition("-")
    numbers = core.split(".")
    if len(numbers) != 3 or not all(n.isascii() and n.isdigit() and (n == "0" or n[0] != "0") for n in numbers):
        return False
    for present, part in ((dash, pre), (plus, build)):
        if present and not all(x and x.isascii() and x.replace("-", "a").isalnum() for x in part.split(".")):
            return False
    return True

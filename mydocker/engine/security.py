"""Docker's security defaults and the flags that change them, applied to a built config.json.

`apply_security(config, opts)` edits the dict engine/bundle_config.py builds: capabilities (Docker's 14
less NET_RAW, --cap-add/--cap-drop, --privileged), ping without raw sockets, seccomp (Docker's
default profile, --security-opt seccomp=unconfined|profile.json, compiled by the runtime),
no-new-privileges, the device cgroup allow-list, --read-only, --ulimit and --init.
"""

from __future__ import annotations

import os
import stat

from mydocker.errors import InvalidArgument
from mydocker.engine.options import SecurityOptions  # noqa: F401 - the record lives with RunOptions
from mydocker.runtime.api import capability_names
from mydocker.lazy import lazy_module

jsonio = lazy_module("mydocker.jsonio")
json = lazy_module("json")
struct = lazy_module("struct")

# moby oci/caps/defaults.go less CAP_NET_RAW, as podman: CapEff 00000000a80405fb. Raw sockets let a
# container forge packets on its network (ARP and DNS spoofing of its neighbours); ping needs none,
# given PING_GROUP_RANGE. --cap-add NET_RAW brings them back.
DEFAULT_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
                "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
# Every group may open ICMP datagram sockets (ping without CAP_NET_RAW), in the container's own
# network namespace only. Not with --userns remap: the gids must be mapped in the user namespace
# of the writer, and that namespace does not own the network namespace the engine made.
PING_GROUP_RANGE = ("net.ipv4.ping_group_range", "0 2147483647")
# Numbered as in linux/capability.h (index = capability number): the runtime's list.
ALL_CAPS = [f"CAP_{name}" for name in capability_names()]

# moby oci/defaults.go: deny everything, allow the default devices, deny fuse explicitly.
# Then what runc adds itself (the runtime may or may not): mknod of anything (opening stays denied),
# /dev/full, /dev/ptmx, the pty slaves and /dev/net/tun.
DEFAULT_DEVICE_RULES = [
    {"allow": False, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 1, "access": "rwm"},
    {"allow": False, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
    {"allow": True, "type": "c", "access": "m"},
    {"allow": True, "type": "b", "access": "m"},
    {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 2, "access": "rwm"},
    {"allow": True, "type": "c", "major": 136, "access": "rwm"},
    {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rwm"},
]

ULIMITS = ("as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc",
           "rss", "rtprio", "rttime", "sigpending", "stack")
RLIM_INFINITY = (1 << 64) - 1  # OCI rlimits are uint64
INIT_PATH = "/sbin/docker-init"
# Static reapers that run in any image (a dynamic one would need the image's libc).
INIT_CANDIDATES = ("/usr/bin/docker-init", "/usr/bin/tini-static", "/usr/bin/catatonit",
                   "/usr/libexec/podman/catatonit", "/usr/bin/tini")
# amd64 is Go's name, which the includes/excludes of Docker's profiles use.
_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x",
           "riscv64": "riscv64", "i686": "386"}
_SCMP_ARCH = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64", "s390x": "SCMP_ARCH_S390X",
              "ppc64le": "SCMP_ARCH_PPC64LE", "riscv64": "SCMP_ARCH_RISCV64"}




def apply_security(config: dict, opts: SecurityOptions) -> dict:
    """Edit `config` (specbuild's config.json dict) in place for `opts`; return it."""
    process = config.setdefault("process", {})
    linux = config.setdefault("linux", {})
    seccomp_opt, no_new_privs, system_paths = parse_security_opts(opts.security_opt)
    caps = capabilities(opts.cap_add, opts.cap_drop, opts.privileged)
    uid = (process.get("user") or {}).get("uid", 0)
    # Docker: a non-root user starts with empty effective and permitted sets (bounding stays).
    process["capabilities"] = {"bounding": list(caps), "effective": list(caps) if uid == 0 else [],
                               "permitted": list(caps) if uid == 0 else []}
    if no_new_privs:
        process["noNewPrivileges"] = True
    own_netns = any(ns.get("type") == "network" for ns in linux.get("namespaces") or [])
    if own_netns and not linux.get("uidMappings"):
        linux.setdefault("sysctl", {}).setdefault(*PING_GROUP_RANGE)
    if opts.privileged or seccomp_opt == "unconfined":
        linux.pop("seccomp", None)
    else:
        profile = default_profile() if seccomp_opt is None else load_profile(seccomp_opt)
        linux["seccomp"] = to_oci_seccomp(profile, caps)
    resources = linux.setdefault("resources", {})
    if opts.privileged:
        resources["devices"] = [{"allow": True, "access": "rwm"}]
        linux["devices"] = host_devices()
        _writable_system_mounts(config)
    else:
        resources["devices"] = [dict(rule) for rule in DEFAULT_DEVICE_RULES]
    if opts.privileged or not system_paths:
        linux["maskedPaths"], linux["readonlyPaths"] = [], []
    if opts.read_only:
        config.setdefault("root", {"path": "rootfs"})["readonly"] = True
    if opts.ulimits:
        process["rlimits"] = parse_ulimits(opts.ulimits)
    if opts.init:
        _add_init(config, find_init())
    return config


def normalize_cap(name: str, flag: str) -> str:
    """"sys_admin", "CAP_SYS_ADMIN", "all" -> "CAP_SYS_ADMIN", "ALL" (Docker accepts any case)."""
    upper = name.strip().upper()
    if upper == "ALL":
        return "ALL"
    full = upper if upper.startswith("CAP_") else "CAP_" + upper
    if full not in ALL_CAPS:
        raise InvalidArgument(f"invalid {flag} {name!r}: unknown capability; use a name such as NET_ADMIN or ALL")
    return full


def capabilities(add: list[str], drop: list[str], privileged: bool) -> list[str]:
    """moby's TweakCapabilities: --privileged gets all; add ALL keeps all but the drops; drop ALL
    keeps only the adds; otherwise the defaults minus the drops plus the adds."""
    if privileged:
        return privileged_caps()
    adds = [normalize_cap(c, "--cap-add") for c in add]
    drops = [normalize_cap(c, "--cap-drop") for c in drop]
    if "ALL" in adds:
        caps = [c for c in ALL_CAPS if c not in drops]
    elif "ALL" in drops:
        caps = [c for c in adds if c != "ALL"]
    else:
        caps = [c for c in DEFAULT_CAPS if c not in drops] + adds
    return list(dict.fromkeys(caps))


def privileged_caps(status: str = "/proc/self/status") -> list[str]:
    """All capabilities the engine itself holds: more cannot be granted (this host's root lacks
    CAP_SYS_RESOURCE, where dockerd usually has everything and the result is the full list)."""
    try:
        with open(status) as f:
            bounding = next(int(line.split()[1], 16) for line in f if line.startswith("CapBnd:"))
    except (OSError, StopIteration, ValueError):
        return list(ALL_CAPS)
    return [name for number, name in enumerate(ALL_CAPS) if bounding & (1 << number)]


def cap_mask(caps: list[str]) -> int:
    mask = 0
    for name in caps:
        mask |= 1 << ALL_CAPS.index(name)
    return mask


def parse_security_opts(values: list[str]) -> tuple[str | None, bool, bool]:
    """--security-opt values -> (seccomp: None | "unconfined" | path, no_new_privileges, system paths masked)."""
    seccomp: str | None = None
    no_new_privs = False
    system_paths = True
    for value in values:
        if value == "no-new-privileges":
            no_new_privs = True
            continue
        key, sep, val = value.partition("=")
        if not sep:
            key, sep, val = value.partition(":")  # Docker still takes the old "key:value"
        if key == "no-new-privileges" and sep:
            if val.lower() not in ("true", "false", "1", "0"):
                raise InvalidArgument(f"invalid --security-opt {value!r}: no-new-privileges takes true or false")
            no_new_privs = val.lower() in ("true", "1")
        elif key == "seccomp" and val:
            seccomp = "unconfined" if val == "unconfined" else val
        elif key == "systempaths" and val == "unconfined":
            system_paths = False
        elif key in ("apparmor", "label") and val:
            continue  # no LSM on this host: accepted as Docker does where AppArmor/SELinux is off
        else:
            raise InvalidArgument(f"invalid --security-opt {value!r}: use no-new-privileges, "
                                  "seccomp=unconfined, seccomp=PROFILE.json or systempaths=unconfined")
    return seccomp, no_new_privs, system_paths


def default_profile() -> dict:
    return jsonio.load_file(os.path.join(os.path.dirname(__file__), "seccomp_default.json"))


def load_profile(path: str) -> dict:
    try:
        with open(path, "rb") as f:
            profile = json.load(f)
    except OSError as e:
        raise InvalidArgument(f"cannot read the seccomp profile {path}: {e.strerror}") from None
    except ValueError as e:
        raise InvalidArgument(f"the seccomp profile {path} is not valid JSON: {e}") from None
    if not isinstance(profile, dict):
        raise InvalidArgument(f"the seccomp profile {path} must be a JSON object")
    return profile


def kernel_version(release: str | None = None) -> tuple[int, int]:
    parts = (release or os.uname().release).split("-")[0].split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return (0, 0)


def to_oci_seccomp(profile: dict, caps: list[str], machine: str | None = None,
                   kernel: tuple[int, int] | None = None) -> dict:
    """A Docker-format profile (archMap, includes/excludes) -> an OCI linux.seccomp object for this
    host and these capabilities, as moby's profiles/seccomp does. An OCI-format profile passes through."""
    machine = machine or os.uname().machine
    kernel = kernel or kernel_version()
    goarch = _GOARCH.get(machine, machine)
    out: dict = {"defaultAction": profile.get("defaultAction")}
    if not out["defaultAction"]:
        raise InvalidArgument("seccomp profile: defaultAction is required (e.g. SCMP_ACT_ERRNO)")
    for key in ("defaultErrnoRet", "listenerPath", "listenerMetadata", "flags"):
        if profile.get(key) is not None:
            out[key] = profile[key]
    if profile.get("archMap") and profile.get("architectures"):
        raise InvalidArgument("seccomp profile: use archMap or architectures, not both")
    if profile.get("archMap"):
        native = _SCMP_ARCH.get(machine)
        arches = []
        for entry in profile["archMap"]:
            if entry.get("architecture") == native:
                arches += [native, *(entry.get("subArchitectures") or [])]
        out["architectures"] = arches
    elif profile.get("architectures"):
        out["architectures"] = list(profile["architectures"])
    syscalls = []
    for i, call in enumerate(profile.get("syscalls") or []):
        if not isinstance(call, dict):
            raise InvalidArgument(f"seccomp profile: syscalls[{i}] must be an object")
        if not _applies(call, i, caps, goarch, kernel):
            continue
        names = call.get("names") or ([call["name"]] if call.get("name") else [])
        if not names:
            raise InvalidArgument(f"seccomp profile: syscalls[{i}] names no syscall (names is empty)")
        rule = {"names": list(names), "action": call.get("action")}
        if call.get("errnoRet") is not None:
            rule["errnoRet"] = call["errnoRet"]
        if call.get("args"):
            rule["args"] = [dict(a) for a in call["args"]]
        syscalls.append(rule)
    out["syscalls"] = syscalls
    return out


def _applies(call: dict, i: int, caps: list[str], goarch: str, kernel: tuple[int, int]) -> bool:
    inc, exc = call.get("includes") or {}, call.get("excludes") or {}
    if goarch in (exc.get("arches") or []):
        return False
    if any(c in caps for c in exc.get("caps") or []):
        return False
    if inc.get("arches") and goarch not in inc["arches"]:
        return False
    if not all(c in caps for c in inc.get("caps") or []):
        return False
    if inc.get("minKernel"):
        wanted = kernel_version(str(inc["minKernel"]))
        if wanted == (0, 0):
            raise InvalidArgument(f"seccomp profile: syscalls[{i}].includes.minKernel {inc['minKernel']!r} "
                                  "is not a kernel version such as 4.8")
        if kernel < wanted:
            return False
    return True


def parse_ulimits(values: list[str]) -> list[dict]:
    """--ulimit nofile=1024:2048 (soft:hard; one value sets both; -1 is unlimited) -> process.rlimits."""
    limits: dict[str, dict] = {}
    for value in values:
        name, eq, spec = value.partition("=")
        name = name.strip().lower()
        if not eq or name not in ULIMITS:
            raise InvalidArgument(f"invalid --ulimit {value!r}: use NAME=SOFT[:HARD] with NAME one of "
                                  f"{', '.join(ULIMITS)}")
        soft_s, _, hard_s = spec.partition(":")
        try:
            soft = int(soft_s)
            hard = int(hard_s) if hard_s else soft
        except ValueError:
            raise InvalidArgument(f"invalid --ulimit {value!r}: limits are integers (-1 for unlimited)") from None
        soft, hard = (RLIM_INFINITY if v == -1 else v for v in (soft, hard))
        if soft < 0 or hard < 0:
            raise InvalidArgument(f"invalid --ulimit {value!r}: limits are integers (-1 for unlimited)")
        if soft > hard:
            raise InvalidArgument(f"invalid --ulimit {value!r}: the soft limit is above the hard limit")
        limits[name] = {"type": f"RLIMIT_{name.upper()}", "soft": soft, "hard": hard}
    return [limits[n] for n in sorted(limits)]


def host_devices(root: str = "/dev") -> list[dict]:
    """Every device node of the host, for --privileged (as Docker's HostDevices)."""
    out = []
    for top, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not (top == root and d in ("pts", "shm", "mqueue", "fd", ".lxc")))
        for name in sorted(files):
            path = os.path.join(top, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            kind = "c" if stat.S_ISCHR(st.st_mode) else "b" if stat.S_ISBLK(st.st_mode) else None
            if kind is None or path == "/dev/console":
                continue
            out.append({"path": path, "type": kind, "major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev),
                        "fileMode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid})
    return out


def _writable_system_mounts(config: dict) -> None:
    """--privileged: /sys and the cgroupfs read-write."""
    for mount in config.get("mounts") or []:
        if mount.get("type") in ("sysfs", "cgroup", "cgroup2"):
            mount["options"] = [o for o in mount.get("options") or [] if o != "ro"]


def find_init() -> str:
    for path in INIT_CANDIDATES:
        if os.access(path, os.X_OK) and _is_static(path):
            return path
    raise InvalidArgument("--init needs a statically linked init on the host: install catatonit or tini "
                          "(apt-get install catatonit)")


def _is_static(path: str) -> bool:
    """An ELF without a PT_INTERP program header needs no dynamic loader inside the image."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2:
                return False
            phoff, = struct.unpack_from("<Q", head, 32)
            phentsize, phnum = struct.unpack_from("<HH", head, 54)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return False
    return all(struct.unpack_from("<I", table, i * phentsize)[0] != 3 for i in range(phnum))


def _add_init(config: dict, path: str) -> None:
    config.setdefault("mounts", []).append({"destination": INIT_PATH, "type": "bind", "source": path,
                                            "options": ["bind", "ro"]})
    process = config["process"]
    process["args"] = [INIT_PATH, "--", *process["args"]]

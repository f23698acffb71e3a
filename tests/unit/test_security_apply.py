"""apply_security on a config.json built by specbuild: Docker's defaults and the flags that change them."""

from __future__ import annotations

import copy
import json
import os

import pytest

from mydocker.engine import security, bundle_config
from mydocker.engine.security import SecurityOptions, apply_security
from mydocker.errors import InvalidArgument
from mydocker.runtime import seccomp as compiler
from mydocker.runtime import seccomp_table


def _config(uid: int = 0) -> dict:
    return {"ociVersion": "1.0.2",
            "process": {"user": {"uid": uid, "gid": uid}, "args": ["sh"], "env": [], "cwd": "/"},
            "root": {"path": "rootfs", "readonly": False},
            "mounts": copy.deepcopy(bundle_config.DEFAULT_MOUNTS),
            "linux": {"namespaces": [{"type": t} for t in bundle_config.NAMESPACES],
                      "maskedPaths": list(bundle_config.MASKED_PATHS),
                      "readonlyPaths": list(bundle_config.READONLY_PATHS),
                      "resources": {}}}


def _mask(names: list[str]) -> str:
    return f"{security.cap_mask(names):016x}"


def test_defaults_are_dockers():
    config = apply_security(_config(), SecurityOptions())
    caps = config["process"]["capabilities"]
    assert _mask(caps["bounding"]) == _mask(caps["effective"]) == _mask(caps["permitted"]) == "00000000a80405fb"
    assert "inheritable" not in caps and "ambient" not in caps
    assert "noNewPrivileges" not in config["process"]
    seccomp = config["linux"]["seccomp"]
    assert seccomp["defaultAction"] == "SCMP_ACT_ERRNO" and seccomp["defaultErrnoRet"] == 1
    assert seccomp["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    names = {n for rule in seccomp["syscalls"] for n in rule["names"]}
    assert not names & {"mount", "unshare", "setns", "keyctl", "bpf", "perf_event_open", "reboot"}
    assert {"clone", "clone3", "socket", "ptrace", "chroot"} <= names
    devices = config["linux"]["resources"]["devices"]
    assert devices[0] == {"allow": False, "access": "rwm"}
    assert {"allow": False, "type": "c", "major": 10, "minor": 229, "access": "rwm"} in devices
    assert config["linux"]["maskedPaths"] == bundle_config.MASKED_PATHS
    assert config["root"]["readonly"] is False
    compiler.compile_seccomp(seccomp)  # the runtime accepts what the engine writes


def test_non_root_user_keeps_only_the_bounding_set():
    caps = apply_security(_config(uid=1000), SecurityOptions())["process"]["capabilities"]
    assert _mask(caps["bounding"]) == "00000000a80405fb"
    assert caps["effective"] == caps["permitted"] == []


@pytest.mark.parametrize("add, drop, expected", [
    (["net_admin"], [], security.DEFAULT_CAPS + ["CAP_NET_ADMIN"]),
    (["CAP_SYS_ADMIN", "sys_admin"], ["MKNOD", "cap_kill"],
     [c for c in security.DEFAULT_CAPS if c not in ("CAP_MKNOD", "CAP_KILL")] + ["CAP_SYS_ADMIN"]),
    (["net_raw"], [], security.DEFAULT_CAPS + ["CAP_NET_RAW"]),
    (["ALL"], ["SYS_ADMIN"], [c for c in security.ALL_CAPS if c != "CAP_SYS_ADMIN"]),
    (["chown", "Kill"], ["all"], ["CAP_CHOWN", "CAP_KILL"]),
    ([], ["ALL"], []),
])
def test_cap_add_and_drop(add, drop, expected):
    assert security.capabilities(add, drop, privileged=False) == expected


def test_unknown_capability_is_one_line():
    with pytest.raises(InvalidArgument, match=r"^invalid --cap-add 'SYS_NOPE': unknown capability"):
        security.capabilities(["SYS_NOPE"], [], False)


def test_cap_add_opens_the_seccomp_rules_it_guards():
    seccomp = apply_security(_config(), SecurityOptions(cap_add=["SYS_ADMIN"]))["linux"]["seccomp"]
    names = {n for rule in seccomp["syscalls"] for n in rule["names"]}
    assert {"mount", "unshare", "setns", "bpf"} <= names
    assert not any(r["names"] == ["clone3"] and r["action"] == "SCMP_ACT_ERRNO" for r in seccomp["syscalls"])


def test_privileged():
    config = apply_security(_config(), SecurityOptions(privileged=True))
    assert config["process"]["capabilities"]["bounding"] == security.privileged_caps()
    assert "seccomp" not in config["linux"]
    assert config["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert config["linux"]["maskedPaths"] == [] and config["linux"]["readonlyPaths"] == []
    by_dest = {m["destination"]: m for m in config["mounts"]}
    assert "ro" not in by_dest["/sys"]["options"] and "ro" not in by_dest["/sys/fs/cgroup"]["options"]
    assert any(d["path"] == "/dev/null" and d["type"] == "c" for d in config["linux"]["devices"])


@pytest.mark.parametrize("opt, nnp, seccomp", [
    ("no-new-privileges", True, True), ("no-new-privileges=true", True, True),
    ("no-new-privileges:true", True, True), ("no-new-privileges=false", False, True),
    ("seccomp=unconfined", False, False), ("apparmor=unconfined", False, True),
])
def test_security_opts(opt, nnp, seccomp):
    config = apply_security(_config(), SecurityOptions(security_opt=[opt]))
    assert config["process"].get("noNewPrivileges", False) is nnp
    assert ("seccomp" in config["linux"]) is seccomp


def test_seccomp_profile_file(tmp_path):
    profile = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
    path = tmp_path / "p.json"
    path.write_text(json.dumps(profile))
    seccomp = apply_security(_config(), SecurityOptions(security_opt=[f"seccomp={path}"]))["linux"]["seccomp"]
    assert seccomp == {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": profile["syscalls"]}
    path.write_text("{nope")
    with pytest.raises(InvalidArgument, match="is not valid JSON"):
        apply_security(_config(), SecurityOptions(security_opt=[f"seccomp={path}"]))
    with pytest.raises(InvalidArgument, match="cannot read the seccomp profile"):
        apply_security(_config(), SecurityOptions(security_opt=[f"seccomp={tmp_path}/missing.json"]))


@pytest.mark.parametrize("bad", ["seccomp", "nope=1", "no-new-privileges=maybe"])
def test_bad_security_opt(bad):
    with pytest.raises(InvalidArgument, match=r"^invalid --security-opt"):
        apply_security(_config(), SecurityOptions(security_opt=[bad]))


def test_systempaths_unconfined_unmasks():
    config = apply_security(_config(), SecurityOptions(security_opt=["systempaths=unconfined"]))
    assert config["linux"]["maskedPaths"] == config["linux"]["readonlyPaths"] == []


def test_includes_and_excludes():
    profile = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["a"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}},
        {"names": ["b"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "7.0"}},
        {"names": ["c"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8", "arches": ["amd64"]}},
        {"names": ["d"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_KILL"]}},
        {"names": ["e"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_KILL", "CAP_BPF"]}},
        {"name": "f", "action": "SCMP_ACT_ALLOW"}]}
    out = security.to_oci_seccomp(profile, ["CAP_KILL"], machine="x86_64", kernel=(6, 1))
    assert [r["names"] for r in out["syscalls"]] == [["c"], ["f"]]
    out = security.to_oci_seccomp(profile, ["CAP_KILL", "CAP_BPF"], machine="aarch64", kernel=(7, 2))
    assert [r["names"] for r in out["syscalls"]] == [["a"], ["b"], ["e"], ["f"]]


def test_default_profile_resolves_on_x86_64():
    """Every name the default profile allows on x86_64 is a real syscall here, except 32-bit-only ones."""
    oci = security.to_oci_seccomp(security.default_profile(), security.ALL_CAPS, machine="x86_64", kernel=(6, 1))
    tables = set(seccomp_table.X86_64) | set(seccomp_table.X86) | set(seccomp_table.X32)
    unknown = {n for r in oci["syscalls"] for n in r["names"]} - tables
    # names the kernel headers of Debian 12 do not carry, or that are libseccomp pseudo-calls
    assert unknown <= {"recv", "send", "epoll_ctl_old", "epoll_wait_old", "umount", "stime"}, unknown


def test_package_data_is_declared():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "pyproject.toml")) as f:
        assert "seccomp_default.json" in f.read()


@pytest.mark.parametrize("values, expected", [
    (["nofile=1024:2048"], [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048}]),
    (["nproc=10", "core=-1", "nofile=5"], [{"type": "RLIMIT_CORE", "soft": 2**64 - 1, "hard": 2**64 - 1},
                                           {"type": "RLIMIT_NOFILE", "soft": 5, "hard": 5},
                                           {"type": "RLIMIT_NPROC", "soft": 10, "hard": 10}]),
])
def test_ulimits(values, expected):
    assert security.parse_ulimits(values) == expected


@pytest.mark.parametrize("bad", ["nofile", "bogus=1", "nofile=a", "nofile=10:5", "nofile=-2"])
def test_bad_ulimits(bad):
    with pytest.raises(InvalidArgument, match=r"^invalid --ulimit"):
        security.parse_ulimits([bad])


def test_read_only_and_init(monkeypatch):
    monkeypatch.setattr(security, "find_init", lambda: "/usr/bin/catatonit")
    config = apply_security(_config(), SecurityOptions(read_only=True, init=True))
    assert config["root"]["readonly"] is True
    assert config["process"]["args"] == [security.INIT_PATH, "--", "sh"]
    assert config["mounts"][-1] == {"destination": security.INIT_PATH, "type": "bind",
                                    "source": "/usr/bin/catatonit", "options": ["bind", "ro"]}


def test_static_detection():
    import sys
    assert not security._is_static(sys.executable) or os.path.realpath(sys.executable).endswith("static")
    assert not security._is_static(__file__)


def test_privileged_caps_are_what_the_engine_holds(tmp_path):
    status = tmp_path / "status"
    status.write_text("Name:\tx\nCapBnd:\t000001fffeffffff\n")
    caps = security.privileged_caps(str(status))
    assert "CAP_SYS_RESOURCE" not in caps and len(caps) == len(security.ALL_CAPS) - 1
    status.write_text("CapBnd:\t000001ffffffffff\n")
    assert security.privileged_caps(str(status)) == security.ALL_CAPS


def test_ping_group_range_is_opened_in_the_containers_own_network_namespace_only():
    config = apply_security(_config(), SecurityOptions())
    assert config["linux"]["sysctl"] == {"net.ipv4.ping_group_range": "0 2147483647"}
    host = _config()
    host["linux"]["namespaces"] = [ns for ns in host["linux"]["namespaces"] if ns["type"] != "network"]
    assert "net.ipv4.ping_group_range" not in apply_security(host, SecurityOptions())["linux"].get("sysctl", {})
    remapped = _config()
    remapped["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    assert "net.ipv4.ping_group_range" not in apply_security(remapped, SecurityOptions())["linux"].get("sysctl", {})

"""podman's default seccomp profile (containers-common): one syscall in several rules with different
actions, settled as libseccomp settles them (the oracle: libseccomp 2.5 through ctypes)."""

from __future__ import annotations

import ctypes.util
import json
import os
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(__file__))
from seccomp_oracle import LibSeccomp, run_bpf  # noqa: E402

from mydocker.engine import security
from mydocker.runtime import seccomp, seccomp_table

X64, I386 = seccomp.AUDIT_ARCH_X86_64, seccomp.AUDIT_ARCH_I386
ALLOW, EPERM, ENOSYS = seccomp.RET_ALLOW, seccomp.RET_ERRNO | 1, seccomp.RET_ERRNO | 38
PODMAN_PROFILE = "/usr/share/containers/seccomp.json"
# containers.conf default_capabilities (podman 4)
PODMAN_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE",
               "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"]
CAP_SETS = {"podman-default": PODMAN_CAPS, "docker-default": security.DEFAULT_CAPS,
            "sys-admin": PODMAN_CAPS + ["CAP_SYS_ADMIN"], "all": security.ALL_CAPS}
ARGS = (0, 1, 2, 8, 9, 16, 40, 0x20000, 0x20008, 0x7E020000, 0xFFFFFFFF, (1 << 32) | 16)

needs_libseccomp = pytest.mark.skipif(not ctypes.util.find_library("seccomp"), reason="libseccomp not installed")


def _action(name, errno):
    return seccomp._action(name, errno, "test")


def _oracle(config: dict) -> bytes:
    return LibSeccomp().export(config, _action)


def _rule(names, action, errno=None, args=None, includes=None, excludes=None) -> dict:
    rule = {"names": names, "action": action, "args": args or [], "includes": includes or {},
            "excludes": excludes or {}}
    if errno is not None:
        rule["errnoRet"] = errno
    return rule


def _eq(index, value, op="SCMP_CMP_EQ"):
    return {"index": index, "value": value, "valueTwo": 0, "op": op}


# The shapes podman's profile has, in Docker's format: an allow list naming setns, then setns again
# by capability; socket split by CAP_AUDIT_WRITE into conditional rules or one unconditional allow;
# per-arch entries; the default ERRNO(ENOSYS) with EPERM rules for what capabilities guard.
SYNTHETIC = {
    "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "defaultErrno": "ENOSYS",
    "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
    "syscalls": [
        _rule(["read", "write", "close", "exit_group", "setns", "unshare", "getpid", "socketcall"], "SCMP_ACT_ALLOW"),
        *[_rule(["personality"], "SCMP_ACT_ALLOW", args=[_eq(0, v)]) for v in (0, 8, 0x20000, 0xFFFFFFFF)],
        _rule(["sync_file_range2"], "SCMP_ACT_ALLOW", includes={"arches": ["ppc64le"]}),
        _rule(["arch_prctl"], "SCMP_ACT_ALLOW", includes={"arches": ["amd64", "x32"]}),
        _rule(["bpf", "setns", "mount"], "SCMP_ACT_ALLOW", includes={"caps": ["CAP_SYS_ADMIN"]}),
        _rule(["bpf", "setns", "mount", "unshare"], "SCMP_ACT_ERRNO", 1, excludes={"caps": ["CAP_SYS_ADMIN"]}),
        _rule(["chroot"], "SCMP_ACT_ALLOW", includes={"caps": ["CAP_SYS_CHROOT"]}),
        _rule(["chroot"], "SCMP_ACT_ERRNO", 1, excludes={"caps": ["CAP_SYS_CHROOT"]}),
        _rule(["socket"], "SCMP_ACT_ERRNO", 22, args=[_eq(0, 16), _eq(2, 9)], excludes={"caps": ["CAP_AUDIT_WRITE"]}),
        _rule(["socket"], "SCMP_ACT_ALLOW", args=[_eq(2, 9, "SCMP_CMP_NE")], excludes={"caps": ["CAP_AUDIT_WRITE"]}),
        _rule(["socket"], "SCMP_ACT_ALLOW", args=[_eq(0, 16, "SCMP_CMP_NE")], excludes={"caps": ["CAP_AUDIT_WRITE"]}),
        _rule(["socket"], "SCMP_ACT_ALLOW", args=[_eq(2, 9, "SCMP_CMP_NE")], excludes={"caps": ["CAP_AUDIT_WRITE"]}),
        _rule(["socket"], "SCMP_ACT_ALLOW", includes={"caps": ["CAP_AUDIT_WRITE"]}),
        # an unconditional rule after a conditional one for the same call covers it whole
        _rule(["clone"], "SCMP_ACT_ALLOW", args=[_eq(0, 0x7E020000, "SCMP_CMP_MASKED_EQ")]),
        _rule(["clone"], "SCMP_ACT_ALLOW", includes={"caps": ["CAP_SYS_ADMIN"]}),
        _rule(["kill"], "SCMP_ACT_ERRNO", 13, args=[_eq(1, 9)]),
        _rule(["kill"], "SCMP_ACT_LOG"),
        _rule(["kill"], "SCMP_ACT_ALLOW"),  # a second unconditional action: the first one stays
    ],
}


def _profiles() -> list[tuple[str, dict]]:
    out = [("synthetic", SYNTHETIC)]
    if os.path.exists(PODMAN_PROFILE):
        with open(PODMAN_PROFILE) as f:
            out.append(("containers-common", json.load(f)))
    return out


def _oci(profile: dict, caps: list[str]) -> dict:
    return security.to_oci_seccomp(profile, caps, machine="x86_64", kernel=(6, 1))


def _top(config: dict, arch: str) -> int:
    table = getattr(seccomp_table, arch)
    return max(table[n] for rule in config["syscalls"] for n in rule["names"] if n in table)


def test_the_real_podman_profile_is_tested_when_installed():
    names = [name for name, _ in _profiles()]
    assert names[0] == "synthetic"
    assert ("containers-common" in names) == os.path.exists(PODMAN_PROFILE)


@needs_libseccomp
@pytest.mark.parametrize("caps", list(CAP_SETS.values()), ids=list(CAP_SETS))
@pytest.mark.parametrize("name, profile", _profiles(), ids=[n for n, _ in _profiles()])
def test_podman_profile_decides_every_syscall_as_libseccomp(name, profile, caps):
    config = _oci(profile, caps)
    ours, theirs = seccomp.compile_seccomp(config).code, _oracle(config)
    checked = 0
    for arch, audit, low in (("X86_64", X64, 0), ("X86", I386, 0), ("X32", X64, seccomp.X32_BIT)):
        table = getattr(seccomp_table, arch)
        top = _top(config, arch)
        for nr in table.values():
            if nr > top:  # runc's ENOSYS stub for calls newer than the profile (test_seccomp.py)
                continue
            for a in ARGS:
                for args in ((a, 0, a), (a, a, 9), (16, a, 9)):
                    assert run_bpf(ours, nr, audit, args) == run_bpf(theirs, nr, audit, args), (arch, nr, args)
                    checked += 1
    assert checked > 3000


def test_podman_profile_what_capabilities_decide():
    nr = seccomp_table.X86_64
    for _name, profile in _profiles():
        plain = seccomp.compile_seccomp(_oci(profile, PODMAN_CAPS)).code
        admin = seccomp.compile_seccomp(_oci(profile, CAP_SETS["sys-admin"])).code
        # setns is in the allow list and again in an EPERM rule without CAP_SYS_ADMIN: the first stays
        assert run_bpf(plain, nr["setns"], X64) == ALLOW
        assert run_bpf(plain, nr["bpf"], X64) == EPERM
        assert run_bpf(admin, nr["bpf"], X64) == ALLOW
        assert run_bpf(plain, nr["getpid"], X64) == ALLOW
        # no CAP_AUDIT_WRITE: an audit netlink socket is refused with EINVAL, others allowed
        assert run_bpf(plain, nr["socket"], X64, (16, 3, 9)) == seccomp.RET_ERRNO | 22
        assert run_bpf(plain, nr["socket"], X64, (16, 3, 0)) == ALLOW
        assert run_bpf(plain, nr["socket"], X64, (2, 1, 0)) == ALLOW
        with_audit = seccomp.compile_seccomp(_oci(profile, PODMAN_CAPS + ["CAP_AUDIT_WRITE"])).code
        assert run_bpf(with_audit, nr["socket"], X64, (16, 3, 9)) == ALLOW


def test_first_unconditional_rule_wins_and_covers_conditional_ones():
    config = _oci(SYNTHETIC, PODMAN_CAPS)
    code = seccomp.compile_seccomp(config).code
    kill = seccomp_table.X86_64["kill"]
    assert run_bpf(code, kill, X64, (1, 9)) == seccomp.RET_LOG  # not ERRNO(13): the condition is covered
    assert run_bpf(code, kill, X64, (1, 2)) == seccomp.RET_LOG


# Random multi-rule profiles: a syscall gets several unconditional rules with different actions and
# conditional rules before, between or after them. Without an unconditional rule a syscall gets at
# most one conditional rule (libseccomp's choice among overlapping conditional rules is its own).
_acts = st.sampled_from([("SCMP_ACT_ALLOW", None), ("SCMP_ACT_ERRNO", 13), ("SCMP_ACT_ERRNO", 1),
                         ("SCMP_ACT_KILL_PROCESS", None), ("SCMP_ACT_TRAP", None), ("SCMP_ACT_LOG", None)])
_cond = st.builds(lambda i, v, op: {"index": i, "value": v, "op": op}, st.integers(0, 2),
                  st.sampled_from([0, 1, 9, 16]), st.sampled_from(["SCMP_CMP_EQ", "SCMP_CMP_NE", "SCMP_CMP_GT"]))
_names = ["read", "write", "setns", "socket", "kill", "bpf", "mount", "chroot"]


@st.composite
def _multi(draw):
    default = draw(st.sampled_from(["SCMP_ACT_ERRNO", "SCMP_ACT_ALLOW"]))
    # a rule with the default action is dropped (runc), so only a different one covers conditional rules
    covering = _acts.filter(lambda a: _action(*a) != _action(default, None))
    rules = []
    for name in draw(st.lists(st.sampled_from(_names), min_size=1, max_size=5, unique=True)):
        plain = draw(st.integers(0, 3))
        conds = draw(st.integers(0, 3 if plain else 1))
        mine = [(None, draw(covering)) for _ in range(plain)] + [(draw(_cond), draw(_acts)) for _ in range(conds)]
        for cond, (act, errno) in draw(st.permutations(mine)):
            rule = {"names": [name], "action": act}
            if errno is not None:
                rule["errnoRet"] = errno
            if cond:
                rule["args"] = [cond]
            rules.append(rule)
    rules = draw(st.permutations(rules))  # rules of different syscalls interleave freely
    return {"defaultAction": default, "syscalls": list(rules)}


@needs_libseccomp
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profile=_multi())
def test_random_multi_rule_profiles_agree_with_libseccomp(profile):
    ours, theirs = seccomp.compile_seccomp(profile).code, _oracle(profile)
    top = _top(profile, "X86_64") if profile["syscalls"] else 1 << 32  # nothing named: no stub
    for name in _names:
        nr = seccomp_table.X86_64[name]
        if nr > top and profile["defaultAction"] != "SCMP_ACT_ALLOW":
            assert run_bpf(ours, nr, X64) == ENOSYS  # runc's stub
            continue
        for args in ((0, 0, 0), (1, 9, 16), (16, 1, 9), (9, 16, 1), (20, 20, 20)):
            assert run_bpf(ours, nr, X64, args) == run_bpf(theirs, nr, X64, args), (name, args)

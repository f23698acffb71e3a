"""The seccomp compiler: libseccomp as the oracle, the kernel as the judge, errors that name the field."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(__file__))
from seccomp_oracle import LibSeccomp, run_bpf  # noqa: E402

from mydocker.engine import security
from mydocker.errors import InvalidArgument
from mydocker.runtime import seccomp, seccomp_table

X64, I386 = seccomp.AUDIT_ARCH_X86_64, seccomp.AUDIT_ARCH_I386
ALLOW, EPERM, ENOSYS = seccomp.RET_ALLOW, seccomp.RET_ERRNO | 1, seccomp.RET_ERRNO | 38
ALL_ARCHES = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]

needs_libseccomp = pytest.mark.skipif(not (ctypes.util.find_library("seccomp")), reason="libseccomp not installed")


def _action(name, errno):
    return seccomp._action(name, errno, "test")


def _oracle(config: dict) -> bytes:
    return LibSeccomp().export(config, _action)


def _docker(caps=security.DEFAULT_CAPS) -> dict:
    return security.to_oci_seccomp(security.default_profile(), caps, machine="x86_64", kernel=(6, 1))


def _highest_named(config: dict, arch: str) -> int:
    table = getattr(seccomp_table, arch)
    return max(table[n] for rule in config["syscalls"] for n in rule["names"] if n in table)


ARGS = (0, 2, 8, 40, 0x20000, 0x20008, 0x7E020000, 0x10000, 0x11, 0xFFFFFFFF, (1 << 32) | 40)


@needs_libseccomp
@pytest.mark.parametrize("caps", [security.DEFAULT_CAPS, security.ALL_CAPS], ids=["default-caps", "all-caps"])
def test_docker_profile_decides_every_syscall_as_libseccomp(caps):
    config = _docker(caps)
    ours, theirs = seccomp.compile_seccomp(config).code, _oracle(config)
    checked = 0
    for arch, audit, low in (("X86_64", X64, 0), ("X86", I386, 0), ("X32", X64, seccomp.X32_BIT)):
        table = getattr(seccomp_table, arch)
        top = _highest_named(config, arch)
        for nr in [*table.values(), top + 1, top + 50, low + 999]:
            for arg in ARGS:
                args = (arg, arg, 0, 0, 0, 0)
                got = run_bpf(ours, nr, audit, args)
                if nr > top:  # runc's stub: syscalls newer than the profile -> ENOSYS
                    assert got == ENOSYS, (arch, nr)
                    continue
                assert got == run_bpf(theirs, nr, audit, args), (arch, nr, hex(arg))
                checked += 1
    assert checked > 10000


def test_docker_profile_denies_what_docker_denies():
    config = _docker()
    code = seccomp.compile_seccomp(config).code
    nr = seccomp_table.X86_64
    for name in ("mount", "umount2", "unshare", "setns", "keyctl", "add_key", "request_key", "bpf",
                 "perf_event_open", "kexec_load", "userfaultfd", "acct", "swapon", "pivot_root", "reboot",
                 "init_module", "settimeofday", "open_by_handle_at", "syslog", "iopl"):
        assert run_bpf(code, nr[name], X64) == EPERM, name
    for name in ("read", "execve", "ptrace", "chroot", "capset", "close_range", "exit_group"):
        assert run_bpf(code, nr[name], X64) == ALLOW, name
    assert run_bpf(code, nr["clone3"], X64) == ENOSYS
    assert run_bpf(code, nr["clone"], X64, (0x01200011,)) == ALLOW  # fork
    assert run_bpf(code, nr["clone"], X64, (0x00020000 | 0x11,)) == EPERM  # CLONE_NEWNS
    assert run_bpf(code, nr["socket"], X64, (2,)) == ALLOW
    assert run_bpf(code, nr["socket"], X64, (40,)) == EPERM  # AF_VSOCK
    assert run_bpf(code, nr["personality"], X64, (0xFFFFFFFF,)) == ALLOW
    assert run_bpf(code, nr["personality"], X64, (0x0400000,)) == EPERM  # READ_IMPLIES_EXEC
    assert run_bpf(code, seccomp_table.X86["mount"], I386) == EPERM
    assert run_bpf(code, seccomp_table.X32["mount"], X64) == EPERM
    assert run_bpf(code, 0, 0xC00000B7) == seccomp.RET_KILL_THREAD  # aarch64: not this filter's arch


def test_capabilities_open_what_they_guard():
    code = seccomp.compile_seccomp(_docker(security.DEFAULT_CAPS + ["CAP_SYS_ADMIN"])).code
    nr = seccomp_table.X86_64
    for name in ("mount", "unshare", "setns", "bpf", "clone3"):
        assert run_bpf(code, nr[name], X64) == ALLOW, name
    assert run_bpf(code, nr["clone"], X64, (0x00020000,)) == ALLOW
    assert run_bpf(code, nr["keyctl"], X64) == EPERM  # no capability opens keyctl
    assert run_bpf(seccomp.compile_seccomp(_docker(["CAP_SYS_TIME"])).code, nr["settimeofday"], X64) == ALLOW


# Random profiles against libseccomp: one rule per syscall (libseccomp's choice among overlapping
# rules with different actions is its own), conditions on any argument with every operator.
_ops = st.sampled_from(seccomp._OPS)
_word = st.sampled_from([0, 1, 2, 40, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF])
_value = st.tuples(_word, _word).map(lambda hw: (hw[0] << 32) | hw[1])
_cond = st.fixed_dictionaries({"index": st.integers(0, 5), "op": _ops, "value": _value, "valueTwo": _value})
_acts = st.sampled_from([("SCMP_ACT_ALLOW", None), ("SCMP_ACT_ERRNO", 13), ("SCMP_ACT_KILL_PROCESS", None),
                         ("SCMP_ACT_TRAP", None), ("SCMP_ACT_LOG", None), ("SCMP_ACT_TRACE", 7)])
_names = sorted(seccomp_table.X86_64, key=seccomp_table.X86_64.get)[:460]


@st.composite
def _profiles(draw):
    names = draw(st.lists(st.sampled_from(_names), min_size=1, max_size=40, unique=True))
    default = draw(st.sampled_from([("SCMP_ACT_ERRNO", None), ("SCMP_ACT_ALLOW", None), ("SCMP_ACT_KILL", None)]))
    rules = []
    for name in names:
        act, errno = draw(_acts)
        rule = {"names": [name], "action": act}
        if errno is not None:
            rule["errnoRet"] = errno
        # one condition per argument: several on one argument are ORed rules (tested apart), where
        # libseccomp 2.5 merges overlapping ranges of one rule tree wrongly (1 < 2**32 said false)
        conds = draw(st.lists(_cond, max_size=3, unique_by=lambda c: c["index"]))
        if conds:
            rule["args"] = conds
        rules.append(rule)
    return {"defaultAction": default[0], "syscalls": rules}


@needs_libseccomp
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profile=_profiles(), args=st.lists(st.tuples(st.integers(0, 5), _value), max_size=6))
def test_random_profiles_agree_with_libseccomp(profile, args):
    ours, theirs = seccomp.compile_seccomp(profile).code, _oracle(profile)
    call = [0] * 6
    for index, value in args:
        call[index] = value
    top = _highest_named(profile, "X86_64")
    stub = profile["defaultAction"] != "SCMP_ACT_ALLOW"
    for rule in profile["syscalls"]:
        nr = seccomp_table.X86_64[rule["names"][0]]
        # the rule's own condition values, so equal/greater/less branches are all taken
        for probe in [call] + [[c["value"]] * 6 for c in rule.get("args", [])]:
            assert run_bpf(ours, nr, X64, tuple(probe)) == run_bpf(theirs, nr, X64, tuple(probe)), rule
    if stub:
        assert run_bpf(ours, top + 1, X64) == ENOSYS


def test_far_jumps_get_trampolines():
    """Hundreds of conditional rules push targets beyond a conditional jump's 255 instructions."""
    rules = [{"names": [name], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 7, "op": "SCMP_CMP_GT"}]}
             for name in _names[:300]]
    program = seccomp.compile_seccomp({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": rules})
    assert len(program) > 2000
    for name in _names[:300]:
        nr = seccomp_table.X86_64[name]
        assert run_bpf(program.code, nr, X64, (0, 8)) == ALLOW
        assert run_bpf(program.code, nr, X64, (0, 7)) == EPERM


def test_same_argument_twice_means_either():
    rule = {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}
    code = seccomp.compile_seccomp({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [rule]}).code
    nr = seccomp_table.X86_64["personality"]
    assert [run_bpf(code, nr, X64, (v,)) for v in (1, 2, 3)] == [ALLOW, ALLOW, EPERM]


def test_unknown_names_are_skipped_and_foreign_arches_ignored():
    config = {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
              "syscalls": [{"names": ["no_such_call", "read"], "action": "SCMP_ACT_ALLOW"}]}
    code = seccomp.compile_seccomp(config).code
    assert run_bpf(code, 0, X64) == ALLOW
    assert run_bpf(code, seccomp_table.X86["read"], I386) == seccomp.RET_KILL_THREAD  # i386 not listed


@pytest.mark.parametrize("config, field", [
    ({"defaultAction": "SCMP_ACT_NOPE"}, "linux.seccomp.defaultAction"),
    ({"defaultAction": "SCMP_ACT_NOTIFY"}, "linux.seccomp.defaultAction"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1}, "linux.seccomp.defaultErrnoRet"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_Z80"]}, "linux.seccomp.architectures[0]"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "flags": ["SECCOMP_FILTER_FLAG_NOPE"]}, "linux.seccomp.flags[0]"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": [], "action": "SCMP_ACT_ALLOW"}]},
     "linux.seccomp.syscalls[0].names"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "ALLOW"}]},
     "linux.seccomp.syscalls[0].action"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                                                       "args": [{"index": 6, "op": "SCMP_CMP_EQ"}]}]},
     "linux.seccomp.syscalls[0].args[0].index"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                                                       "args": [{"index": 0, "op": "EQ"}]}]},
     "linux.seccomp.syscalls[0].args[0].op"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                                                       "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]},
     "linux.seccomp.syscalls[0].args[0].value"),
])
def test_errors_name_the_field(config, field):
    with pytest.raises(InvalidArgument) as info:
        seccomp.compile_seccomp(config)
    message = str(info.value)
    assert message.startswith(f"config.json: {field} ") and "\n" not in message


def test_prepare_compiles_once_per_config_object():
    config = _docker()
    first = seccomp.prepare(config)
    assert seccomp.prepare(config) is first
    assert seccomp.prepare(dict(config)) is not first
    assert seccomp.prepare(None) is None


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _in_filtered_child(program: bytes, calls: list[tuple[int, tuple]]) -> list[int]:
    """Fork, set no_new_privs, load the filter, make raw syscalls; return their errnos (0 = allowed)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            seccomp.install(seccomp.Program(program, 0), no_new_privileges=True)
            out = []
            for nr, args in calls:
                result = _libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
                out.append(ctypes.get_errno() if result < 0 else 0)
            os.write(w, struct.pack(f"<{len(out)}i", *out))
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 4096):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return list(struct.unpack(f"<{len(calls)}i", data))


def test_the_kernel_enforces_the_compiled_docker_profile():
    """The real filter in a real process (no root needed with no_new_privs)."""
    program = seccomp.compile_seccomp(_docker()).code
    nr = seccomp_table.X86_64
    bad_ptr = 0  # arguments that make the allowed calls fail harmlessly (EFAULT/EBADF/EINVAL)
    calls = [(nr["keyctl"], (0, 0, 0)), (nr["bpf"], (0, bad_ptr, 0)), (nr["perf_event_open"], (bad_ptr, 0, -1, -1, 0)),
             (nr["unshare"], (0x00020000,)), (nr["mount"], (bad_ptr, bad_ptr, bad_ptr, 0, bad_ptr)),
             (nr["clone3"], (bad_ptr, 0)), (nr["socket"], (40, 1, 0)), (nr["getpid"], ()),
             (nr["close"], (-1,)), (nr["personality"], (0xFFFFFFFF,))]
    errnos = _in_filtered_child(program, calls)
    assert errnos[:7] == [1, 1, 1, 1, 1, 38, 1]
    assert errnos[7:] == [0, 9, 0]  # getpid allowed, close(-1) reached the kernel (EBADF), personality query


def test_the_disk_cache_returns_the_same_program_and_never_a_collision(tmp_path):
    from mydocker.runtime import seccomp
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
               "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
    other = dict(profile, syscalls=[{"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}])
    fresh = seccomp.compile_seccomp(profile)
    first = seccomp.prepare(dict(profile), cache_dir=str(tmp_path))
    assert [p.name for p in tmp_path.iterdir()] and first.code == fresh.code
    (path,) = tmp_path.iterdir()
    again = seccomp.prepare(dict(profile), cache_dir=str(tmp_path))  # a new dict: read from disk
    assert (again.code, again.flags) == (fresh.code, fresh.flags)
    # A file under the other profile's name with this profile's content is not taken for it.
    key = seccomp._cache_key(other)
    path.rename(seccomp._cache_path(str(tmp_path), key))
    assert seccomp.prepare(dict(other), cache_dir=str(tmp_path)).code == seccomp.compile_seccomp(other).code

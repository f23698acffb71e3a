"""Test helpers for seccomp: a classic-BPF interpreter and libseccomp (ctypes) as an oracle."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct


def run_bpf(code: bytes, nr: int, arch: int, args: tuple[int, ...] = (0,) * 6, ip: int = 0) -> int:
    """Run a seccomp program on one seccomp_data the way the kernel does (classic BPF subset)."""
    data = struct.pack("<IIQ6Q", nr & 0xFFFFFFFF, arch, ip, *(list(args) + [0] * (6 - len(args))))
    ins = [struct.unpack_from("<HBBI", code, i) for i in range(0, len(code), 8)]
    a = pc = 0
    while True:
        op, jt, jf, k = ins[pc]
        pc += 1
        if op == 0x20:
            a = struct.unpack_from("<I", data, k)[0]
        elif op == 0x54:
            a &= k
        elif op == 0x06:
            return k
        elif op == 0x05:
            pc += k
        elif op in (0x15, 0x25, 0x35, 0x45):
            hit = {0x15: a == k, 0x25: a > k, 0x35: a >= k, 0x45: bool(a & k)}[op]
            pc += jt if hit else jf
        else:
            raise AssertionError(f"unexpected opcode {op:#x}")


class LibSeccomp:
    """Just enough of libseccomp to build a filter from an OCI config and export its BPF."""

    ARCH = {"SCMP_ARCH_X86_64": 0xC000003E, "SCMP_ARCH_X86": 0x40000003, "SCMP_ARCH_X32": 0x4000003E}
    OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
           "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}

    class Cmp(ctypes.Structure):
        _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("a", ctypes.c_uint64), ("b", ctypes.c_uint64)]

    def __init__(self) -> None:
        name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
        self.lib = ctypes.CDLL(name, use_errno=True)
        self.lib.seccomp_init.restype = ctypes.c_void_p
        self.lib.seccomp_init.argtypes = [ctypes.c_uint32]
        for fn in ("seccomp_arch_add", "seccomp_arch_remove", "seccomp_export_bpf", "seccomp_attr_set"):
            getattr(self.lib, fn).argtypes = [ctypes.c_void_p,
                                              ctypes.c_uint32] + ([ctypes.c_uint32] if fn == "seccomp_attr_set" else [])
        self.lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
        self.lib.seccomp_syscall_resolve_name_arch.argtypes = [ctypes.c_uint32, ctypes.c_char_p]
        self.lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                                    ctypes.c_uint, ctypes.c_void_p]
        self.lib.seccomp_release.argtypes = [ctypes.c_void_p]

    def export(self, config: dict, action) -> bytes:
        """`action(name, errno)` maps OCI action names to libseccomp values (the same as the kernel's)."""
        lib = self.lib
        default = action(config["defaultAction"], config.get("defaultErrnoRet"))
        ctx = lib.seccomp_init(default)
        try:
            lib.seccomp_attr_set(ctx, 3, 0)  # SCMP_FLTATR_CTL_NNP off: runc does that itself
            arches = config.get("architectures") or ["SCMP_ARCH_X86_64"]
            if "SCMP_ARCH_X86_64" not in arches:
                lib.seccomp_arch_remove(ctx, self.ARCH["SCMP_ARCH_X86_64"])
            for arch in arches:
                if arch != "SCMP_ARCH_X86_64":
                    assert lib.seccomp_arch_add(ctx, self.ARCH[arch]) == 0
            for entry in config.get("syscalls") or []:
                act = action(entry["action"], entry.get("errnoRet"))
                if act == default:
                    continue
                args = entry.get("args") or []
                same_arg = len({a["index"] for a in args}) < len(args)
                groups = [[a] for a in args] if same_arg else [args]
                for name in entry["names"]:
                    nr = self._resolve(name)
                    if nr == -1:  # __NR_SCMP_ERROR: unknown on every arch of the filter
                        continue
                    for group in groups:
                        cmps = (self.Cmp * max(1, len(group)))(*[
                            self.Cmp(a["index"], self.OPS[a["op"]], a.get("value", 0), a.get("valueTwo", 0))
                            for a in group])
                        rc = lib.seccomp_rule_add_array(ctx, act, nr, len(group), cmps)
                        assert rc in (0, -17), (name, rc)  # -EEXIST: a duplicate rule
            r, w = os.pipe()
            try:
                assert lib.seccomp_export_bpf(ctx, w) == 0
                os.close(w)
                chunks = []
                while chunk := os.read(r, 65536):
                    chunks.append(chunk)
            finally:
                os.close(r)
            return b"".join(chunks)
        finally:
            lib.seccomp_release(ctx)

    def _resolve(self, name: str) -> int:
        self.lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        return self.lib.seccomp_syscall_resolve_name(name.encode())

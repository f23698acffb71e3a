"""Compile config.json's `linux.seccomp` into a classic-BPF program, and install it in the init.

Our own compiler rather than libseccomp: the runtime compiles before the fork (the init runs after
pivot_root, where no host library is reachable), it costs no dlopen and no dependency, and the
program is a balanced search tree over syscall ranges (about 9 comparisons for any syscall) where
libseccomp's default output compares the number against each rule in turn.

Semantics follow runc + libseccomp:
- architectures: x86_64 hosts only; SCMP_ARCH_X86_64, _X86 (i386) and _X32 are compiled, foreign
  arches are skipped (a process on this host can never report them), any other arch is killed;
- a syscall name unknown for an arch is skipped (it does not exist there);
- a rule whose action equals the default action is redundant and skipped;
- conditions of one rule are ANDed, except several on the same argument, which runc splits into
  separate rules (ORed); rules with conditions are tried in order;
- one syscall in several rules (podman's profile: setns allowed, and refused unless CAP_SYS_ADMIN)
  is settled as libseccomp's db does: an unconditional rule covers the syscall whole, so it drops
  every conditional rule for it, before or after; of several unconditional rules the first wins;
- syscalls numbered above every syscall the profile names return ENOSYS unless the default
  allows them (runc's stub: a newer libc falls back as on an older kernel, e.g. clone3 -> clone).
"""

from __future__ import annotations

import os
import struct

from mydocker.errors import InvalidArgument
from mydocker.lazy import lazy_module
from mydocker.linux import seccomp as kernel

jsonio = lazy_module("mydocker.jsonio")
seccomp_table = lazy_module("mydocker.runtime.seccomp_table")
zlib = lazy_module("zlib")

AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_I386 = 0x40000003
X32_BIT = 0x40000000
ENOSYS = 38
EPERM = 1

RET_KILL_PROCESS = 0x80000000
RET_KILL_THREAD = 0x00000000
RET_TRAP = 0x00030000
RET_ERRNO = 0x00050000
RET_TRACE = 0x7FF00000
RET_LOG = 0x7FFC0000
RET_ALLOW = 0x7FFF0000

_ACTIONS = {"SCMP_ACT_KILL": RET_KILL_THREAD, "SCMP_ACT_KILL_THREAD": RET_KILL_THREAD,
            "SCMP_ACT_KILL_PROCESS": RET_KILL_PROCESS, "SCMP_ACT_TRAP": RET_TRAP, "SCMP_ACT_ERRNO": RET_ERRNO,
            "SCMP_ACT_TRACE": RET_TRACE, "SCMP_ACT_LOG": RET_LOG, "SCMP_ACT_ALLOW": RET_ALLOW}
_FLAGS = {"SECCOMP_FILTER_FLAG_TSYNC": kernel.SECCOMP_FILTER_FLAG_TSYNC,
          "SECCOMP_FILTER_FLAG_LOG": kernel.SECCOMP_FILTER_FLAG_LOG,
          "SECCOMP_FILTER_FLAG_SPEC_ALLOW": kernel.SECCOMP_FILTER_FLAG_SPEC_ALLOW}
_OPS = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
        "SCMP_CMP_MASKED_EQ")
_NATIVE = ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32")
_FOREIGN = ("SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32",
            "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
            "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC",
            "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K",
            "SCMP_ARCH_SH", "SCMP_ARCH_SHEB")
_U64 = (1 << 64) - 1

# Classic BPF opcodes (linux/filter.h)
LD_ABS = 0x20      # BPF_LD | BPF_W | BPF_ABS
JEQ = 0x15         # BPF_JMP | BPF_JEQ | BPF_K
JGT = 0x25
JGE = 0x35
JA = 0x05
AND = 0x54         # BPF_ALU | BPF_AND | BPF_K
RET = 0x06         # BPF_RET | BPF_K
OFF_NR, OFF_ARCH = 0, 4


def _arg_offset(index: int, high: bool) -> int:
    return 16 + 8 * index + (4 if high else 0)  # seccomp_data.args[], little-endian


class Program:
    """A compiled filter: the instructions and the seccomp(2) flags to load them with."""

    __slots__ = ("code", "flags")

    def __init__(self, code: bytes, flags: int) -> None:
        self.code, self.flags = code, flags

    def __len__(self) -> int:
        return len(self.code) // 8


# ---------------------------------------------------------------- profile parsing

def _bad(where: str, problem: str) -> InvalidArgument:
    return InvalidArgument(f"config.json: {where} {problem}")


def _action(name: object, errno_ret: object, where: str, errno_where: str = "",
            default_errno: int = EPERM) -> int:
    if name == "SCMP_ACT_NOTIFY":
        raise _bad(where, "SCMP_ACT_NOTIFY is not supported (no seccomp agent): use another action")
    if name not in _ACTIONS:
        raise _bad(where, f"must be one of {', '.join(_ACTIONS)}, not {name!r}")
    base = _ACTIONS[name]
    if base in (RET_ERRNO, RET_TRACE):
        value = default_errno if errno_ret is None else errno_ret
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 0xFFFF:
            raise _bad(errno_where or where.rsplit(".", 1)[0] + ".errnoRet",
                       f"must be an errno number, not {value!r}")
        return base | value
    return base


def _u64(value: object, where: str) -> int:
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _U64:
        raise _bad(where, f"must be an unsigned 64-bit integer, not {value!r}")
    return value


def _objects(value: object, where: str) -> list[tuple[str, dict]]:
    """A list of objects, each with the field name errors about it use."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad(where, "must be a list")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise _bad(f"{where}[{i}]", "must be an object")
    return [(f"{where}[{i}]", item) for i, item in enumerate(value)]


def _conditions(args: object, where: str) -> list[tuple[int, str, int, int]]:
    out = []
    for at, arg in _objects(args, where):
        index = arg.get("index")
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= 5:
            raise _bad(f"{at}.index", f"must be 0 to 5, not {index!r}")
        op = arg.get("op")
        if op not in _OPS:
            raise _bad(f"{at}.op", f"must be one of {', '.join(_OPS)}, not {op!r}")
        out.append((index, op, _u64(arg.get("value"), f"{at}.value"), _u64(arg.get("valueTwo"), f"{at}.valueTwo")))
    return out


def _arches(names: object) -> list[str]:
    if os.uname().machine != "x86_64":
        raise InvalidArgument(f"seccomp: filters are only compiled for x86_64 hosts, not {os.uname().machine}: "
                              "run without a seccomp profile (--security-opt seccomp=unconfined)")
    if not names:
        return ["SCMP_ARCH_X86_64"]
    if not isinstance(names, list):
        raise _bad("linux.seccomp.architectures", "must be a list")
    for i, name in enumerate(names):
        if name not in _NATIVE and name not in _FOREIGN:
            raise _bad(f"linux.seccomp.architectures[{i}]", f"{name!r} is not a seccomp architecture")
    return [n for n in _NATIVE if n in names]


def _flags(names: object) -> int:
    flags = 0
    for i, name in enumerate(names or []):
        if name not in _FLAGS:
            raise _bad(f"linux.seccomp.flags[{i}]", f"must be one of {', '.join(_FLAGS)}, not {name!r}")
        flags |= _FLAGS[name]
    return flags


# ---------------------------------------------------------------- assembler

class _Label:
    __slots__ = ()


class _Ins:
    __slots__ = ("code", "jt", "jf", "k")

    def __init__(self, code: int, k: int = 0, jt: _Label | None = None, jf: _Label | None = None) -> None:
        self.code, self.k, self.jt, self.jf = code, k, jt, jf


def _assemble(items: list) -> bytes:
    """Resolve labels (None = the next instruction). Conditional jumps reach 255 instructions:
    a farther target gets a trampoline (an unconditional `ja`, 32-bit offset) right after the jump."""
    while True:
        where: dict[int, int] = {}
        pos = 0
        for item in items:
            if isinstance(item, _Label):
                where[id(item)] = pos
            else:
                pos += 1
        fixed = None
        pos = 0
        for n, item in enumerate(items):
            if isinstance(item, _Label):
                continue
            if item.code & 0x07 == 0x05 and item.code != JA:
                for attr in ("jt", "jf"):
                    target = getattr(item, attr)
                    if target is not None and where[id(target)] - pos - 1 > 255:
                        fixed = (n, attr, target)
                        break
            if fixed:
                break
            pos += 1
        if not fixed:
            break
        n, attr, target = fixed
        hop, after = _Label(), _Label()
        items[n + 1:n + 1] = [hop, _Ins(JA, target), after]
        setattr(items[n], attr, hop)
        for other in ("jt", "jf"):  # a fall-through must now step over the trampoline
            if getattr(items[n], other) is None:
                setattr(items[n], other, after)
    out = bytearray()
    pos = 0
    for item in items:
        if isinstance(item, _Label):
            continue
        if item.code == JA:
            out += struct.pack("<HBBI", JA, 0, 0, where[id(item.k)] - pos - 1)
        else:
            jt = where[id(item.jt)] - pos - 1 if item.jt is not None else 0
            jf = where[id(item.jf)] - pos - 1 if item.jf is not None else 0
            if jt < 0 or jf < 0:
                raise AssertionError("seccomp compiler: backward jump")
            out += struct.pack("<HBBI", item.code, jt, jf, item.k & 0xFFFFFFFF)
        pos += 1
    if pos > 4096:
        raise InvalidArgument(f"seccomp: the profile compiles to {pos} instructions, over the kernel's 4096")
    return bytes(out)


# ---------------------------------------------------------------- code generation

def _condition(cond: tuple[int, str, int, int], fail: _Label, wide: bool) -> list:
    """Code that falls through when the condition holds and jumps to `fail` otherwise.

    64-bit arguments are compared as (high word, low word); 32-bit arches compare the low word."""
    index, op, value, two = cond
    lo, hi = _arg_offset(index, False), _arg_offset(index, True)
    ok = _Label()
    words = [(hi, value >> 32, two >> 32, False), (lo, value & 0xFFFFFFFF, two & 0xFFFFFFFF, True)] if wide \
        else [(lo, value & 0xFFFFFFFF, two & 0xFFFFFFFF, True)]
    code: list = []
    for offset, v, t, last in words:
        code.append(_Ins(LD_ABS, offset))
        if op == "SCMP_CMP_EQ":
            code.append(_Ins(JEQ, v, None, fail))
        elif op == "SCMP_CMP_MASKED_EQ":  # libseccomp compares with valueTwo & value
            code += [_Ins(AND, v), _Ins(JEQ, t & v, None, fail)]
        elif op == "SCMP_CMP_NE":  # differs in either word
            code.append(_Ins(JEQ, v, fail if last else None, None if last else ok))
        elif op in ("SCMP_CMP_GT", "SCMP_CMP_GE"):
            if last:
                code.append(_Ins(JGT if op == "SCMP_CMP_GT" else JGE, v, ok, fail))
            else:  # high word greater: true; equal: decide on the low word; less: false
                code += [_Ins(JGT, v, ok, None), _Ins(JEQ, v, None, fail)]
        else:  # LT, LE: the negation of GE, GT
            if last:
                code.append(_Ins(JGE if op == "SCMP_CMP_LT" else JGT, v, fail, ok))
            else:
                code += [_Ins(JGT, v, fail, None), _Ins(JEQ, v, None, ok)]
    code.append(ok)
    return code


def _leaf(target: tuple, wide: bool) -> list:
    """("ret", value) or ("rules", [(conditions, value)...], fallback value)."""
    if target[0] == "ret":
        return [_Ins(RET, target[1])]
    code: list = []
    for conds, value in target[1]:
        nxt = _Label()
        for cond in conds:
            code += _condition(cond, nxt, wide)
        code += [_Ins(RET, value), nxt]
    code.append(_Ins(RET, target[2]))
    return code


def _tree(intervals: list[tuple[int, tuple]], wide: bool) -> list:
    """A balanced search over [start, next start) intervals of syscall numbers (A holds the number)."""
    if len(intervals) == 1:
        return _leaf(intervals[0][1], wide)
    mid = len(intervals) // 2
    right = _Label()
    return [_Ins(JGE, intervals[mid][0], right, None), *_tree(intervals[:mid], wide), right,
            *_tree(intervals[mid:], wide)]


def _intervals(table: dict[int, tuple], start: int, end: int, default: int, stub_after: int | None) -> list:
    """Cover [start, end) with leaves: the syscalls of `table`, the default between them, and ENOSYS
    above `stub_after`. Neighbours with the same plain return merge, so the tree stays shallow."""
    out: list[tuple[int, tuple]] = []

    def add(at: int, leaf: tuple) -> None:
        if out and out[-1][0] == at:
            out.pop()
        if out and leaf[0] == "ret" and out[-1][1] == leaf:
            return
        out.append((at, leaf))

    add(start, ("ret", default))
    for nr in sorted(n for n in table if start <= n < end):
        add(nr, table[nr])
        if nr + 1 < end:
            add(nr + 1, ("ret", default))
    if stub_after is not None and stub_after + 1 < end:
        cut = stub_after + 1
        out = [iv for iv in out if iv[0] < cut]
        add(cut, ("ret", RET_ERRNO | ENOSYS))
    return out


def _rules_for(arch: str, syscalls: list, default: int) -> dict[int, tuple]:
    numbers = getattr(seccomp_table, arch.removeprefix("SCMP_ARCH_"))
    conditional: dict[int, list] = {}
    plain: dict[int, int] = {}
    for names, value, conds in syscalls:
        if value == default:
            continue
        for name in names:
            nr = numbers.get(name)
            if nr is None:
                continue
            if not conds:
                plain.setdefault(nr, value)  # libseccomp: the first unconditional rule stays
                continue
            # runc: several conditions on one argument become separate rules (ORed)
            if len({c[0] for c in conds}) < len(conds):
                conditional.setdefault(nr, []).extend(([c], value) for c in conds)
            else:
                conditional.setdefault(nr, []).append((conds, value))
    table: dict[int, tuple] = {nr: ("rules", rules, default) for nr, rules in conditional.items()}
    table.update((nr, ("ret", v)) for nr, v in plain.items())  # unconditional covers conditional
    return table


def compile_seccomp(config: dict) -> Program:
    """Compile an OCI `linux.seccomp` object (field errors name the field)."""
    if not isinstance(config, dict):
        raise _bad("linux.seccomp", "must be an object")
    default = _action(config.get("defaultAction"), config.get("defaultErrnoRet"), "linux.seccomp.defaultAction",
                      "linux.seccomp.defaultErrnoRet")
    arches = _arches(config.get("architectures"))
    flags = _flags(config.get("flags"))
    if config.get("listenerPath"):
        raise _bad("linux.seccomp.listenerPath", "is not supported (no seccomp agent): remove it")
    syscalls = []
    for where, entry in _objects(config.get("syscalls"), "linux.seccomp.syscalls"):
        names = entry.get("names")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise _bad(f"{where}.names", "must be a non-empty list of syscall names")
        value = _action(entry.get("action"), entry.get("errnoRet"), f"{where}.action")
        syscalls.append((names, value, _conditions(entry.get("args"), f"{where}.args")))
    stub = default not in (RET_ALLOW, RET_LOG)
    code: list = [_Ins(LD_ABS, OFF_ARCH)]
    blocks: list = []
    for arch, audit in (("SCMP_ARCH_X86_64", AUDIT_ARCH_X86_64), ("SCMP_ARCH_X86", AUDIT_ARCH_I386)):
        block = _Label()
        if arch not in arches and not (arch == "SCMP_ARCH_X86_64" and "SCMP_ARCH_X32" in arches):
            continue
        code.append(_Ins(JEQ, audit, block, None))
        body: list = [block, _Ins(LD_ABS, OFF_NR)]
        if audit == AUDIT_ARCH_X86_64:
            x32 = _Label()
            body.append(_Ins(JGE, X32_BIT, x32, None))
            body += _arch_body("SCMP_ARCH_X86_64", arches, syscalls, default, stub, 0, X32_BIT, True)
            body.append(x32)
            # x32 is an ILP32 ABI: libseccomp compares the low 32 bits of its arguments, as for i386
            body += _arch_body("SCMP_ARCH_X32", arches, syscalls, default, stub, X32_BIT, 1 << 32, False)
        else:
            body += _arch_body(arch, arches, syscalls, default, stub, 0, 1 << 32, False)
        blocks += body
    code.append(_Ins(RET, RET_KILL_THREAD))  # an architecture the profile does not allow
    return Program(_assemble(code + blocks), flags)


def _arch_body(arch: str, arches: list[str], syscalls: list, default: int, stub: bool,
               start: int, end: int, wide: bool) -> list:
    if arch not in arches:
        return [_Ins(RET, RET_KILL_THREAD)]
    table = _rules_for(arch, syscalls, default)
    named = [nr for nr in _named_numbers(arch, syscalls) if start <= nr < end]
    stub_after = max(named) if stub and named else None
    return _tree(_intervals(table, start, end, default, stub_after), wide)


def _named_numbers(arch: str, syscalls: list) -> set[int]:
    numbers = getattr(seccomp_table, arch.removeprefix("SCMP_ARCH_"))
    return {numbers[n] for names, _v, _c in syscalls for n in names if n in numbers}


# ---------------------------------------------------------------- runtime side

_prepared: dict[int, tuple[object, Program]] = {}


def prepare(config: dict | None, cache_dir: str | None = None) -> Program | None:
    """Compile once per process (the runtime calls this before the fork; the init reuses it).

    With `cache_dir`, also once per profile: an engine gives every container the same default
    profile, and reading the program back costs 0.1 ms where compiling costs 1-2 ms."""
    if config is None:
        return None
    hit = _prepared.get(id(config))
    if hit is not None and hit[0] is config:
        return hit[1]
    key = _cache_key(config) if cache_dir else b""
    program = _cache_read(cache_dir, key) if cache_dir else None
    if program is None:
        program = compile_seccomp(config)
        if cache_dir:
            _cache_write(cache_dir, key, program)
    _prepared[id(config)] = (config, program)
    return program


_CACHE_MAGIC = b"mydocker-bpf-1\n"
_CACHE_HEADER = struct.Struct("<II")  # flags, key length


def _cache_key(config: dict) -> bytes:
    """The profile, and this compiler's own files: a changed compiler never reuses old programs."""
    here = os.path.dirname(os.path.abspath(__file__))
    stamp = [(s.st_mtime_ns, s.st_size) for s in (os.stat(os.path.join(here, f"{name}.py"))
                                                   for name in ("seccomp", "seccomp_table"))]
    return jsonio.dumps([stamp, config]).encode()


def _cache_path(cache_dir: str, key: bytes) -> str:
    return os.path.join(cache_dir, f"{zlib.crc32(key):08x}-{len(key)}.bpf")


def _cache_read(cache_dir: str, key: bytes) -> Program | None:
    try:
        with open(_cache_path(cache_dir, key), "rb") as f:
            data = f.read()
    except OSError:
        return None
    start = len(_CACHE_MAGIC) + _CACHE_HEADER.size
    if not data.startswith(_CACHE_MAGIC) or len(data) < start:
        return None
    flags, key_length = _CACHE_HEADER.unpack_from(data, len(_CACHE_MAGIC))
    if data[start:start + key_length] != key:  # the whole profile compared: a crc32 collision is no hit
        return None
    code = data[start + key_length:]
    return Program(code, flags) if code and len(code) % 8 == 0 else None


def _cache_write(cache_dir: str, key: bytes, program: Program) -> None:
    path = _cache_path(cache_dir, key)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(_CACHE_MAGIC + _CACHE_HEADER.pack(program.flags, len(key)) + key + program.code)
        os.rename(tmp, path)
    except OSError:  # a cache: without it the next run compiles again
        try:
            os.unlink(tmp)
        except OSError:
            pass


def install(program: Program | None, no_new_privileges: bool) -> None:
    """no_new_privs if asked, then the filter. Call it last before execve when no_new_privileges is
    set; without it the kernel wants CAP_SYS_ADMIN, so call it before capabilities are dropped."""
    if no_new_privileges:
        kernel.set_no_new_privs()
    if program is not None:
        kernel.load_filter(program.code, program.flags)


# What `features` reports (runtime-spec features.md).
ACTIONS = tuple(_ACTIONS)
OPERATORS = _OPS
ARCHITECTURES = _NATIVE
FLAGS = tuple(_FLAGS)

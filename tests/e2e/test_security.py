"""Docker's security defaults, proven from inside busybox containers run by the CLI.

Syscalls busybox has no applet for (keyctl, bpf, perf_event_open) are made by tiny static x86_64
ELF programs written here byte by byte and bind-mounted into the container: no compiler needed on
the host, nothing dynamic to resolve inside the image. Each makes one raw syscall and exits with
its errno (0 when the call succeeded).
"""

from __future__ import annotations

import os
import struct

import pytest

from mydocker.runtime import seccomp_table

DOCKER_CAPS = "00000000a80405fb"  # Docker's 14 less CAP_NET_RAW (podman's choice)
pytestmark = pytest.mark.skipif(os.uname().machine != "x86_64", reason="the probes are x86_64 machine code")


def syscall_elf(nr: int, *args: int) -> bytes:
    """A static ELF: syscall(nr, args...); exit_group(errno or 0)."""
    regs = (b"\x48\xc7\xc7", b"\x48\xc7\xc6", b"\x48\xc7\xc2", b"\x49\xc7\xc2", b"\x49\xc7\xc0", b"\x49\xc7\xc1")
    code = b"\x48\xc7\xc0" + struct.pack("<i", nr)                      # mov rax, nr
    for reg, value in zip(regs, args):
        code += reg + struct.pack("<i", value)                          # mov rdi/rsi/rdx/r10/r8/r9, imm32
    code += (b"\x0f\x05"                                                # syscall
             b"\x48\xf7\xd8"                                            # neg rax: -errno -> errno
             b"\x48\x89\xc7"                                            # mov rdi, rax
             b"\x48\x85\xc0\x7f\x02"                                    # test rax, rax; jg exit
             b"\x31\xff"                                                # xor edi, edi (success: 0)
             b"\xb8\xe7\x00\x00\x00\x0f\x05")                           # exit_group(rdi)
    base, start = 0x400000, 64 + 56
    size = start + len(code)
    header = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + struct.pack(
        "<HHIQQQIHHHHHH", 2, 0x3E, 1, base + start, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, size, size, 0x1000)
    return header + phdr + code


NR = seccomp_table.X86_64
PROBES = {  # name: (syscall, args) chosen to fail harmlessly once past seccomp
    "keyctl": (NR["keyctl"], 0, -3, 0),               # KEYCTL_GET_KEYRING_ID of the session keyring
    "bpf": (NR["bpf"], 9999, 0, 0),                   # an unknown command: EINVAL when allowed
    "perf_event_open": (NR["perf_event_open"], 0, 0, -1, -1, 0),  # attr NULL: EFAULT when allowed
    "unshare": (NR["unshare"], 0x00020000),
    "vsock": (NR["socket"], 40, 1, 0),                # AF_VSOCK
    "clone3": (NR["clone3"], 0, 0),
}


@pytest.fixture
def probes(tmp_path) -> str:
    directory = tmp_path / "probes"
    directory.mkdir()
    for name, (nr, *args) in PROBES.items():
        path = directory / name
        path.write_bytes(syscall_elf(nr, *args))
        path.chmod(0o755)
    return str(directory)


def run_probes(mydocker, probes: str, *flags: str) -> dict[str, int]:
    script = "; ".join(f"/p/{name}; echo {name}=$?" for name in PROBES)
    out = mydocker("run", "--rm", "-v", f"{probes}:/p:ro", *flags, "busybox", "sh", "-c", script).out
    return {k: int(v) for k, v in (line.split("=") for line in out.split())}


def status_of(mydocker, *flags: str) -> dict[str, str]:
    out = mydocker("run", "--rm", *flags, "busybox", "cat", "/proc/self/status").out
    return dict(line.split(":\t", 1) for line in out.splitlines() if ":\t" in line)


def test_probe_binary_reports_errno(tmp_path):
    """The probe itself: getpid succeeds (0), close(-1) reports EBADF (9)."""
    import subprocess
    for (nr, *args), expected in (((NR["getpid"],), 0), ((NR["close"], -1), 9)):
        path = tmp_path / "probe"
        path.write_bytes(syscall_elf(nr, *args))
        path.chmod(0o755)
        assert subprocess.run([str(path)]).returncode == expected


def test_capabilities_are_dockers(mydocker):
    status = status_of(mydocker)
    assert status["CapEff"] == status["CapPrm"] == status["CapBnd"] == DOCKER_CAPS
    assert status["CapInh"] == status["CapAmb"] == "0000000000000000"
    assert status["NoNewPrivs"] == "0" and status["Seccomp"] == "2"


def test_cap_add_drop_and_no_new_privileges(mydocker):
    status = status_of(mydocker, "--cap-drop", "ALL", "--cap-add", "net_admin", "--cap-add", "CAP_KILL",
                       "--security-opt", "no-new-privileges")
    assert status["CapEff"] == status["CapBnd"] == f"{(1 << 12) | (1 << 5):016x}"
    assert status["NoNewPrivs"] == "1"


def test_non_root_user_has_no_effective_caps(mydocker):
    status = status_of(mydocker, "-u", "1000")
    assert status["CapEff"] == "0000000000000000" and status["CapBnd"] == DOCKER_CAPS


def test_seccomp_denies_with_eperm(mydocker, probes):
    errnos = run_probes(mydocker, probes)
    assert errnos == {"keyctl": 1, "bpf": 1, "perf_event_open": 1, "unshare": 1, "vsock": 1, "clone3": 38}


def test_the_filter_not_the_kernel_said_no(mydocker, probes):
    """The same probes without the profile, or with CAP_SYS_ADMIN, get past seccomp."""
    unconfined = run_probes(mydocker, probes, "--security-opt", "seccomp=unconfined")
    assert unconfined["keyctl"] == 0 and unconfined["vsock"] != 1
    admin = run_probes(mydocker, probes, "--cap-add", "SYS_ADMIN")
    assert admin["bpf"] == 22 and admin["perf_event_open"] == 14 and admin["keyctl"] == 1


def test_mount_and_unshare_fail(mydocker):
    r = mydocker("run", "--rm", "busybox", "sh", "-c",
                 "mount -t tmpfs none /tmp; echo mount=$?; unshare -m true; echo unshare=$?", rc=0)
    assert "mount=1" in r.out and "unshare=1" in r.out
    assert "Operation not permitted" in r.err and ("permission denied" in r.err or "not permitted" in r.err)


def test_proc_is_read_only_where_docker_makes_it(mydocker):
    # `: >>` opens for append and writes nothing (busybox's [ -w ] trusts root's uid, not the mount);
    # /proc/sysrq-trigger only where the kernel has it (CONFIG_MAGIC_SYSRQ; not this machine's)
    files = [f for f in ("/proc/sysrq-trigger", "/proc/sys/kernel/hostname", "/proc/sys/vm/drop_caches")
             if os.path.exists(f)]
    script = "".join(f"( : >> {f} ) && echo writable {f}; " for f in files) + "echo done"
    r = mydocker("run", "--rm", "busybox", "sh", "-c", script)
    assert r.out.strip() == "done", r
    assert r.err.count("Read-only file system") == len(files), r


def test_masked_paths_are_empty(mydocker):
    present = [p for p in ("/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug")
               if os.path.exists(p)]
    script = "; ".join(f"echo {p}=$(wc -c < {p})" for p in present) + "; echo fw=$(ls -A /sys/firmware | wc -l)"
    out = mydocker("run", "--rm", "busybox", "sh", "-c", script).out.split()
    assert out == [f"{p}=0" for p in present] + ["fw=0"]


def test_no_host_fd_reaches_the_container(mydocker):
    # the shell is PID 1 (not the last command, so ash does not exec ls in its place): its own
    # descriptors are exactly stdin, stdout and stderr
    out = mydocker("run", "--rm", "busybox", "sh", "-c", "ls /proc/$$/fd; true").out
    assert out.split() == ["0", "1", "2"], out


def test_block_devices_cannot_be_opened(mydocker):
    r = mydocker("run", "--rm", "busybox", "sh", "-c",
                 "mknod /tmp/sda b 8 0 && head -c 1 /tmp/sda > /dev/null && echo OPENED; echo end", rc=0)
    assert "OPENED" not in r.out
    assert "Operation not permitted" in r.err, r


def test_host_pids_are_invisible(mydocker):
    out = mydocker("run", "--rm", "busybox", "sh", "-c", "ls /proc | grep '^[0-9]*$'").out.split()
    assert out and len(out) <= 3 and all(int(p) < 10 for p in out), out
    assert str(os.getpid()) not in out or int(os.getpid()) < 10


def test_privileged(mydocker):
    status = status_of(mydocker, "--privileged")
    assert status["Seccomp"] == "0"
    assert int(status["CapEff"], 16) & (1 << 21)  # CAP_SYS_ADMIN
    r = mydocker("run", "--rm", "--privileged", "busybox", "sh", "-c",
                 "mount -t tmpfs none /tmp && echo mounted; ( : >> /proc/sys/kernel/hostname ) && echo rw; "
                 "test -b /dev/loop0 -o ! -e /dev/loop0 && echo devices")
    assert r.out.split() == ["mounted", "rw", "devices"], r


def test_read_only_rootfs_and_ulimit(mydocker):
    r = mydocker("run", "--rm", "--read-only", "--ulimit", "nofile=100:200", "busybox", "sh", "-c",
                 "touch /x; echo touched=$?; ulimit -n; ulimit -Hn; touch /dev/shm/ok && echo shm")
    assert r.out.split() == ["touched=1", "100", "200", "shm"] and "Read-only file system" in r.err


def test_custom_profile(mydocker, tmp_path):
    profile = tmp_path / "profile.json"
    profile.write_text('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], '
                       '"action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}')
    r = mydocker("run", "--rm", "--security-opt", f"seccomp={profile}", "busybox", "sh", "-c",
                 "mkdir /tmp/d; echo rc=$?", rc=0)
    assert "rc=1" in r.out and "Permission denied" in r.err


def test_bad_security_flags_are_one_line(mydocker):
    for flags in (["--cap-add", "NOPE"], ["--security-opt", "bogus"], ["--ulimit", "nofile=x"],
                  ["--security-opt", "seccomp=/nonexistent.json"]):
        r = mydocker("run", "--rm", *flags, "busybox", "true", rc=125)
        assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err, r


def test_init_reaps_zombies_and_forwards_signals(mydocker):
    from mydocker.engine.security import find_init
    from mydocker.errors import InvalidArgument
    try:
        find_init()
    except InvalidArgument:
        pytest.skip("no static init (catatonit, tini) on this host")
    # an orphan that exits becomes a zombie unless PID 1 reaps it
    script = "sh -c 'sleep 0.1 & exit 0'; sleep 0.5; ps -o stat,comm | grep -c '^Z' || true"
    out = mydocker("run", "--rm", "--init", "busybox", "sh", "-c", script).out.split()
    assert out == ["0"]
    pid1 = mydocker("run", "--rm", "--init", "busybox", "cat", "/proc/1/cmdline").out
    assert pid1.split("\0")[0] == "/sbin/docker-init"


def test_init_forwards_signals(mydocker):
    import signal
    import subprocess
    import time
    from mydocker.engine.security import find_init
    from mydocker.errors import InvalidArgument
    try:
        find_init()
    except InvalidArgument:
        pytest.skip("no static init (catatonit, tini) on this host")
    script = 'trap "echo trapped; exit 7" TERM; echo ready; sleep 100 & wait'
    proc = subprocess.Popen(mydocker.argv("run", "--rm", "--init", "busybox", "sh", "-c", script),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.2)  # let the shell reach `wait`
        proc.send_signal(signal.SIGTERM)  # mydocker -> the init (PID 1) -> the shell
        assert proc.stdout.read().strip() == "trapped"
        assert proc.wait(timeout=20) == 7
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

"""Defaults past Docker's, as podman sets them: a pids limit of 2048, no CAP_NET_RAW (with
net.ipv4.ping_group_range opened so that ping works through ICMP datagram sockets), and
no_new_privs left off.

"ping works" is shown by the image's ping (iputils', as the busybox image carries it) and, socket
kind by socket kind, by a tiny static x86_64 program that pings: socket(AF_INET, SOCK_DGRAM or
SOCK_RAW, IPPROTO_ICMP), one echo request to 127.0.0.1, one reply within 2 s; it exits with the
errno of the first call that failed (0: a reply came back).
"""

from __future__ import annotations

import os
import struct

import pytest

PIDS_MAX = "/sys/fs/cgroup/pids/pids.max"
# busybox traceroute opens a raw ICMP socket first thing; -m 1 -q 1 -w 1 keeps it to one probe
RAW_SOCKET = ["traceroute", "-n", "-m", "1", "-q", "1", "-w", "1", "127.0.0.1"]
EPERM, EACCES = 1, 13


def _elf(code: bytes) -> bytes:
    """A static ELF of one read-write-execute segment holding `code` (its data included)."""
    base, start = 0x400000, 64 + 56
    size = start + len(code)
    header = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + struct.pack(
        "<HHIQQQIHHHHHH", 2, 0x3E, 1, base + start, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    return header + struct.pack("<IIQQQQQQ", 1, 7, 0, base, base, size, size, 0x1000) + code


def ping_elf(sock_type: int = 2) -> bytes:
    """socket(AF_INET, sock_type, ICMP); SO_RCVTIMEO 2 s; sendto(echo request, 127.0.0.1);
    recvfrom; exit(0), or exit(errno) at the first failure. sock_type 3 (raw) probes CAP_NET_RAW."""
    data = (struct.pack("<qq", 2, 0)                                   # timeval: 2 s
            + bytes([8, 0, 0, 0, 0, 0, 0, 1])                           # ICMP echo (the kernel sets id, sum)
            + struct.pack("<HH4s8x", 2, 0, bytes([127, 0, 0, 1]))      # sockaddr_in 127.0.0.1
            + bytes(128))                                               # receive buffer
    tv, pkt, addr, buf = 0, 16, 24, 40

    def imm(opcode: bytes, value: int) -> bytes:
        return opcode + struct.pack("<i", value)

    check = b"\x48\x85\xc0" + b"\x0f\x88"                               # test rax, rax; js fail (rel32 below)
    steps = [
        [imm(b"\xb8", 41), imm(b"\xbf", 2), imm(b"\xbe", sock_type), imm(b"\xba", 1)],     # socket
        [b"\x49\x89\xc4"],                                                                 # mov r12, rax
        [imm(b"\xb8", 54), b"\x4c\x89\xe7", imm(b"\xbe", 1), imm(b"\xba", 20), ("r10", tv),
         imm(b"\x41\xb8", 16)],                                                              # setsockopt
        [imm(b"\xb8", 44), b"\x4c\x89\xe7", ("rsi", pkt), imm(b"\xba", 8), b"\x45\x31\xd2",
         ("r8", addr), imm(b"\x41\xb9", 16)],                                                # sendto
        [imm(b"\xb8", 45), b"\x4c\x89\xe7", ("rsi", buf), imm(b"\xba", 128), b"\x45\x31\xd2",
         b"\x45\x31\xc0", b"\x45\x31\xc9"],                                                # recvfrom
    ]
    lea = {"rsi": b"\x48\x8d\x35", "r10": b"\x4c\x8d\x15", "r8": b"\x4c\x8d\x05"}
    size = lambda part: 7 if isinstance(part, tuple) else len(part)  # noqa: E731
    syscall_len = 2 + 3 + 6  # syscall; test; js rel32
    step_lens = [sum(size(p) for p in step) + (syscall_len if i != 1 else 0) for i, step in enumerate(steps)]
    exit_ok = imm(b"\xbf", 0) + imm(b"\xb8", 231) + b"\x0f\x05"
    fail = b"\x48\xf7\xd8" + b"\x48\x89\xc7" + imm(b"\xb8", 231) + b"\x0f\x05"
    fail_at = sum(step_lens) + len(exit_ok)
    data_at = fail_at + len(fail)
    code = b""
    for i, step in enumerate(steps):
        for part in step:
            if isinstance(part, tuple):
                reg, offset = part
                code += lea[reg] + struct.pack("<i", data_at + offset - (len(code) + 7))
            else:
                code += part
        if i != 1:
            code += b"\x0f\x05" + check
            code += struct.pack("<i", fail_at - (len(code) + 4))
    code += exit_ok
    assert len(code) == fail_at
    return _elf(code + fail + data)


@pytest.fixture
def pinger(tmp_path) -> str:
    directory = tmp_path / "probes"
    directory.mkdir()
    for name, kind in (("ping", 2), ("rawping", 3)):
        (directory / name).write_bytes(ping_elf(kind))
        (directory / name).chmod(0o755)
    return str(directory)


def test_the_ping_probe_pings(pinger):
    """On the host (root, the host's ping_group_range aside): the raw ping gets its reply."""
    import subprocess
    assert subprocess.run([os.path.join(pinger, "rawping")], timeout=10).returncode == 0


def test_default_pids_limit_is_2048(mydocker):
    out = mydocker("run", "--rm", "--network", "none", "busybox", "cat", PIDS_MAX).out
    assert out.strip() == "2048"


def test_pids_limit_minus_one_or_zero_lifts_it_and_a_value_sets_it(mydocker):
    for value, expected in (("-1", "max"), ("0", "max"), ("100", "100")):
        out = mydocker("run", "--rm", "--network", "none", "--pids-limit", value, "busybox", "cat", PIDS_MAX).out
        assert out.strip() == expected, value


def test_inspect_shows_the_default_pids_limit(mydocker):
    cid = mydocker("run", "-d", "--network", "none", "busybox", "sleep", "1000").out.strip()
    try:
        assert mydocker("inspect", "--format", "{{.HostConfig.PidsLimit}}", cid).out.strip() == "2048"
    finally:
        mydocker("rm", "-f", cid)


def _pings(mydocker, pinger: str, *flags: str) -> dict[str, int]:
    out = mydocker("run", "--rm", "--network", "none", "-v", f"{pinger}:/p:ro", *flags, "busybox", "sh", "-c",
                   "/p/ping; echo ping=$?; /p/rawping; echo raw=$?").out
    return {k: int(v) for k, v in (line.split("=") for line in out.split())}


def test_no_raw_sockets_by_default_but_ping_works(mydocker, pinger):
    assert _pings(mydocker, pinger) == {"ping": 0, "raw": EPERM}
    for ping in (["ping"], ["sh", "-c", "ping \"$@\"", "sh"]):  # by exec, and from busybox's shell
        out = mydocker("run", "--rm", "--network", "none", "busybox", *ping, "-c", "1", "-W", "2", "127.0.0.1").out
        assert "1 received" in out, out
    raw = mydocker("run", "--rm", "--network", "none", "busybox", *RAW_SOCKET, rc=None)
    assert raw.rc != 0 and "Operation not permitted" in raw.err, raw
    out = mydocker("run", "--rm", "--network", "none", "busybox", "cat", "/proc/sys/net/ipv4/ping_group_range").out
    assert out.split() == ["0", "2147483647"]


def test_cap_add_net_raw_gives_raw_sockets_back(mydocker, pinger):
    assert _pings(mydocker, pinger, "--cap-add", "NET_RAW") == {"ping": 0, "raw": 0}
    mydocker("run", "--rm", "--network", "none", "--cap-add", "NET_RAW", "busybox", *RAW_SOCKET)
    mydocker("run", "--rm", "--network", "none", "--cap-add", "NET_RAW", "busybox", "ping", "-c", "1", "127.0.0.1")


def test_host_network_gets_no_ping_sysctl(mydocker):
    """With the host's network namespace the sysctl would be the host's: it is left out."""
    with open("/proc/sys/net/ipv4/ping_group_range") as f:
        before = f.read()
    mydocker("run", "--rm", "--network", "host", "busybox", "true")
    with open("/proc/sys/net/ipv4/ping_group_range") as f:
        assert f.read() == before


def test_no_new_privs_stays_off_unless_asked(mydocker):
    status = mydocker("run", "--rm", "--network", "none", "busybox", "grep", "NoNewPrivs", "/proc/self/status").out
    assert status.split() == ["NoNewPrivs:", "0"]
    status = mydocker("run", "--rm", "--network", "none", "--security-opt", "no-new-privileges", "busybox",
                      "grep", "NoNewPrivs", "/proc/self/status").out
    assert status.split() == ["NoNewPrivs:", "1"]

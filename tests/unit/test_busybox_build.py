"""The busybox image's pure parts: ldd's output, which NSS modules a glibc loads, the applet table
patch that lets busybox's shell find /bin/ping."""

from __future__ import annotations

import pytest

from mydocker.errors import NotFound
from mydocker.image.busybox import NSS_MODULES, nss_modules, parse_ldd, retire_applets

LDD = """\tlinux-vdso.so.1 (0x00007ffd5f1e2000)
\tlibcap.so.2 => /lib/x86_64-linux-gnu/libcap.so.2 (0x00007f1b0b2f0000)
\tlibidn2.so.0 => /usr/lib/x86_64-linux-gnu/../x86_64-linux-gnu/libidn2.so.0 (0x00007f1b0b2bf000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f1b0b0dd000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f1b0b327000)
"""


def test_parse_ldd_keeps_the_loader_and_the_libraries_and_skips_the_vdso():
    assert parse_ldd(LDD, "/bin/ping") == ["/lib/x86_64-linux-gnu/libcap.so.2",
                                           "/usr/lib/x86_64-linux-gnu/libidn2.so.0",
                                           "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"]


def test_parse_ldd_refuses_a_library_the_loader_cannot_find():
    with pytest.raises(NotFound, match="/bin/ping needs libidn2.so.0"):
        parse_ldd(LDD + "\tlibidn2.so.0 => not found\n", "/bin/ping")


@pytest.mark.parametrize("version, modules", [("glibc 2.36", ()), ("glibc 2.34", ()), ("glibc 2.31", NSS_MODULES),
                                              ("glibc 2.28.9000", NSS_MODULES), (None, ()), ("musl 1.2", ())])
def test_nss_modules_are_needed_before_glibc_2_34_only(version, modules):
    assert nss_modules(version) == modules


APPLETS = ["[", "pidof", "ping", "ping6", "pivot_root", "sh"]


def _binary(names: list[str]) -> bytes:
    return b"\x7fELF code\0" + b"\0".join(n.encode() for n in names) + b"\0usage text ping\0"


def test_retire_applets_renames_them_in_the_table_only():
    patched = retire_applets(_binary(APPLETS), APPLETS, {"ping", "ping6"})
    assert patched == _binary(["[", "pidof", "pin_", "ping_", "pivot_root", "sh"])
    assert len(patched) == len(_binary(APPLETS))


def test_retire_applets_leaves_busybox_alone_when_the_table_is_not_found_once_or_would_lose_its_order():
    assert retire_applets(_binary(APPLETS[:-1]), APPLETS, {"ping"}) is None          # not the table --list printed
    assert retire_applets(_binary(APPLETS) * 2, APPLETS, {"ping"}) is None           # twice: which one?
    names = ["pin_", "ping", "sh"]
    assert retire_applets(_binary(names), names, {"ping"}) is None                   # would clash with pin_
    names = ["pina", "ping", "pinh"]
    assert retire_applets(_binary(names), names, {"ping"}) is None                   # pin_ < pina: out of order

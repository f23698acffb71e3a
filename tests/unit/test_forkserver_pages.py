"""The pages a fork server's child wrote, learned in one child and copied into the next
(mydocker/forkserver_pages.py): checked against /proc/self/pagemap in forked children."""

from __future__ import annotations

import ctypes
import mmap
import os
import struct

from mydocker import forkserver_pages

PAGES = 32


def _region() -> tuple[mmap.mmap, int]:
    """A private anonymous mapping, every page written (so present, and shared with a child)."""
    region = mmap.mmap(-1, PAGES * mmap.PAGESIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    region.write(bytes(range(256)) * (PAGES * mmap.PAGESIZE // 256))
    return region, ctypes.addressof(ctypes.c_char.from_buffer(region))


def _exclusive(address: int) -> bool:
    with open("/proc/self/pagemap", "rb", buffering=0) as f:
        f.seek(address // mmap.PAGESIZE * 8)
        entry, = struct.unpack("Q", f.read(8))
    return bool(entry & (1 << 56))


def _covered(packed: bytes, address: int) -> bool:
    return any(start <= address < start + length for start, length in struct.iter_unpack("QQ", packed))


def _in_child(check) -> None:
    """Run `check()` in a forked child (the region shared with us until written); fail if it fails."""
    pid = os.fork()
    if pid == 0:
        try:
            code = 0 if check() else 1
        except BaseException:  # noqa: BLE001
            code = 2
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_child_lists_the_pages_it_wrote_and_not_those_it_only_shares():
    region, base = _region()

    def check() -> bool:
        region[5 * mmap.PAGESIZE] = 7  # a copy of page 5 of our own now
        packed = forkserver_pages.written()
        return _covered(packed, base + 5 * mmap.PAGESIZE) and not _covered(packed, base + 20 * mmap.PAGESIZE)
    _in_child(check)


def test_populate_copies_the_pages_without_changing_them():
    region, base = _region()
    before = bytes(region)
    packed = struct.pack("QQ", base + 8 * mmap.PAGESIZE, 4 * mmap.PAGESIZE)

    def check() -> bool:
        assert not _exclusive(base + 8 * mmap.PAGESIZE)  # shared with the parent after the fork
        forkserver_pages.populate(packed)
        copied = all(_exclusive(base + (8 + i) * mmap.PAGESIZE) for i in range(4))
        return copied and not _exclusive(base + 12 * mmap.PAGESIZE) and bytes(region) == before
    _in_child(check)


def test_populate_stops_when_a_client_waits():
    region, base = _region()
    packed = struct.pack("QQ", base, PAGES * mmap.PAGESIZE)

    def check() -> bool:
        forkserver_pages.populate(packed, waited_for=lambda: True)
        return not _exclusive(base)
    _in_child(check)

"""The pages a fork server's child wrote, learned from one command and copied ahead into the next spare.

A forked child shares the server's memory until it writes a page; each first write then faults and
copies the page (3.5 us each on this VM). A served child writes ~470 pages of the server's between
accepting its client and forking a container's init (refcounts, mostly): ~1.6 ms of that command.
The commands a server runs take much the same path each time, so the pages one child wrote predict
the next one's: a child sends the list as it leaves (`written`, after its client has its status),
and the next spare copies them (`populate`, madvise MADV_POPULATE_WRITE) before it accepts, in the
server's idle time instead of on the command's path. What the copy cannot predict faults as before.
"""

from __future__ import annotations

import struct

_PAGE = 4096
_EXCLUSIVE, _PRESENT = 1 << 56, 1 << 63  # /proc/self/pagemap: mapped only here (written: copied), present
_MAX_RANGES = 2048  # a report is one datagram: (start, length) pairs of 16 bytes
_MADV_POPULATE_WRITE = 23  # Linux 5.14
_BATCH = 16  # ranges copied between two looks for a waiting client (~0.1-0.2 ms)

_madvise = None


def written() -> bytes:
    """(start, length) pairs, packed, of the pages of our private writable mappings that only we map:
    those this process copied from its parent by writing them (or first touched itself)."""
    ranges: list[tuple[int, int]] = []
    with open("/proc/self/maps", "rb") as maps, open("/proc/self/pagemap", "rb", buffering=0) as pagemap:
        for line in maps:
            fields = line.split()
            if fields[1] != b"rw-p" or (len(fields) > 5 and fields[5].startswith(b"[v")):  # [vvar], [vsyscall]
                continue
            start, end = (int(x, 16) for x in fields[0].split(b"-"))
            pagemap.seek(start // _PAGE * 8)
            data = pagemap.read((end - start) // _PAGE * 8)
            run = None
            for i, entry in enumerate(struct.unpack(f"{len(data) // 8}Q", data)):
                address = start + i * _PAGE
                if entry & _EXCLUSIVE and entry & _PRESENT:
                    if run is not None and run[0] + run[1] == address:
                        run[1] += _PAGE
                    else:
                        run = [address, _PAGE]
                        ranges.append(run)  # the list holds the same object: extended in place
                else:
                    run = None
    return b"".join(struct.pack("QQ", start, length) for start, length in ranges[:_MAX_RANGES])


def populate(packed: bytes, waited_for=None) -> None:
    """Copy (write-fault) the pages of each range now, without changing them; stop as soon as
    `waited_for()` says a client waits (a command back to back with the last: it would wait for the
    copying instead). Ranges this process does not map (memory the other child mapped later) are
    skipped; so is everything, on a kernel without MADV_POPULATE_WRITE."""
    global _madvise
    if not packed:
        return
    if _madvise is None:
        import ctypes
        _madvise = ctypes.CDLL(None, use_errno=True).madvise
        _madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    for i, (start, length) in enumerate(struct.iter_unpack("QQ", packed)):
        if i % _BATCH == 0 and waited_for is not None and waited_for():
            return
        _madvise(start, length, _MADV_POPULATE_WRITE)  # an error (ENOMEM, EINVAL) leaves the range to fault

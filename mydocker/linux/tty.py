"""Pseudo-terminal helpers: open a pty from a given devpts instance, window sizes, controlling tty."""

from __future__ import annotations

import fcntl
import os
import struct

# The ioctls as numbers (x86_64, arm64), not termios's: a C extension whose load (a dlopen) cost
# the container's init 0.17 ms before "ready" (docs/startup.md).
_TIOCSPTLCK = 0x40045431
_TIOCGPTN = 0x80045430
_TIOCSCTTY = 0x540E
_TIOCGWINSZ = 0x5413
_TIOCSWINSZ = 0x5414


def open_pty(ptmx: str = "/dev/ptmx") -> tuple[int, str]:
    """Open a new pty master on the devpts behind `ptmx`; return (master fd, slave path)."""
    master = os.open(ptmx, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, _TIOCSPTLCK, struct.pack("i", 0))
    number = struct.unpack("I", fcntl.ioctl(master, _TIOCGPTN, struct.pack("I", 0)))[0]
    return master, os.path.join(os.path.dirname(os.path.realpath(ptmx)), str(number))


def make_controlling(fd: int) -> None:
    fcntl.ioctl(fd, _TIOCSCTTY, 0)


def become_terminal(slave: int) -> None:
    """In a new session: `slave` becomes the controlling terminal and fds 0-2 (its own fd closed)."""
    make_controlling(slave)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)


def get_winsize(fd: int) -> tuple[int, int]:
    rows, cols, _x, _y = struct.unpack("HHHH", fcntl.ioctl(fd, _TIOCGWINSZ, b"\0" * 8))
    return rows, cols


def set_winsize(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, _TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

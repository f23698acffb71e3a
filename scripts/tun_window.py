"""The window in which /dev/net/tun is open to ordinary users, shared by the test sessions
(tests/rootlesskit.py) and the benches (bench/rootless.py) that run at once on this host.

Every user-mode network stack (slirp4netns, pasta) opens the device; this host makes it 0600. The
first process to enter the window records the device's own mode and makes it 0666; the last to
leave restores that mode. The record, {"mode": <the device's own mode>, "pids": [processes in the
window]}, is a file in /run changed only under its flock, so a session and a bench never restore
0600 under each other; a process killed inside the window (its pid gone) is dropped from it by the
next one that enters or leaves, and the last of those restores the mode.

Stdlib only: the benches run under the system's python3, without pytest.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal

TUN = "/dev/net/tun"
TUN_USERS = "/run/mydocker-tests-tun-users"  # the record; its path and format are what older sessions use too


def _tun_users(change, record: str) -> None:
    """Read, `change` and write the record under its lock; the record goes with its last user."""
    while True:
        fd = os.open(record, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_nlink:  # not unlinked by the last user while we waited for the lock
            break
        os.close(fd)
    try:
        text = os.read(fd, 1 << 16).decode()
        users = json.loads(text) if text else {"mode": None, "pids": []}
        users["pids"] = [pid for pid in users["pids"] if os.path.exists(f"/proc/{pid}")]  # a killed one's
        change(users)
        if users["pids"]:
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(users).encode())
        else:
            os.unlink(record)
    finally:
        os.close(fd)


@contextlib.contextmanager
def tun_for_users(device: str = TUN, record: str = TUN_USERS):
    """/dev/net/tun readable and writable by users for the body, its own mode restored after the last
    process in the window leaves, also when the body fails. (`device` and `record` are other paths
    for the window's own tests only.)"""
    pid = os.getpid()

    def enter(users: dict) -> None:
        if users["mode"] is None:  # else kept from a process killed before it could restore it
            users["mode"] = os.stat(device).st_mode & 0o7777
        os.chmod(device, 0o666)
        users["pids"].append(pid)

    def leave(users: dict) -> None:
        if pid in users["pids"]:
            users["pids"].remove(pid)
        if not users["pids"] and users["mode"] is not None:
            os.chmod(device, users["mode"])

    try:
        with _signals_held():
            _tun_users(enter, record)
        yield
    finally:
        with _signals_held():  # a signal's handler cannot cut the restore short
            _tun_users(leave, record)


@contextlib.contextmanager
def _signals_held():
    """The signals that end a program held back (delivered after) while the record is changed."""
    held = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextlib.contextmanager
def signals_end_the_window(signals=(signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)):
    """For a program (not a test session: pytest has its own handlers) holding the window: these
    signals raise SystemExit(128 + signal), so its `finally` blocks, the window's leave among them,
    run before it exits (SIGINT already raises KeyboardInterrupt). The old handlers come back after."""
    def stop(signum, _frame):
        raise SystemExit(128 + signum)

    old = {sig: signal.signal(sig, stop) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)

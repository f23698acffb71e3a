"""Throwaway unprivileged users for the rootless tests (issue 19): each with its own subuid/subgid
range far from the ranges other tests use, launchers it can run, and a fresh 0700 XDG_RUNTIME_DIR.

`make_user()` is a context manager: on exit it checks that nothing of the user is left (no process,
no file outside its own dirs; `leftovers` names paths (with {uid}) a test accounts for itself) and then
removes the user, its group, home and ranges. `tun_for_users()` (scripts/tun_window.py) opens
/dev/net/tun to users for its body, in a window shared with other test sessions and the benches.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

from scripts.tun_window import tun_for_users  # noqa: F401 (the window is shared with the benches)

RANGE = 65536
PYTHON = "/opt/mydocker/bin/python"

needs_uidmap = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv") or not shutil.which("newuidmap"),
                                reason="needs root (to make a user), setpriv and newuidmap (Debian's uidmap)")


class User:
    def __init__(self, name: str, uid: int, gid: int, home: str, sub_base: int, bindir: str) -> None:
        self.name, self.uid, self.gid, self.home, self.sub_base, self.bindir = name, uid, gid, home, sub_base, bindir
        self.xdg = os.path.join(home, "run")

    def run(self, *argv: str, xdg: bool = True, cwd: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
        """argv as the user, with a clean environment (and its XDG_RUNTIME_DIR unless xdg=False)."""
        env = ["env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", f"HOME={self.home}", "LANG=C.UTF-8"]
        if xdg:
            env.append(f"XDG_RUNTIME_DIR={self.xdg}")
        command = ["setpriv", "--reuid", str(self.uid), "--regid", str(self.gid), "--init-groups", *env, *argv]
        # Files, not pipes: a detached container keeps the runtime's stdio open.
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            done = subprocess.run(command, cwd=cwd or self.home, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                  text=True, timeout=timeout)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(command, done.returncode, out.read(), err.read())

    def runtime(self, *argv: str, **kw) -> subprocess.CompletedProcess:
        return self.run(os.path.join(self.bindir, "mydocker-runtime"), *argv, **kw)

    def mydocker(self, *argv: str, **kw) -> subprocess.CompletedProcess:
        return self.run(os.path.join(self.bindir, "mydocker"), *argv, **kw)


def _retry(argv: list[str]) -> None:
    """shadow's tools fail while another holds /etc/passwd's or /etc/subuid's lock: try again."""
    for attempt in range(20):
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode == 0:
            return
        time.sleep(0.2)
    raise AssertionError(f"{argv}: {done.stderr}")


def _free_base() -> int:
    """A subordinate range start no line of /etc/subuid or /etc/subgid overlaps."""
    taken = []
    for path in ("/etc/subuid", "/etc/subgid"):
        with open(path) as f:
            taken += [(int(p[1]), int(p[2])) for p in (line.strip().split(":") for line in f) if len(p) == 3]
    base = 3_000_000_000 + (os.getpid() % 5000) * RANGE
    while any(start < base + RANGE and base < start + count for start, count in taken):
        base += RANGE
    return base


def _free_id() -> int:
    """A uid and gid, far above ordinary users and below the subordinate ranges, used by no one."""
    import grp
    import pwd
    import random
    while True:
        number = 1_600_000_000 + random.randrange(100_000_000)
        try:
            pwd.getpwuid(number)
            continue
        except KeyError:
            pass
        try:
            grp.getgrgid(number)
        except KeyError:
            if not _processes_of(number):
                return number


def _mentions(path: str, name: str) -> bool:
    with open(path) as f:
        return any(line.split(":")[0] == name for line in f)


def _processes_of(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    pids.append(int(entry))
            except FileNotFoundError:
                pass
    return pids


def processes_left(uid: int, wait: float = 10) -> list[int]:
    """The user's processes once given `wait` seconds to go: an exited init is a zombie until the
    host's PID 1 (which adopted it from the exited `create`) reaps it."""
    deadline = time.monotonic() + wait
    while (left := _processes_of(uid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def describe(pids: list[int]) -> list[str]:
    """"<pid> <comm> <state> ppid=<ppid>" for each pid (a zombie's reaper is its ppid), for failure messages."""
    rows = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                comm, _, rest = f.read().partition(" (")[2].rpartition(") ")
            state, ppid = rest.split()[:2]
            rows.append(f"{pid} {comm} {state} ppid={ppid}")
        except (FileNotFoundError, ProcessLookupError):
            rows.append(f"{pid} (gone)")
    return rows


@contextlib.contextmanager
def make_user(prefix: str = "mdrl", leftovers=(), ranges: bool = True):
    """A fresh user with a subordinate range (none without `ranges`), launchers it can run, and a
    0700 XDG_RUNTIME_DIR."""
    name = prefix + uuid.uuid4().hex[:10]
    top = tempfile.mkdtemp(prefix="mydocker-rootless-")
    os.chmod(top, 0o755)
    home = os.path.join(top, "home")
    base = _free_base()
    bindir = os.path.join(top, "bin")
    os.mkdir(bindir)
    subprocess.run([PYTHON, "-c", f"import sys; sys.path.insert(0, {os.getcwd()!r}); from mydocker import launcher; "
                    f"launcher.install({bindir!r})"], check=True)
    # An id no other test's container runs as (they use 1000, 1001, 65534, 100000-...): a process
    # with it is surely this user's. No range from login.defs (it would overlap the 100000-165535
    # that other tests map): ours only.
    number = _free_id()
    _retry(["groupadd", "-g", str(number), name])
    _retry(["useradd", "-m", "-d", home, "-s", "/bin/sh", "-u", str(number), "-g", name,
            "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0", name])
    try:
        if ranges:
            _retry(["usermod", "--add-subuids", f"{base}-{base + RANGE - 1}", "--add-subgids",
                    f"{base}-{base + RANGE - 1}", name])
        import pwd
        entry = pwd.getpwnam(name)
        u = User(name, entry.pw_uid, entry.pw_gid, home, base, bindir)
        os.mkdir(u.xdg, 0o700)
        os.chown(u.xdg, u.uid, u.gid)
        yield u
        left = processes_left(u.uid)
        assert not left, f"processes of {name} left running: {describe(left)}"
        fallback = f"/tmp/mydocker-runtime-{u.uid}"
        assert not os.path.exists(fallback) or not os.listdir(fallback), f"state left in {fallback}"
        # the user's files, or files of its subordinate ids, anywhere but its own dirs
        found = subprocess.run(["find", "/tmp", "/run", "/var/tmp", "/dev/shm", "-xdev", "(", "-user", str(u.uid), "-o",
                                "(", "-uid", f"+{base - 1}", "-uid", f"-{base + RANGE}", ")", ")",
                                "-not", "-path", f"{top}/*"], capture_output=True, text=True).stdout.split()
        allowed = {fallback, *(p.format(uid=u.uid) for p in leftovers)}
        assert set(found) <= allowed, f"the user's files outside its own dirs: {found}"
        shutil.rmtree(fallback, ignore_errors=True)
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f if line.split()[4].startswith(top)]
        assert not mounts, f"mounts of {name} left on the host: {mounts}"
    finally:
        for pid in _processes_of(number):
            os.kill(pid, 9)  # the throwaway user's alone (its id is unique): userdel refuses a user with processes
        if ranges:
            _retry(["usermod", "--del-subuids", f"{base}-{base + RANGE - 1}", "--del-subgids",
                    f"{base}-{base + RANGE - 1}", name])
        _retry(["userdel", "-r", name])
        if _mentions("/etc/group", name):
            _retry(["groupdel", name])
        shutil.rmtree(top, ignore_errors=True)
    assert not _mentions("/etc/passwd", name) and not _mentions("/etc/group", name)
    assert not _mentions("/etc/subuid", name) and not _mentions("/etc/subgid", name)

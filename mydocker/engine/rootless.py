"""Rootless mode: everything that differs when an ordinary user runs the engine, decided here, once,
at start-up (DESIGN.md). Loaded only when the effective uid is not 0 (or by the processes the engine
starts from inside the user's namespaces, which the environment variable ENV marks).

podman's model. The user's namespaces are held by a tiny long-lived "pause" process: a user
namespace mapping 0 to the user and 1..N to the user's /etc/subuid and /etc/subgid range (written by
newuidmap/newgidmap; with no range, the user's own id alone and one note of what then fails), and a
mount namespace, owned by it, where the containers' overlay mounts live. Every mydocker command the
user runs joins both (setns user, then mnt, while the process has one thread) and goes on as root
of that namespace, so the store, overlay snapshots, network namespaces, the monitor and the runtime
run unchanged. What differs is recorded in `Rootless`:
- roots: $XDG_DATA_HOME/mydocker (~/.local/share/mydocker) and $XDG_RUNTIME_DIR/mydocker, else a
  private /tmp/mydocker-<uid>, checked to be the user's and 0700 (--root/--runroot still win);
- cgroups: none on a host without a delegated subtree (this v1 hybrid): a resource flag is refused
  in one line, before anything is made; on cgroup v2 with delegation they would apply (the seam:
  `cgroups`);
- network: the default network is a per-container user-mode stack (network/usermode.py); none and
  host work as for root; user networks live in the user's rootless netns (engine/network_rootless.py);
- storage: layers are unpacked inside the namespace (their owners land in the user's range on the
  host), overlay mounted inside it; snapshot.py falls back to copies where overlay is refused.

The pause process (`sleep infinity` named mydocker-pause, 1 MB) lives until it is stopped: like
podman's, it stays when the last container goes (each next command would pay for a new namespace
and two newuidmap runs). Stop it with `kill $(cat <runroot>/pause.pid)` (what the tests and
bench/rootless.py do, having started it); a dead one is replaced by the next command: in the
namespaces the running containers' monitor still holds (with their overlay mounts), else new ones.
"""

from __future__ import annotations

import os

from mydocker.errors import InvalidArgument
from mydocker.recordclass import factory, fields, record

ENV = "_MYDOCKER_ROOTLESS"          # set once joined: the host uid:gid, for the processes we start
PAUSE_PID = "pause.pid"
PAUSE_LOCK = "pause.lock"
PAUSE_NAME = b"mydocker-pause"      # its argv[0]: how a pid from the file is checked
PAUSE_PROGRAM = "/bin/sleep"        # what it runs: `sleep infinity` is 1 MB where a Python is 10
SUBID_FILES = ("/etc/subuid", "/etc/subgid")
SERVICE_SOCKET = "docker.sock"      # the API service's default socket's name, in the default runroot


@record
class Rootless:
    uid: int                        # the user's host uid and gid (root inside)
    gid: int
    root: str
    runroot: str
    uid_map: list = factory(list)   # [[inside, host, size], ...] as /proc/self/uid_map shows it
    gid_map: list = factory(list)
    pause_pid: int = 0
    cgroups: str = "none"           # "none": no cgroup of the container's own, resource flags refused
    network: str = "usermode"       # the default network mode
    note: str = ""                  # what the mapping cannot do (no subordinate range)

    def check_options(self, opts) -> None:
        """What a rootless container cannot have, refused in one line before anything is made:
        --userns remap (the ids it names are the host's, outside the user's range: the user's
        namespace is the remapping already), and, without a cgroup of its own, a resource flag,
        saying why and what would make it work (podman's behaviour). --pids-limit 0 or -1
        (unlimited) asks for nothing."""
        if getattr(opts, "userns", None) not in (None, "", "host"):
            raise InvalidArgument(f"--userns {opts.userns}: a rootless container runs in your own user namespace, "
                                  "which maps its ids into your /etc/subuid range already: leave --userns out")
        if self.cgroups != "none":
            return
        asked = {field: getattr(opts.resources, field) for field in fields(opts.resources)}
        asked["cgroup_parent"] = getattr(opts, "cgroup_parent", None)  # run's alone, not update's
        for field, value in asked.items():
            if value is None or (field == "pids_limit" and value <= 0):
                continue
            flag = "--" + field.replace("_", "-")  # as the user typed it
            raise InvalidArgument(
                f"{flag} needs a cgroup, and a rootless container has none on this host (cgroup {_layout()} without "
                f"a subtree delegated to uid {self.uid}): run without {flag}, or on cgroup v2 with a delegated "
                "subtree (systemd user@.service Delegate=yes)")

    def adjust_spec(self, config: dict) -> None:
        """What a rootless container's config.json cannot ask for: with no cgroup of its own there is
        no limit to set (flags were refused by check_options; the default pids limit and device
        rules have nowhere to go, as in podman rootless on cgroup v1); ping's group range is what
        the namespace maps (the kernel refuses unmapped gids)."""
        linux = config["linux"]
        if self.cgroups == "none":
            linux.pop("resources", None)
        sysctl = linux.get("sysctl") or {}
        if "net.ipv4.ping_group_range" in sysctl:
            last = max(inside + size - 1 for inside, _host, size in self.gid_map)
            sysctl["net.ipv4.ping_group_range"] = f"0 {last}"

    def info(self) -> dict:
        """The lines `info` adds (podman's `host.security.rootless`, `idMappings`)."""
        return {"Rootless": True, "SecurityOptions": ["name=rootless"],
                "IDMappings": {"UIDMap": self.uid_map, "GIDMap": self.gid_map},
                "CgroupDriver": "none" if self.cgroups == "none" else "cgroupfs",
                "RootlessNetwork": self.network, **({"RootlessNote": self.note} if self.note else {})}


def enter(root: str | None, runroot: str | None) -> Rootless | None:
    """Join the user's namespaces (starting the pause process when there is none) and become root
    there; the dirs default to the user's own. Inside already (a process the engine started): the
    record only. None for the host's root (ENV inherited by mistake). Must run before this process
    has a second thread."""
    joined = os.environ.get(ENV)
    if joined and os.geteuid() == 0:
        uid_map = _read_map("uid")
        if uid_map == [[0, 0, 4294967295]]:  # the host's root, not ours: the mark means nothing here
            del os.environ[ENV]
            return None
        uid, gid = (int(n) for n in joined.split(":"))
        if not (root and runroot):
            raise InvalidArgument("rootless: a process started inside the user's namespaces needs --root and --runroot")
        return _record(uid, gid, root, runroot, pause_pid=0)
    uid, gid = os.geteuid(), os.getegid()
    root = os.path.abspath(root or default_root())
    runroot = os.path.abspath(runroot or default_runroot(uid))
    _private_dir(runroot, uid)
    cwd = _cwd()
    pid = _join_existing(runroot)
    if pid is None:
        pid = _start_or_join(runroot, uid, gid)
    _become_root()
    if cwd:
        try:
            os.chdir(cwd)  # setns(mnt) moved us to the namespace's root
        except OSError:
            pass
    os.environ[ENV] = f"{uid}:{gid}"
    return _record(uid, gid, root, runroot, pause_pid=pid)


def default_root() -> str:
    data = os.environ.get("XDG_DATA_HOME", "")
    if not data.startswith("/"):
        data = os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "mydocker")


def service_socket(uid: int) -> str:
    """Where the user's `system service` listens unless told: $XDG_RUNTIME_DIR/mydocker/docker.sock
    (podman's rootless socket is under XDG_RUNTIME_DIR too), beside the engine's default runtime state."""
    return os.path.join(default_runroot(uid), SERVICE_SOCKET)


def default_runroot(uid: int) -> str:
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime_dir.startswith("/"):
        return os.path.join(runtime_dir, "mydocker")
    return f"/tmp/mydocker-{uid}"


def _layout() -> str:
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return "v2"
    return "v1 hybrid" if os.path.isdir("/sys/fs/cgroup/unified") else "v1"


def _record(uid: int, gid: int, root: str, runroot: str, pause_pid: int) -> Rootless:
    uid_map = _read_map("uid")
    return Rootless(uid=uid, gid=gid, root=root, runroot=runroot, uid_map=uid_map, gid_map=_read_map("gid"),
                    pause_pid=pause_pid, cgroups=_cgroups(), network="usermode",
                    note=_single_id_note() if len(uid_map) == 1 else "")


def _cgroups() -> str:
    """"none" unless the user has a delegated cgroup v2 subtree. The delegated case (resources in
    the user's own subtree, as podman with systemd's Delegate=yes) is the seam, not built: this
    host is v1 hybrid, so it is always "none" here."""
    return "none"


def _read_map(kind: str) -> list:
    with open(f"/proc/self/{kind}_map") as f:
        return [[int(n) for n in line.split()] for line in f if line.strip()]


def _single_id_note() -> str:
    return ("no range for this user in /etc/subuid and /etc/subgid: containers have the user's own id alone, so "
            "images with files of other owners cannot be unpacked and USER other than root fails "
            "(add one: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 <user>)")


def _cwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:
        return None


def _private_dir(path: str, uid: int) -> None:
    """The user's own 0700 directory (made if missing): state in someone else's is refused."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as e:
        raise InvalidArgument(f"rootless: cannot make {path} ({e.strerror}): set XDG_RUNTIME_DIR or --runroot "
                              "to a directory of yours") from None
    info = os.lstat(path)
    if info.st_uid != uid or not os.path.isdir(path) or os.path.islink(path):
        raise InvalidArgument(f"rootless: {path} belongs to uid {info.st_uid}, not to you (uid {uid}): remove it, "
                              "or set XDG_RUNTIME_DIR or --runroot to a directory of yours")
    if info.st_mode & 0o077:
        os.chmod(path, 0o700)


def _join_existing(runroot: str) -> int | None:
    """Join the pause process named in the runroot, if it lives; its pid, or None."""
    pid = _pid_in(os.path.join(runroot, PAUSE_PID))
    return pid if pid and _join(pid, _is_pause) else None


def _pid_in(path: str) -> int | None:
    try:
        with open(path) as f:
            pid = int(f.read().strip() or 0)
    except (FileNotFoundError, ValueError):
        return None
    return pid if pid > 0 else None


def _join(pid: int, check) -> bool:
    """setns into the user and mount namespaces of `pid` if check(pid) holds once their fds are
    held (a pid reused meanwhile cannot slip in between); False when it does not or `pid` is gone."""
    try:
        user_fd = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        mnt_fd = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        os.close(user_fd)
        return False
    try:
        if not check(pid):
            return False
        _setns(user_fd, mnt_fd)
        return True
    finally:
        os.close(user_fd)
        os.close(mnt_fd)


def _is_pause(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv0 = f.read().split(b"\0")[0]
        return argv0 == PAUSE_NAME and os.stat(f"/proc/{pid}").st_uid == os.geteuid()
    except OSError:
        return False


def _ours_elsewhere(pid: int) -> bool:
    """The user's own process, in a user namespace other than ours (the host's)."""
    try:
        return (os.stat(f"/proc/{pid}").st_uid == os.geteuid()
                and os.stat(f"/proc/{pid}/ns/user").st_ino != os.stat("/proc/self/ns/user").st_ino)
    except OSError:
        return False


def _setns(user_fd: int, mnt_fd: int) -> None:
    from mydocker.linux import syscalls as sc
    try:
        sc.setns(user_fd, sc.CLONE_NEWUSER)
        sc.setns(mnt_fd, sc.CLONE_NEWNS)
    except OSError as e:
        raise InvalidArgument(f"rootless: cannot join the user's namespaces ({e.strerror}): stop the pause process "
                              "(kill its pid in <runroot>/pause.pid) and retry") from None


def _start_or_join(runroot: str, uid: int, gid: int) -> int:
    """Under the runroot's lock (two first commands at once make one pause process): join one
    another command made meanwhile, or the namespaces running containers still hold, else start one."""
    import fcntl
    lock = os.open(os.path.join(runroot, PAUSE_LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _join_existing(runroot) or _join_survivor(runroot) or _start_pause(runroot, uid, gid)
    finally:
        os.close(lock)


def _join_survivor(runroot: str) -> int | None:
    """The pause process is gone but detached containers run: their monitor still holds the user's
    namespaces, where their overlay mounts are (podman joins a conmon so). Join those and leave a new
    pause process in them; None when there is no such monitor."""
    from mydocker.engine.monitor_client import LOCK
    monitor = _pid_in(os.path.join(runroot, LOCK))
    if monitor is None or not _join(monitor, _ours_elsewhere):
        return None
    pid = os.fork()
    if pid == 0:
        _become_pause(())
    _write_pid(runroot, pid)
    return pid


def _start_pause(runroot: str, uid: int, gid: int) -> int:
    """Fork the pause process: it unshares a user and a mount namespace, waits while we map the
    user namespace through newuidmap/newgidmap, then sleeps until killed. Then join it."""
    ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
    go_r, go_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        _pause_child(ready_w, go_r, (ready_r, go_w))
    os.close(ready_w)
    os.close(go_r)
    try:
        if os.read(ready_r, 1) != b"u":
            raise InvalidArgument("rootless: cannot make a user namespace (unprivileged user namespaces are off: "
                                  "sysctl kernel.unprivileged_userns_clone=1)")
        maps, note = _mappings(uid, gid)
        from mydocker.runtime import api as runtime
        runtime.write_id_maps(pid, maps["uid"], maps["gid"])
        os.write(go_w, b"g")
        if os.read(ready_r, 1) != b"m":
            raise InvalidArgument("rootless: the pause process could not make its mount namespace")
        os.read(ready_r, 1)  # EOF once it has exec'd (the pipe is close-on-exec): it is mydocker-pause now
    except BaseException:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        raise
    finally:
        os.close(ready_r)
        os.close(go_w)
    if note:
        import sys
        sys.stderr.write(f"mydocker: note: {note}\n")
    # The pause process is our child until we exit (it is reparented then); no wait: it lives on.
    _write_pid(runroot, pid)
    if not _join(pid, _is_pause):
        raise InvalidArgument(f"rootless: the pause process {pid} exited at once: see `dmesg` and retry")
    return pid


def _write_pid(runroot: str, pid: int) -> None:
    from mydocker.linux.fs import write_atomic  # at a pause process's start alone
    write_atomic(os.path.join(runroot, PAUSE_PID), f"{pid}\n")


def _pause_child(ready_w: int, go_r: int, parents: tuple[int, int]) -> None:
    """The pause process: unshare, wait to be mapped, then sleep; never returns."""
    try:
        from mydocker.linux import syscalls as sc
        for fd in parents:
            os.close(fd)
        try:
            sc.unshare(sc.CLONE_NEWUSER)
        except OSError:
            os._exit(1)
        os.write(ready_w, b"u")
        if os.read(go_r, 1) != b"g":
            os._exit(1)
        sc.unshare(sc.CLONE_NEWNS)  # after the mapping: owned by the mapped user namespace
        os.write(ready_w, b"m")
        _become_pause((go_r,))  # ready_w closes with the exec
    finally:
        os._exit(1)


def _become_pause(fds: tuple[int, ...]) -> None:
    """Exec `sleep infinity` as mydocker-pause, in its own session (a ^C in the caller's terminal is
    not for it), holding none of the caller's fds (its lock on the runroot among them)."""
    try:
        from mydocker.linux import syscalls as sc
        for fd in fds:
            os.close(fd)
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.chdir("/")
        sc.cloexec_from(3)
        os.execv(PAUSE_PROGRAM, [PAUSE_NAME.decode(), "infinity"])  # SIGTERM or SIGKILL ends it
    finally:
        os._exit(1)


def _mappings(uid: int, gid: int) -> tuple[dict, str]:
    """{"uid": [(inside, host, size)...], "gid": [...]}: 0 -> the user, 1.. -> its first subordinate
    range (as podman); the user's own id alone when it has none (and the note saying so)."""
    from mydocker.runtime import api as runtime
    name = _user_name(uid)
    out, note = {}, ""
    for kind, own, path in (("uid", uid, SUBID_FILES[0]), ("gid", gid, SUBID_FILES[1])):
        ranges = runtime.subordinate_ranges(path, name, uid)
        out[kind] = [(0, own, 1)] + ([(1, ranges[0][0], ranges[0][1])] if ranges else [])
        if not ranges:
            note = _single_id_note()
    if note:  # both single or neither: a uid range without a gid range maps nothing wider
        out = {"uid": [(0, uid, 1)], "gid": [(0, gid, 1)]}
    return out, note


def _user_name(uid: int) -> str | None:
    import pwd
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def _become_root() -> None:
    """Root of the joined namespace: our ids map to 0 already; the supplementary groups do not (they
    show as nobody), so drop them where the mapping lets us (newgidmap allows setgroups)."""
    try:
        os.setgroups([])
    except OSError:
        pass  # a single-id mapping denies setgroups: keep them, unmapped
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)

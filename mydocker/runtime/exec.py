"""`exec`: start a new process inside a running container (the book's 5.4, `runc exec`).

    caller ──fork──► intermediate: non-dumpable · join the init's cgroups · setns(pidfd, all namespaces)
       ▲                  │ sends the new pid, exits                  ──fork──► process (in the PID namespace)
       └──── channel ◄────┴──── "console" (+pty fd) · "error" · EOF when execve succeeded (CLOEXEC)

CVE-2019-5736: a process that joins a container must not let the container open /proc/<pid>/exe
(the host's python3) while it joins, so it is made non-dumpable before the first setns; execve of
the container's binary resets that. Nothing is imported after setns: every module this needs is
imported here, at the top (the host's files are out of reach, and must stay so, once inside).
"""

from __future__ import annotations

import os
import signal

from mydocker.errors import CommandNotExecutable, CommandNotFound, Conflict, InvalidArgument, RuntimeFailure
from mydocker.lazy import lazy_module
from mydocker.linux import syscalls as sc
from mydocker.linux import tty
from mydocker.recordclass import record
from mydocker.runtime import caps, command, seccomp
from mydocker.runtime import state_file as st
from mydocker.runtime.channel import Channel
from mydocker.runtime.init import RLIMITS, error_message, rlimit_value
from mydocker.runtime.process import _to_error, wait_for_exit

json = lazy_module("json")
detect = lazy_module("mydocker.runtime.cgroups.detect")

__all__ = ["ExecProcess", "exec_process", "wait_for_exit"]

# /proc/<pid>/ns name -> setns flag; the kernel orders a pidfd setns itself (user namespace first).
_NAMESPACES = {"user": sc.CLONE_NEWUSER, "ipc": sc.CLONE_NEWIPC, "uts": sc.CLONE_NEWUTS,
               "net": sc.CLONE_NEWNET, "pid": sc.CLONE_NEWPID, "cgroup": sc.CLONE_NEWCGROUP,
               "time": sc.CLONE_NEWTIME, "mnt": sc.CLONE_NEWNS}


@record
class ExecProcess:
    pid: int                        # in the caller's PID namespace
    console_fd: int | None = None   # the pty master when process.terminal


def exec_process(root: str, container_id: str, process: dict, stdio: tuple[int, int, int] | None = None,
                 detach: bool = False) -> ExecProcess:
    """Start `process` (an OCI process object) in container `container_id` of runtime root `root`.

    Returns once the command has been exec'd (errors such as a missing command are raised here, with
    CommandNotFound/CommandNotExecutable). Without `detach` the caller becomes a child subreaper so the
    process is its child: wait with `wait_for_exit(pid)`. With `detach` the process is orphaned.
    `stdio` replaces fds 0-2 of the process (ignored with a terminal).
    """
    if not process.get("args"):
        raise InvalidArgument("exec needs a command: process.args is empty")
    state = st.load(root, container_id)
    current = st.status(root, state)
    if current != "running":  # runc's words for stopped and paused
        raise Conflict(f"cannot exec in a {current} container: {container_id} must be running; "
                       f"{'resume' if current == 'paused' else 'start'} it before exec")
    pidfd = os.pidfd_open(state.pid)  # pins the init: no setns into a reused pid
    try:
        if st.process_start_time(state.pid) != state.pid_start:
            raise Conflict(f"cannot exec in a stopped container: {container_id} stopped; start it before exec")
        flags = _namespaces_to_join(state.pid)
        cgroups = _cgroups_to_join(state)
        # As the init: the container's seccomp filter and the process's capabilities (runc exec too).
        confinement = (seccomp.prepare(_bundle_config(state).get("linux", {}).get("seccomp")),
                       caps.to_masks(process["capabilities"], caps.last_cap())
                       if process.get("capabilities") is not None else None)
        if not detach:
            sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
        parent, child = Channel.pair()
        pid = os.fork()
        if pid == 0:
            parent.close()
            try:
                _intermediate(pidfd, flags, cgroups, process, child, stdio, confinement)
            except BaseException as exc:  # noqa: BLE001 - everything must reach the caller
                try:
                    child.send(error_message(exc))
                finally:
                    os._exit(1)
            os._exit(0)
    finally:
        os.close(pidfd)
    child.close()
    try:
        return _receive(parent, pid)
    finally:
        parent.close()


def _bundle_config(state: st.State) -> dict:
    try:
        with open(os.path.join(state.bundle, "config.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _namespaces_to_join(pid: int) -> int:
    flags = 0
    for name, flag in _NAMESPACES.items():
        try:
            theirs = os.stat(f"/proc/{pid}/ns/{name}")
        except FileNotFoundError:
            continue  # a kernel without this namespace type
        mine = os.stat(f"/proc/self/ns/{name}")
        if (theirs.st_dev, theirs.st_ino) != (mine.st_dev, mine.st_ino):
            flags |= flag
    return flags


def _cgroups_to_join(state: st.State) -> list[str]:
    """The init's cgroup directories: as the runtime recorded them, else read from /proc."""
    if state.cgroup_paths:
        return list(dict.fromkeys(state.cgroup_paths.values()))

    def directories(cgroup_file: str) -> dict[tuple, str]:
        with open("/proc/self/mountinfo") as f:
            mountinfo = f.read()
        with open(cgroup_file) as f:
            found = detect.hierarchies(mountinfo, f.read())
        return {h.keys: os.path.normpath(os.path.join(h.mountpoint, os.path.relpath(h.own, h.root)))
                for h in found}

    mine = directories("/proc/self/cgroup")
    theirs = directories(f"/proc/{state.pid}/cgroup")
    found = [d for keys, d in theirs.items() if mine.get(keys) != d and os.path.isdir(d)]
    if os.geteuid() != 0:  # rootless, best effort as runc's: the caller's session may sit elsewhere
        found = [d for d in found if os.access(os.path.join(d, "cgroup.procs"), os.W_OK)]
    return found


def _intermediate(pidfd: int, flags: int, cgroups: list[str], process: dict, ch: Channel,
                  stdio: tuple[int, int, int] | None, confinement: tuple) -> None:
    sc.prctl(sc.PR_SET_DUMPABLE, 0)  # CVE-2019-5736: before anything of the container can see us
    for directory in cgroups:
        with open(os.path.join(directory, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    if flags:
        sc.setns(pidfd, flags, "the container's namespaces")
    os.close(pidfd)
    pid = os.fork()  # a PID namespace applies to children only
    if pid == 0:
        try:
            _child(process, ch, stdio, confinement)
        except BaseException as exc:  # noqa: BLE001
            try:
                ch.send(error_message(exc))
            finally:
                os._exit(1)
    ch.send({"type": "pid", "pid": pid})


def _child(process: dict, ch: Channel, stdio: tuple[int, int, int] | None, confinement: tuple) -> None:
    os.setsid()
    if process.get("terminal"):
        master, slave_path = tty.open_pty("/dev/ptmx")
        slave = os.open(slave_path, os.O_RDWR | os.O_NOCTTY)
        size = process.get("consoleSize") or {}
        if size:
            tty.set_winsize(master, size.get("height", 24), size.get("width", 80))
        ch.send({"type": "console"}, [master])
        os.close(master)
        tty.become_terminal(slave)
    elif stdio:
        for target, fd in enumerate(stdio):
            if fd != target:
                os.dup2(fd, target, inheritable=True)
    env = {}
    for item in process.get("env") or []:
        key, _, value = item.partition("=")
        env[key] = value
    for limit in process.get("rlimits") or []:
        name, soft, hard = limit.get("type", ""), limit.get("soft", 0), limit.get("hard", 0)
        if name not in RLIMITS:
            raise InvalidArgument(f"process.rlimits type {name!r} is not a Linux rlimit; "
                                  "use the RLIMIT_* names of getrlimit(2)")
        try:
            sc.setrlimit(RLIMITS[name], rlimit_value(soft), rlimit_value(hard))
        except OSError as e:
            raise InvalidArgument(f"process.rlimits {name} soft {soft} hard {hard} cannot be set: {e.strerror}; "
                                  "keep soft <= hard and hard within the container's limit") from None
    cwd = process.get("cwd") or "/"
    try:
        os.chdir(cwd)
    except OSError as e:
        raise InvalidArgument(f"working directory {cwd} cannot be entered in the container: {e.strerror}") from None
    if not os.getcwd().startswith("/"):  # CVE-2024-21626: a cwd outside the container's root
        raise InvalidArgument(f"working directory {cwd} is outside the container")
    path = command.resolve(process["args"][0], env.get("PATH"))
    command.check_exec_size(path, process["args"], env)  # after the rlimits: RLIMIT_STACK sets the limit
    user = process.get("user") or {}
    uid, gid = int(user.get("uid", 0)), int(user.get("gid", 0))
    program, masks = confinement
    no_new_privileges = bool(process.get("noNewPrivileges"))
    # No host handle may reach the container (CVE-2024-21626; the channel is CLOEXEC already): marked
    # before the filter, which may refuse close_range and leave a fallback of a million close() calls.
    sc.cloexec_from(3)
    if program is not None and not no_new_privileges:
        seccomp.install(program, False)  # without no_new_privs loading needs CAP_SYS_ADMIN: before the drop
    if masks is not None:
        caps.drop_bounding(masks, caps.last_cap())
    caps.switch_user(uid, gid, [int(g) for g in user.get("additionalGids") or [gid]], keep_caps=masks is not None)
    if masks is not None:
        caps.apply_sets(masks)
    if no_new_privileges:
        seccomp.install(program, True)  # no_new_privs, then the filter if any: last, few syscalls filtered
    for signum in range(1, signal.NSIG):  # Python ignores SIGPIPE and SIGXFSZ; the command must not
        if signum not in (signal.SIGKILL, signal.SIGSTOP):
            try:
                signal.signal(signum, signal.SIG_DFL)
            except (OSError, ValueError):
                pass
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    try:
        os.execve(path, process["args"], env)  # the channel is CLOEXEC: the caller reads EOF
    except OSError as exc:
        kind = CommandNotExecutable if exc.errno in (13, 8) else InvalidArgument if exc.errno == 7 else CommandNotFound
        raise kind(f"cannot execute {process['args'][0]}: {command.exec_error(exc)}") from None


def _receive(ch: Channel, intermediate: int) -> ExecProcess:
    try:
        msg, _ = ch.recv()
    finally:
        os.waitpid(intermediate, 0)
    if msg is None:
        raise RuntimeFailure("exec failed: the process joining the container exited without a word")
    if msg.get("type") == "error":
        raise _to_error(msg)
    result = ExecProcess(int(msg["pid"]))
    while True:
        msg, fds = ch.recv()
        if msg is None:
            return result  # EOF: execve succeeded
        if msg.get("type") == "console":
            result.console_fd = fds[0]
        elif msg.get("type") == "error":
            if result.console_fd is not None:
                os.close(result.console_fd)
            _reap(result.pid)
            raise _to_error(msg)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass

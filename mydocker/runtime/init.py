"""The container's init: the forked process that becomes PID 1 of the new namespaces.

It waits for the runtime to send the command over the channel (the book's pipe), builds the
container's view of the system, reports "ready", blocks on the exec fifo until `start`, and execs
the command. Any failure before that point travels back over the channel and the process exits.
"""

from __future__ import annotations

import os
import resource
import sys

from mydocker.errors import CommandNotExecutable, CommandNotFound, MyDockerError
# Everything the init uses is imported here: after pivot_root the host's modules are out of reach.
from mydocker.linux import syscalls as sc
from mydocker.linux import tty
from mydocker.linux.net import set_link_up
from mydocker.runtime import command, rootfs
from mydocker.runtime.channel import Channel
from mydocker.runtime.spec import Process, Spec

_RLIMITS = {name: getattr(resource, name) for name in dir(resource) if name.startswith("RLIMIT_")}


def error_message(exc: BaseException) -> dict:
    """Turn an exception in a child into a message the runtime raises again with context."""
    if isinstance(exc, CommandNotFound):
        kind = "notfound"
    elif isinstance(exc, CommandNotExecutable):
        kind = "notexec"
    elif isinstance(exc, MyDockerError):
        kind = "invalid"
    else:
        kind = "runtime"
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror if exc.filename is None or str(exc.filename) in exc.strerror \
            else f"{exc.strerror}: {exc.filename}"
    else:
        text = str(exc) or type(exc).__name__
    return {"type": "error", "kind": kind, "message": text}


def run_init(spec: Spec, ch: Channel, fifo: int, new_namespaces: set[str], in_userns: bool,
             stdio: tuple[int, int, int] | None = None) -> None:
    """Never returns: execs the command or exits non-zero after reporting why."""
    try:
        msg, _ = ch.recv()
        if msg is None or msg.get("type") != "go":
            os._exit(1)  # the runtime went away before releasing us
        process = Process.from_dict(msg["process"])
        os.setsid()
        if "cgroup" in new_namespaces:
            sc.unshare(sc.CLONE_NEWCGROUP)  # after the runtime placed us in our cgroups
        _setup_system(spec, new_namespaces, in_userns)
        if process.terminal:
            _attach_console(ch, process)
        elif stdio:
            for target, fd in enumerate(stdio):
                if fd != target:
                    os.dup2(fd, target)
        _apply_process_limits(process)
        path = command.resolve(process.args[0], process.env_value("PATH"))
        _enter_cwd(process.cwd)
        ch.send({"type": "ready"})
    except BaseException as exc:  # noqa: BLE001 - everything must reach the runtime
        try:
            ch.send(error_message(exc))
        finally:
            os._exit(1)
    _wait_for_start(fifo)
    _exec(process, path)


def _setup_system(spec: Spec, new_namespaces: set[str], in_userns: bool) -> None:
    if "mount" in new_namespaces:
        rootfs.prepare_root(spec)
        rootfs.mount_all(spec, in_userns)
        rootfs.pivot_to(spec.root_path)
        rootfs.mask_paths(spec.linux.masked_paths)
        rootfs.readonly_paths(spec.linux.readonly_paths, in_userns)
        if spec.root_readonly:
            rootfs.readonly_root(in_userns)
    else:
        os.chroot(spec.root_path)
        os.chdir("/")
    if spec.hostname:
        sc.sethostname(spec.hostname)
    if spec.domainname:
        sc.setdomainname(spec.domainname)
    for key, value in spec.linux.sysctl.items():
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(value)
    if "network" in new_namespaces:
        set_link_up("lo")


def _attach_console(ch: Channel, process: Process) -> None:
    master, slave_path = tty.open_pty("/dev/ptmx")
    slave = os.open(slave_path, os.O_RDWR | os.O_NOCTTY)
    if process.console_size:
        tty.set_winsize(master, process.console_size.get("height", 24), process.console_size.get("width", 80))
    console = "/dev/console"
    if not os.path.exists(console):
        os.close(os.open(console, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
    sc.mount(slave_path, console, None, sc.MS_BIND)
    ch.send({"type": "console", "slave": slave_path}, [master])
    os.close(master)
    tty.make_controlling(slave)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)


def _apply_process_limits(process: Process) -> None:
    for limit in process.rlimits:
        name = limit.get("type", "")
        if name not in _RLIMITS:
            raise MyDockerError(f"config.json: process.rlimits type {name!r} is not a Linux rlimit")
        resource.setrlimit(_RLIMITS[name], (limit.get("soft", 0), limit.get("hard", 0)))
    if process.oom_score_adj is not None:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(process.oom_score_adj))
    if process.user.umask is not None:
        os.umask(process.user.umask)


def _enter_cwd(cwd: str) -> None:
    try:
        os.chdir(cwd)
    except FileNotFoundError:
        raise MyDockerError(f"working directory {cwd} does not exist in the container: "
                            "create it in the image or choose another with -w") from None
    except NotADirectoryError:
        raise MyDockerError(f"working directory {cwd} is not a directory in the container") from None
    # CVE-2024-21626: a cwd reached through a leaked host fd shows as "(unreachable)".
    if not os.getcwd().startswith("/"):
        raise MyDockerError(f"working directory {cwd} is outside the container")


def _wait_for_start(fifo: int) -> None:
    """Block until `start` opens the exec fifo for reading, then tell it we are going."""
    fd = os.open(f"/proc/self/fd/{fifo}", os.O_WRONLY | os.O_CLOEXEC)
    os.write(fd, b"0")
    os.close(fd)
    os.close(fifo)


def _exec(process: Process, path: str) -> None:
    try:
        user = process.user
        os.setgroups(user.additional_gids)
        os.setresgid(user.gid, user.gid, user.gid)
        os.setresuid(user.uid, user.uid, user.uid)
        os.closerange(3, 1 << 20)  # no host handle may reach the container (CVE-2024-21626)
        os.execve(path, process.args, _env(process.env))
    except OSError as exc:
        sys.stderr.write(f"mydocker: cannot execute {process.args[0]}: {exc.strerror}\n")
        os._exit(126 if exc.errno in (13, 8) else 127)


def _env(env: list[str]) -> dict[str, str]:
    out = {}
    for item in env:
        key, _, value = item.partition("=")
        out[key] = value
    return out

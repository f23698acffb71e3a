"""The container's init: the forked process that becomes PID 1 of the new namespaces.

It waits for the runtime to send the command over the channel (the book's pipe), builds the
container's view of the system, reports "ready", blocks on the exec fifo until `start`, and execs
the command. Any failure before that point travels back over the channel and the process exits.
"""

from __future__ import annotations

import _signal
import os
import sys

from mydocker.errors import MyDockerError
from mydocker.lazy import lazy_module
# Everything the init uses is imported here: after pivot_root the host's modules are out of reach
# (mydocker.lazy.EAGER lists them; tests/unit/test_imports.py checks).
from mydocker.linux import syscalls as sc
from mydocker.linux import tty
from mydocker.linux.net import set_link_up
from mydocker.runtime import caps, command, hooks, rootfs
from mydocker.runtime.channel import Channel, error_message  # noqa: F401 - error_message: exec.py imports it here
from mydocker.runtime.oci_config import Process, Spec

seccomp = lazy_module("mydocker.runtime.seccomp")  # only with linux.seccomp: loaded before pivot_root

RLIMITS = sc.RLIMITS  # through libc, not the resource module: its dlopen cost 0.3 ms here (docs/startup.md)
_PERSONALITIES = {"LINUX": 0x0000, "LINUX32": 0x0008}


def run_init(spec: Spec, ch: Channel, fifo: int, new_namespaces: set[str], in_userns: bool,
             stdio: tuple[int, int, int] | None = None) -> None:
    """Never returns: execs the command or exits non-zero after reporting why."""
    try:
        msg, _ = ch.recv()
        if msg is None or msg.get("type") != "go":
            os._exit(1)  # the runtime went away before releasing us
        process = spec.process
        options = msg.get("options") or {}
        state = msg.get("state") or {}
        seccomp_program = _seccomp_program(spec)
        # Where the exec fifo is reopened at `start`: opened now, as the container's own /proc may
        # not exist (no proc mount, or no mount namespace: nothing is mounted then).
        # Readable, not O_PATH: it is also listed if close_range is missing (see _seal_fds).
        fd_dir = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        os.setsid()
        early = _Early(spec, options, state, new_namespaces)
        placed = _Placement(ch, "cgroup" in new_namespaces, early)
        _setup_system(spec, ch, state, dict(options, cgroup_binds=msg.get("cgroup_binds"), early=early),
                      new_namespaces, in_userns, placed)
        if process.terminal:
            _attach_console(ch, process)
        elif stdio:
            for target, fd in enumerate(stdio):
                if fd != target:
                    os.dup2(fd, target)
        if not early.done:
            early.keyring()
        _apply_process_limits(spec, process)
        masks = early.masks if early.done else _capability_masks(process)
        path = command.resolve(process.args[0], process.env_value("PATH"))
        env = _env(process.env)
        command.check_exec_size(path, process.args, env)  # after the rlimits: RLIMIT_STACK sets the limit
        _enter_cwd(process.cwd)
        preserve_fds = int(options.get("preserve_fds") or 0)
        _seal_fds(preserve_fds, fd_dir)
        ch.send({"type": "ready"})
    except BaseException as exc:  # noqa: BLE001 - everything must reach the runtime
        try:
            ch.send(error_message(exc))
        finally:
            os._exit(1)
    try:
        _wait_for_start(fifo, fd_dir,
                        lambda: hooks.run_hooks(spec.hooks, "startContainer", dict(state, status="created"))
                        if spec.hooks.get("startContainer") else None)
        if seccomp_program is not None and not process.no_new_privileges:
            _install_seccomp(seccomp_program, False)  # without no_new_privs loading needs CAP_SYS_ADMIN
        _drop_privileges(process, masks)
        if process.no_new_privileges and seccomp_program is not None:
            _install_seccomp(seccomp_program, True)  # last: as few syscalls as possible run filtered
        elif process.no_new_privileges:
            sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
    except BaseException as exc:  # noqa: BLE001 - `start` has returned: stderr is all that is left
        sys.stderr.write(f"mydocker-runtime: {error_message(exc)['message']}\n")
        os._exit(1)
    _exec(process, path, env)


class _Early:
    """Set-up that needs neither our mounts nor our cgroups (the session keyring, host and domain
    names, lo up, the capability masks and their check), done at most once, when the runtime's news
    has not come yet: the init would only wait there (for the cgroups, usually, since the runtime's
    cgroup work became the longer branch: docs/startup.md). Left undone, it runs in its usual place."""

    def __init__(self, spec: Spec, options: dict, state: dict, new_namespaces: set[str]) -> None:
        self.spec, self.options, self.state, self.new_namespaces = spec, options, state, new_namespaces
        self.done, self.named, self.masks = False, False, None

    def __call__(self) -> None:
        self.keyring()
        if not self.spec.linux.sysctl:  # a kernel.hostname sysctl, written later, must not win over it
            _set_names(self.spec, self.new_namespaces, sc.LINUX)
            self.named = True
        self.masks = _capability_masks(self.spec.process)
        self.done = True

    def keyring(self) -> None:
        if self.options.get("keyring", True):
            _join_keyring(self.state.get("id"))


def _capability_masks(process: Process) -> dict | None:
    """process.capabilities as masks, checked against what we hold ourselves; None without the field."""
    if process.capabilities is None:
        return None
    masks = caps.to_masks(process.capabilities, caps.last_cap())
    caps.check_held(masks, caps.last_cap())
    return masks


class _Placement:
    """The runtime's news about our cgroups, in order: "cgroups" (they exist: the binds for cgroupfs;
    a direct init, whose "go" left before they did, gets it while the runtime sets their limits and
    moves us) and "placed" (we are in them, or in the cgroup2 one and joining the v1 hierarchies
    through the `tasks` files whose descriptors it carries). Each call waits once, for what it
    needs; before the first wait, `early` runs if nothing has come yet."""

    def __init__(self, ch: Channel, new_cgroupns: bool, early: _Early | None = None) -> None:
        self.ch, self.new_cgroupns, self.done, self.binds, self.early = ch, new_cgroupns, False, None, early

    def cgroupfs_binds(self) -> list | None:
        """[name, host dir] per v1 hierarchy as soon as the cgroups exist; None (cgroup2, or no
        cgroup of our own: cgroupfs shows our own) only once we are placed."""
        while self.binds is None and not self.done:
            self._next()
        return self.binds

    def __call__(self) -> list | None:
        """Wait until we are placed; the cgroup binds, or None."""
        while not self.done:
            self._next()
        return self.binds

    def _next(self) -> None:
        if self.early is not None:
            early, self.early = self.early, None
            if not self.ch.pending():
                early()
        msg, fds = self.ch.recv()
        kind = msg.get("type") if msg else None
        if kind not in ("cgroups", "placed"):
            os._exit(1)  # the runtime failed to place us and is killing us
        self.binds = msg.get("cgroup_binds") or self.binds
        if kind == "placed":
            _join_cgroups(fds)
            self.done = True
            if self.new_cgroupns:
                sc.unshare(sc.CLONE_NEWCGROUP)  # rooted at the cgroup the runtime placed us in


def _join_cgroups(tasks_files: list[int]) -> None:
    """Move ourselves (one thread) into the cgroup of each v1 hierarchy whose `tasks` file we hold:
    "0" is the writer, and a thread moving itself takes no global lock (runtime/process.py)."""
    try:
        for fd in tasks_files:
            try:
                os.write(fd, b"0")
            except OSError as e:
                raise OSError(e.errno, f"cannot join the container's cgroup ({e.strerror}): "
                                       "check the cgroup hierarchies it is made in") from None
    finally:
        for fd in tasks_files:
            os.close(fd)


def _setup_system(spec: Spec, ch: Channel, state: dict, options: dict, new_namespaces: set[str],
                  in_userns: bool, placed: _Placement, calls: sc.Syscalls = sc.LINUX) -> None:
    """`calls`: the kernel, or a recording double in tests/unit/test_rootfs_sequence.py."""
    if spec.linux.namespace("mount") is not None:  # a new one, or one joined by path (as runc)
        rootfs.prepare_root(spec, calls)
        rootfs.mount_all(spec, in_userns, before_cgroupfs=placed.cgroupfs_binds,
                         cgroup_binds=options.get("cgroup_binds"), calls=calls)
        _container_hooks(spec, ch, state, placed)
        if options.get("no_pivot"):
            rootfs.move_to(spec.root_path, calls)
        else:
            rootfs.pivot_to(spec.root_path, calls)
        rootfs.root_propagation(spec, calls)
        _write_sysctl(spec)  # before readonlyPaths makes /proc/sys read-only
        rootfs.mask_paths(spec.linux.masked_paths, calls)
        rootfs.readonly_paths(spec.linux.readonly_paths, in_userns, calls)
        if spec.root_readonly:
            rootfs.readonly_root(in_userns, calls)
    else:
        _container_hooks(spec, ch, state, placed)
        calls.chroot(spec.root_path)
        calls.chdir("/")
        _write_sysctl(spec)
    early = options.get("early")
    if early is None or not early.named:
        _set_names(spec, new_namespaces, calls)
    placed()  # in our cgroups (and cgroup namespace) before anything else runs


def _set_names(spec: Spec, new_namespaces: set[str], calls: sc.Syscalls) -> None:
    """Host and domain names, and lo up in a new network namespace."""
    if spec.hostname:
        calls.sethostname(spec.hostname)
    if spec.domainname:
        calls.setdomainname(spec.domainname)
    if "network" in new_namespaces:
        set_link_up("lo")


def _write_sysctl(spec: Spec) -> None:
    for key, value in spec.linux.sysctl.items():  # each in a namespace of the container's (Spec checked)
        try:
            with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
                f.write(value)
        except OSError as e:
            raise MyDockerError(f"config.json: linux.sysctl {key}={value!r} was refused ({e.strerror}): "
                                "only namespaced sysctls can be set in a container") from None


def _container_hooks(spec: Spec, ch: Channel, state: dict, placed: _Placement) -> None:
    """Mounts done, before pivot_root: the runtime runs prestart and createRuntime, then we run
    createContainer here, in the container's namespaces (and cgroups)."""
    if not any(spec.hooks.get(k) for k in ("prestart", "createRuntime", "createContainer")):
        return
    placed()
    if spec.hooks.get("prestart") or spec.hooks.get("createRuntime"):
        ch.send({"type": "hooks"})
        reply, _ = ch.recv()
        if reply is None or reply.get("type") != "hooks-done":
            os._exit(1)  # the runtime failed a hook and is killing us
    if spec.hooks.get("createContainer"):
        hooks.run_hooks(spec.hooks, "createContainer", dict(state, status="creating"))


def _join_keyring(container_id: str | None) -> None:
    try:
        sc.join_session_keyring(f"_ses.{container_id}" if container_id else None)
    except OSError:
        pass  # no keyrings in this kernel or namespace: runc goes on too


def _seccomp_program(spec: Spec):
    """The compiled linux.seccomp, or None. `create` compiled it before the fork (errors name the
    field there); this runs before pivot_root, while the module is reachable."""
    if not spec.linux.seccomp:
        return None
    return seccomp.prepare(spec.linux.seccomp)


def _install_seccomp(program, no_new_privileges: bool) -> None:
    seccomp.install(program, no_new_privileges)


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
    tty.become_terminal(slave)


def _apply_process_limits(spec: Spec, process: Process) -> None:
    persona = spec.linux.personality
    if persona:
        sc.personality(_PERSONALITIES[persona.get("domain", "LINUX")])
    for limit in process.rlimits:
        name = limit.get("type", "")
        if name not in RLIMITS:
            raise MyDockerError(f"config.json: process.rlimits type {name!r} is not a Linux rlimit; "
                                "use the RLIMIT_* names of getrlimit(2)")
        soft, hard = limit.get("soft", 0), limit.get("hard", 0)
        try:
            sc.setrlimit(RLIMITS[name], rlimit_value(soft), rlimit_value(hard))
        except OSError as e:  # soft above hard, or a hard limit above ours without CAP_SYS_RESOURCE
            raise MyDockerError(f"config.json: process.rlimits {name} soft {soft} hard {hard} cannot be set: "
                                f"{e.strerror}; "
                                "keep soft <= hard and hard within the runtime's own limit") from None
    if process.oom_score_adj is not None:
        try:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write(str(process.oom_score_adj))
        except OSError as e:  # EINVAL outside -1000..1000, EACCES below ours without CAP_SYS_RESOURCE
            raise MyDockerError(f"config.json: process.oomScoreAdj {process.oom_score_adj} cannot be set: "
                                f"{e.strerror}; use -1000..1000, no lower than the runtime's own") from None
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


def _wait_for_start(fifo: int, fd_dir: int, start_hooks) -> None:
    """Block until `start` opens the exec fifo for reading, run the startContainer hooks, then tell
    it we are going (so `start` returns, and runs poststart, only after them)."""
    fd = os.open(str(fifo), os.O_WRONLY | os.O_CLOEXEC, dir_fd=fd_dir)  # the O_PATH fd, reopened
    os.close(fifo)
    os.close(fd_dir)
    start_hooks()
    os.write(fd, b"0")
    os.close(fd)


def _drop_privileges(process: Process, masks: dict | None) -> None:
    user = process.user
    last = caps.last_cap()
    if masks is not None:
        caps.drop_bounding(masks, last)
    caps.switch_user(user.uid, user.gid, user.additional_gids, keep_caps=masks is not None)
    if masks is not None:
        caps.apply_sets(masks)


def rlimit_value(value: int) -> int:
    """OCI writes "unlimited" as 2^64-1: anything from 2^63-1 up is RLIM_INFINITY, as before (resource's -1)."""
    return sc.RLIM_INFINITY if value >= 2**63 - 1 else value


def _seal_fds(preserve_fds: int, fd_dir: int) -> None:
    """No host handle may reach the container (CVE-2024-21626): every fd above stdio and the
    preserved ones is made close-on-exec, here, before `start`, so that nothing between `start`
    and the exec walks fds, and before a seccomp filter that may refuse close_range. What the init
    opens later is opened O_CLOEXEC (Python's default)."""
    for fd in range(3, 3 + preserve_fds):
        try:
            os.set_inheritable(fd, True)
        except OSError:
            pass  # not open: nothing to pass on
    sc.cloexec_from(3 + preserve_fds, fd_dir)


def _exec(process: Process, path: str, env: dict[str, str]) -> None:
    # CPython ignores SIGPIPE and SIGXFSZ, and ignored dispositions survive execve: give the
    # container's command the defaults it would get from any other runtime.
    for signum in (_signal.SIGPIPE, _signal.SIGXFSZ):
        _signal.signal(signum, _signal.SIG_DFL)
    try:
        os.execve(path, process.args, env)
    except OSError as exc:
        sys.stderr.write(f"mydocker: cannot execute {process.args[0]}: {command.exec_error(exc)}\n")
        os._exit(126 if exc.errno in (13, 8) else 127)


def _env(env: list[str]) -> dict[str, str]:
    out = {}
    for item in env:
        key, _, value = item.partition("=")
        out[key] = value
    return out

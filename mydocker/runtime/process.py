"""Start a container's init: fork, join or create namespaces, fork again into the new PID namespace.

    runtime ──fork──► intermediate: setns(paths) · unshare(user) · unshare(others) ──fork──► init (PID 1)
       ▲                    │ sends the init's pid, exits                                │
       └──────── channel: "go" ───────────────────────────────────────────────────────────┘
                 ◄─────── "console" (+pty fd) · "ready" | "error"

Without a user or time namespace to make, or a namespace to join but a network, IPC or UTS one (the
common case, and the engine's bridge netns), there is no intermediate: the runtime forks the init
straight into a new PID namespace (unshare(CLONE_NEWPID) applies to children only) and the init
joins and unshares the rest itself. One fork fewer on every create,
and no round trip before "go": the runtime knows the init's pid from the fork, so it sends "go" at
once, then checks the config and makes and joins the cgroups while the init loads its modules and
mounts (under load each hand-over between the two processes waits for the scheduler: 0.5-1 ms).
The init learns the cgroup binds ("cgroups") once the directories exist, before their limits are
set and it is moved, and waits for "placed" before its cgroup namespace, a hook or its command.

A direct init is placed without the kernel's global threadgroup lock, whose first writer after a
quiet spell waits for an RCU grace period (7-20 ms here) holding the cgroup mutex, which every
cgroup mkdir needs too: it starts in its cgroup2 directory (clone3's CLONE_INTO_CGROUP, when the
runtime has no other thread) and joins its v1 hierarchies itself, writing "0" to each one's `tasks`
file (a thread moving itself takes no global lock) through descriptors "placed" carries. The
runtime moves by pid only what is left (an intermediate's init, a runtime with threads).

Each child does the minimum and leaves with os._exit; errors come back over the channel.
"""

from __future__ import annotations

import os
import _signal
from mydocker.recordclass import record

from mydocker.errors import CommandNotExecutable, CommandNotFound, InvalidArgument, RuntimeFailure
from mydocker.runtime.channel import Channel, error_message
from mydocker.runtime.oci_config import Spec
from mydocker.runtime.state_view import in_user_namespace

# ctypes (mydocker.linux) and the init's modules are imported in the children, after the fork:
# there they load while the runtime creates the cgroups, instead of before, on the critical path.
# Join order: the user namespace first (it owns the others), the mount namespace last (it moves /).
_JOIN_ORDER = ("user", "ipc", "uts", "network", "pid", "cgroup", "time", "mount")
# Joined by a direct init itself: setns(2) of these applies to the caller at once (a PID namespace to
# its children only; a mount namespace would hide the host's python from the init's imports).
_DIRECT_JOINS = frozenset({"ipc", "uts", "network"})


@record
class InitProcess:
    pid: int
    console_fd: int | None = None
    start_fd: int | None = None  # the exec fifo's read end, held from before "go" (create's start_at_once)


def forks_directly(spec: Spec, in_userns: bool | None = None) -> bool:
    """Whether the init is forked by the runtime itself (no intermediate): no user or time namespace
    to make first, and no namespace to join by path but those the init can join itself (the
    engine's bridge netns). (Inside a user namespace the way back into our own PID namespace, the
    host's, is closed.)"""
    new = {ns.type for ns in spec.linux.namespaces if not ns.path}
    if in_userns is None:
        in_userns = spec.linux.namespace("user") is not None or in_user_namespace()
    return not in_userns and "time" not in new and \
        all(ns.type in _DIRECT_JOINS for ns in spec.linux.namespaces if ns.path)


def spawn_init(spec: Spec, fifo_fd: int, before_go=None, stdio: tuple[int, int, int] | None = None,
               on_hooks=None, go: dict | None = None, place=None, after_fork=None, check=None,
               cgroup_fd: int | None = None) -> InitProcess:
    """Fork the container's init and wait until it is ready and blocked on the exec fifo.

    `after_fork(pid)` runs while the children set up namespaces (creating the cgroups); `pid` is
    the init's when it is known already (forked directly), else 0.
    `before_go(pid)` runs just before "go" is sent (recording its pid): for a direct init right
    after the fork, before `after_fork`; else once the intermediate has reported the init's pid.
    `place(pid, itself, born)` (limits, joining the cgroups) runs while the init builds its
    rootfs: the init waits for it before its cgroup namespace, hooks and the user's command. With
    `itself` (a direct init) it returns descriptors of the v1 hierarchies' `tasks` files, which the
    init writes "0" to once "placed" brings them; `born`: the init started in the cgroup2 directory
    `cgroup_fd` (given for a direct init: clone3 tried, os.fork if the kernel refuses it).
    `go["cgroup_binds"]`, as `after_fork` leaves it, travels with "go" (intermediate), else in a
    "cgroups" message sent before `place` (the init binds them over its cgroupfs meanwhile), and
    with "placed".
    `check()` (the config's schema check) runs for a direct init once the "cgroups" message is
    sent, before `place`, while the init mounts (since the init starts on another CPU, our cgroup
    work is the longer branch: docs/startup.md); else before `after_fork`. Its error is the one
    reported, and the init is killed.
    `stdio` replaces the inherited fds 0-2 of the container's process (ignored with a terminal).
    `on_hooks()` runs the runtime-namespace hooks (prestart, createRuntime) when the init, its
    mounts done and before pivot_root, asks for them. `go` adds fields to the init's "go" message.
    """
    if spec.process is None:
        raise InvalidArgument("config.json: process is required to create a container")
    new = {ns.type for ns in spec.linux.namespaces if not ns.path}
    # In a user namespace, the config's or one we run in already (podman rootless runs us in its own):
    # no mknod, locked mount flags, sysfs perhaps refused.
    in_userns = spec.linux.namespace("user") is not None or in_user_namespace()
    # Forked straight into its new PID namespace (forks_directly): no intermediate process, one fork
    # instead of two, and "go" without a round trip.
    direct = forks_directly(spec, in_userns)
    parent, child = Channel.pair()
    spread = _other_cpus() if direct else None
    born = False
    if direct and cgroup_fd is not None:
        pid, born = _clone_into(cgroup_fd, "pid" in new, spread)
    elif direct and "pid" in new:
        pid = _fork_into_new_pid_namespace(spread)
    else:
        pid = _fork(spread)
    if pid == 0:  # the init (direct) or the intermediate
        parent.close()
        try:
            if direct:
                _direct_init(spec, child, fifo_fd, new, stdio)
            _intermediate(spec, child, fifo_fd, new, in_userns, stdio)
        except BaseException as exc:  # noqa: BLE001
            try:
                child.send(error_message(exc))
            finally:
                os._exit(1)
        os._exit(0)
    child.close()
    init_pid, reaped = (pid, True) if direct else (0, False)
    try:
        if direct:
            # The pid is ours from the fork: "go" leaves at once and waits in the channel while the
            # init loads its modules and unshares; its cgroups are made meanwhile (their binds come
            # with "placed", which the init waits for before it mounts cgroupfs or runs a hook).
            _send_go(parent, init_pid, before_go, go)
        failure = None
        try:
            if check and not direct:
                check()
            if after_fork:
                after_fork(init_pid)
        except BaseException as exc:  # noqa: BLE001 - raised once the init's pid is known, to kill it
            failure = exc
        if not direct:  # the intermediate reports the init's pid (and asks for its id maps first)
            try:
                init_pid = _receive_pid(parent, pid, spec, "user" in new)
            except BaseException:
                if failure is not None:
                    raise failure from None  # ours first: a bad config.json can make the child fail too
                raise
        if failure is not None:
            raise failure
        if not direct:
            _send_go(parent, init_pid, before_go, go)
        elif (go or {}).get("cgroup_binds"):
            # The cgroups exist: the init binds them over its cgroupfs (and goes on to pivot_root)
            # while we set the limits and move it, instead of waiting for "placed" to learn them.
            try:
                parent.send({"type": "cgroups", "cgroup_binds": go["cgroup_binds"]})
            except OSError:
                pass  # the init failed already: its error is waiting in the channel
        if check and direct:
            check()  # ours first: raised before anything the init said is read
        joins: list[int] = []
        if place:
            try:
                joins = place(init_pid, direct, born) or []
            except BaseException:
                # An init that failed before or while we placed it (an unshare refused; reaped, so the
                # move says ESRCH) has said why in the channel: that is the error to report.
                queued = _queued_error(parent)
                if queued is not None:
                    raise queued from None
                raise
        try:
            parent.send({"type": "placed", "cgroup_binds": (go or {}).get("cgroup_binds")}, joins)
        except OSError:
            pass  # the init failed already: its error is waiting in the channel
        finally:
            for fd in joins:
                os.close(fd)
        if not direct:
            _reap(pid)  # the intermediate, gone since it sent the pid: reaped here, not on the way to "go"
            reaped = True
        return _receive_ready(parent, init_pid, on_hooks)
    except BaseException:
        if init_pid:
            _kill_and_reap(init_pid)
        raise
    finally:
        parent.close()  # first: an intermediate still waiting on the channel sees it close and exits
        if not reaped:
            _reap(pid)


def _other_cpus() -> tuple[set[int], set[int]] | None:
    """(our affinity, it without the CPU we run on), or None with a single CPU to run on."""
    from mydocker.linux import syscalls as sc
    try:
        mask = os.sched_getaffinity(0)
        here = sc.current_cpu()
    except OSError:
        return None
    return (mask, mask - {here}) if len(mask) > 1 and here in mask else None


def _start_elsewhere(pid: int, spread: tuple[set[int], set[int]] | None) -> None:
    """Queue the new child on another CPU than ours. The kernel often leaves a fork child queued
    behind its parent while the other CPU idles (perf sched on this 2-CPU VM: the init waited 0.6 ms
    to start, then the two took turns on one CPU for ~2 ms), which serializes the init's set-up with
    our cgroup work. Narrowing its affinity moves the queued child; the mask is put back at once (a
    queued or running task stays where it is), so the container has the affinity it inherited."""
    if spread is None or pid <= 0:
        return
    try:
        os.sched_setaffinity(pid, spread[1])
        os.sched_setaffinity(pid, spread[0])
    except OSError:
        pass  # the init is gone (its error waits in the channel): nothing to move


def _fork(spread: tuple[set[int], set[int]] | None) -> int:
    pid = os.fork()
    _start_elsewhere(pid, spread)
    return pid


def _clone_into(cgroup_fd: int, new_pid_namespace: bool,
                spread: tuple[set[int], set[int]] | None) -> tuple[int, bool]:
    """(pid, True) of a child forked into cgroup2 directory `cgroup_fd` (and a new PID namespace), or
    (pid, False) of one forked as usual where clone3 is refused (an older kernel, a seccomp filter, a
    thread of ours): it is moved by pid then."""
    from mydocker.linux import syscalls as sc
    try:
        pid = sc.clone_fork(sc.CLONE_NEWPID if new_pid_namespace else 0, cgroup_fd)
    except OSError:
        return (_fork_into_new_pid_namespace(spread) if new_pid_namespace else _fork(spread)), False
    _start_elsewhere(pid, spread)
    return pid, True


def _fork_into_new_pid_namespace(spread: tuple[set[int], set[int]] | None = None) -> int:
    """fork() into a new PID namespace (the child is its PID 1); ours stays as it was for later forks."""
    from mydocker.linux import syscalls as sc
    own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    try:
        sc.unshare(sc.CLONE_NEWPID)  # for our children only
        pid = -1
        try:
            pid = os.fork()
            _start_elsewhere(pid, spread)  # first: the child waits in a queue until it is moved
        finally:
            if pid != 0:
                sc.setns(own, sc.CLONE_NEWPID, "/proc/self/ns/pid")  # hooks and the rest fork into ours
        return pid
    finally:
        os.close(own)


def _namespace_flag(sc, kind: str) -> int:
    """The CLONE_NEW* flag of an OCI namespace type."""
    return {"mount": sc.CLONE_NEWNS, "uts": sc.CLONE_NEWUTS, "ipc": sc.CLONE_NEWIPC, "pid": sc.CLONE_NEWPID,
            "network": sc.CLONE_NEWNET, "time": sc.CLONE_NEWTIME, "user": sc.CLONE_NEWUSER,
            "cgroup": sc.CLONE_NEWCGROUP}[kind]


def _unshare_flags(sc, kinds: set[str]) -> int:
    """unshare(2) flags of the namespaces made before the init runs (not the user namespace, made
    first on its own; nor the cgroup namespace, made by the init once the runtime has placed it)."""
    flags = 0
    for kind in kinds - {"user", "cgroup"}:
        flags |= _namespace_flag(sc, kind)
    return flags


def _direct_init(spec: Spec, ch: Channel, fifo_fd: int, new: set[str], stdio: tuple[int, int, int] | None) -> None:
    """The init forked by the runtime itself: join and make the other namespaces, become the init."""
    from mydocker.linux import syscalls as sc
    _join_namespaces(spec, sc)
    sc.unshare(_unshare_flags(sc, new - {"pid"}))  # the PID namespace is the one we were forked into
    from mydocker.runtime.init import run_init  # everything the init needs, before pivot_root
    run_init(spec, ch, fifo_fd, new, False, stdio)


def _join_namespaces(spec: Spec, sc) -> None:
    """setns(2) into each namespace the config names by path, in _JOIN_ORDER."""
    for kind in _JOIN_ORDER:
        ns = spec.linux.namespace(kind)
        if ns and ns.path:
            fd = os.open(ns.path, os.O_RDONLY | os.O_CLOEXEC)
            # The type, not 0: the kernel then refuses a path to another kind of namespace (EINVAL).
            try:
                sc.setns(fd, _namespace_flag(sc, kind), ns.path)
            except OSError as e:
                raise OSError(e.errno, f"cannot join the {kind} namespace at {ns.path}: {e.strerror}; "
                                       f"the path must name a {kind} namespace") from None
            finally:
                os.close(fd)


def _intermediate(spec: Spec, ch: Channel, fifo_fd: int, new: set[str], in_userns: bool,
                  stdio: tuple[int, int, int] | None) -> None:
    from mydocker.linux import syscalls as sc
    if in_userns:
        # As root of a user namespace we can no longer read the host's python (e.g. under /root).
        from mydocker.runtime.init import run_init  # noqa: F401
    _join_namespaces(spec, sc)
    if spec.linux.namespace("user") and "user" not in new:
        # Joined by path: our host ids are unmapped there (files we made would fail with EOVERFLOW);
        # become its root, as runc does.
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    if "user" in new:
        sc.unshare(sc.CLONE_NEWUSER)
        ch.send({"type": "userns"})
        msg, _ = ch.recv()
        if msg is None:
            os._exit(1)
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    sc.unshare(_unshare_flags(sc, new))
    pid = os.fork()
    if pid == 0:
        try:
            from mydocker.runtime.init import run_init  # everything the init needs, before pivot_root
        except BaseException as exc:  # noqa: BLE001
            try:
                ch.send(error_message(exc))
            finally:
                os._exit(1)
        run_init(spec, ch, fifo_fd, new, in_userns, stdio)
    ch.send({"type": "pid", "pid": pid})


def _receive_pid(ch: Channel, intermediate: int, spec: Spec, new_userns: bool) -> int:
    msg, _ = ch.recv()
    if new_userns and msg and msg.get("type") == "userns":
        from mydocker.runtime.idmap import write_id_maps
        write_id_maps(intermediate, spec.linux.uid_mappings, spec.linux.gid_mappings)
        ch.send({"type": "mapped"})
        msg, _ = ch.recv()
    if msg is None:
        raise RuntimeFailure("container setup failed: the runtime's child exited without a word")
    if msg.get("type") == "error":
        raise _to_error(msg)
    return int(msg["pid"])


def _send_go(ch: Channel, pid: int, before_go, go: dict | None) -> None:
    if before_go:
        before_go(pid)
    try:
        ch.send({**(go or {}), "type": "go"})  # the init has spec.process: forked with it
    except OSError:  # the init is gone: its error, if it sent one, is waiting in the channel
        raise _queued_error(ch) or RuntimeFailure("container setup failed: the init exited before it was set up") \
            from None


def _queued_error(ch: Channel) -> Exception | None:
    """The error the init sent before it exited, if one waits in the channel. Never blocks: a live
    init waits for "placed" and has sent nothing."""
    ch.sock.setblocking(False)
    try:
        while True:
            msg, fds = ch.recv()
            for fd in fds:  # none before "placed" (a console comes after it), but never leak one
                os.close(fd)
            if msg is None:
                return None
            if msg.get("type") == "error":
                return _to_error(msg)
    except OSError:  # BlockingIOError: nothing was sent
        return None
    finally:
        ch.sock.setblocking(True)


def _receive_ready(ch: Channel, pid: int, on_hooks=None) -> InitProcess:
    result = InitProcess(pid)
    while True:
        msg, fds = ch.recv()
        if msg is None:
            raise RuntimeFailure("container setup failed: the container's init exited during setup")
        if msg["type"] == "hooks":
            try:
                if on_hooks:
                    on_hooks()
            except BaseException:
                if result.console_fd is not None:
                    os.close(result.console_fd)
                raise
            ch.send({"type": "hooks-done"})
        elif msg["type"] == "console":
            result.console_fd = fds[0]
        elif msg["type"] == "ready":
            return result
        elif msg["type"] == "error":
            if result.console_fd is not None:
                os.close(result.console_fd)
            raise _to_error(msg)


def _to_error(msg: dict) -> Exception:
    kind = {"notfound": CommandNotFound, "notexec": CommandNotExecutable, "invalid": InvalidArgument}
    return kind.get(msg.get("kind"), RuntimeFailure)(msg["message"])


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass  # reaped already (a caller's wait for any child), or not ours: the host's init reaps it


def _kill_and_reap(pid: int) -> None:
    try:
        os.kill(pid, _signal.SIGKILL)
    except ProcessLookupError:
        return
    _reap(pid)


def wait_for_exit(pid: int) -> int:
    """Wait for the init (our child, or reparented to us as subreaper) and reap what it leaves.

    Returns the exit code as Docker reports it: the code, or 128+N for signal N.
    """
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    code = os.waitstatus_to_exitcode(status)
    while True:  # orphans of the container's PID namespace were reparented to us too
        try:
            orphan, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if orphan == 0:
            break
    return 128 - code if code < 0 else code

"""`create`: set up the container and leave its init blocked before the user's command.

Order (each thing is recorded in state.json before it is created, so `delete` after a crash at any
step removes it): claim the id → record (bundle, cgroup paths, hooks) → exec fifo → (the cgroup2
directory, for an init cloned into it) → fork the init → record its pid → cgroups created, limited,
joined → init builds the rootfs (prestart, createRuntime, createContainer hooks on the way) →
"ready", blocked on the fifo.
"""

from __future__ import annotations

import _thread
import os
import time

from mydocker.errors import Conflict, InvalidArgument
from mydocker.lazy import lazy_module
from mydocker.recordclass import record as _record
from mydocker.runtime import state_file as st
from mydocker.runtime.process import InitProcess, forks_directly, spawn_init
from mydocker.runtime.oci_config import Spec, load_spec

cgroups = lazy_module("mydocker.runtime.cgroups")
detect = lazy_module("mydocker.runtime.cgroups.detect")
hooks = lazy_module("mydocker.runtime.hooks")
prewarm = lazy_module("mydocker.runtime.prewarm")
seccomp = lazy_module("mydocker.runtime.seccomp")
validate = lazy_module("mydocker.runtime.validate")
zlib = lazy_module("zlib")

DEFAULT_ROOT = st.DEFAULT_ROOT


@_record
class CreateOptions:
    """runc's create flags that reach the init."""
    no_pivot: bool = False
    no_new_keyring: bool = False
    preserve_fds: int = 0
    rootless: bool = False      # --rootless: cgroups only where the caller may write them (runc's)
    # `run`, with nothing to do between create and start: the runtime holds the exec fifo's read end
    # from before "go", so the init passes it without waiting (a round trip less) and `start` only
    # confirms. Not with a terminal: the caller puts its own in raw mode before it starts the container.
    start_at_once: bool = False
    # the caller built the config and holds its builder to the schema in its tests (the engine):
    # no schema check per create (1.5-2 ms of CPU while the init waits for "go": docs/startup.md)
    checked: bool = False


def default_cgroups_path(root: str, container_id: str) -> str:
    """The cgroup of a container whose config.json names none: at the top, as runc's /<id>, named
    mydocker-<id> (and, as ids are unique per runtime root only, with the root's hash for another
    root). Flat like runc's: no parent to create and prune again on every run."""
    if os.path.abspath(root) == DEFAULT_ROOT:
        return f"/mydocker-{container_id}"
    return f"/mydocker-{zlib.crc32(os.path.abspath(root).encode()):08x}-{container_id}"


def create(root: str, container_id: str, bundle: str, spec: Spec | None = None,
           stdio: tuple[int, int, int] | None = None,
           options: CreateOptions | None = None) -> tuple[st.State, InitProcess]:
    """Create container `container_id` from `bundle`; return its state and init (with any console fd)."""
    options = options or CreateOptions()
    if spec is None:
        spec = load_spec(bundle)
    hooks.check(spec.hooks)
    if spec.linux.seccomp:
        # Compiled before the fork (errors name the field; the init reuses it), or read from the
        # root's cache (not a valid container id, so never listed as one).
        seccomp.prepare(spec.linux.seccomp, cache_dir=os.path.join(root, ".seccomp-cache"))
    directory = st.claim(root, container_id)
    record = st.State(id=container_id, bundle=os.path.abspath(bundle), annotations=spec.annotations,
                      rootfs=spec.root_path, hooks=_kept_hooks(spec.hooks),
                      created=_now())
    cgroup = None
    try:
        fifo = os.path.join(directory, "exec.fifo")
        os.mkfifo(fifo, 0o600)
        os.chown(fifo, _host_id(spec.linux.uid_mappings), _host_id(spec.linux.gid_mappings))

        def record_pid(pid: int) -> None:
            record.pid = pid
            record.pid_start = st.process_start_time(pid) or 0

        def after_fork(pid: int) -> None:
            # While the children make namespaces (the fork is early, so they overlap this work):
            # record the cgroup's paths (and the init's pid when it is known already), then create
            # the cgroup, whose directories the init binds. The schema check comes later (`check`).
            if pid and record.pid != pid:
                record_pid(pid)  # one save for both
            st.save(root, record)
            saved.append(True)
            if cgroup is not None:
                cgroup.create()
                go["cgroup_binds"] = _cgroup_binds(cgroup)

        def before_go(pid: int) -> None:
            if record.pid != pid:  # the direct init's, before after_fork; an intermediate's, after it
                record_pid(pid)
                if saved:  # after_fork's record lacks it
                    st.save(root, record)
            if options.start_at_once and not spec.process.terminal:
                # Here, after the fork: a read end the init inherited would let it pass even when
                # this process died before it started the container.
                start_fd.append(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC))
            go["state"] = st.hook_state(record, "creating")  # hooks in the init see its pid

        def place(pid: int, itself: bool, born: bool) -> list[int]:
            """Limits, then the moves: with `itself`, the init joins the v1 hierarchies through the
            descriptors returned (after the device rules are in: it mounts /dev meanwhile); `born`,
            it is in the cgroup2 directory already; the rest moves it by pid."""
            if cgroup is None:
                prewarm.finish()
                return []
            cgroup.set(_with_device_rules(spec))
            joins = cgroup.tasks_files() if itself else []
            fds: list[int] = []
            try:
                for path in joins:
                    fds.append(os.open(path, os.O_WRONLY | os.O_CLOEXEC))
                skip = {os.path.dirname(path) for path in joins}
                if born:
                    skip.add(cgroup.paths[cgroups.UNIFIED])
                cgroup.apply(pid, frozenset(skip))
            except BaseException:
                for fd in fds:
                    os.close(fd)
                raise
            prewarm.finish()  # joined, or joining: no more moves to keep the attach lock warm for
            return fds

        def runtime_hooks() -> None:
            state = st.hook_state(record, "creating")
            hooks.run_hooks(spec.hooks, "prestart", state)
            hooks.run_hooks(spec.hooks, "createRuntime", state)

        go = {"options": {"no_pivot": options.no_pivot, "keyring": not options.no_new_keyring,
                          "preserve_fds": options.preserve_fds}}
        start_fd: list[int] = []  # the fifo's read end, with start_at_once
        saved: list[bool] = []  # after_fork has written the record
        # Before the fork: its mountinfo read would wait for the init's unshare and mounts (the
        # namespace lock), and the init waits for the cgroups this opens (measured: 2.6 -> 0.3 ms).
        cgroup = cgroups.open_cgroup(spec.linux.cgroups_path, default=default_cgroups_path(root, container_id),
                                     container_id=container_id)
        if options.rootless and not _may_create(cgroup):
            _refuse_limits(spec)
            cgroup = None  # none of our own: the init stays in the caller's, as runc rootless on v1
        else:
            _check_unused(cgroup, container_id)
            record.cgroup_paths = cgroup.paths
        birth = None  # the cgroup2 directory a direct init is cloned into (runtime/process.py)
        if cgroup is not None and not _thread._count() and forks_directly(spec):
            st.save(root, record)  # its paths, before anything is made there
            birth = cgroup.create_unified()
        # Opened here, as the host's root, so an init in a user namespace needs no path to it.
        fifo_fd = os.open(fifo, os.O_PATH | os.O_CLOEXEC)
        if birth is None:
            prewarm.kick()  # the caller's shell (the engine's): the container moves in a few ms
        try:
            init = spawn_init(spec, fifo_fd, before_go=before_go, stdio=stdio, on_hooks=runtime_hooks, go=go,
                              place=place, after_fork=after_fork, cgroup_fd=birth,
                              check=None if options.checked else lambda: validate.validate_config(spec.raw))
        except BaseException:
            for fd in start_fd:
                os.close(fd)
            raise
        finally:
            os.close(fifo_fd)
            if birth is not None:
                os.close(birth)
        init.start_fd = start_fd[0] if start_fd else None
    except BaseException:
        if cgroup is not None and record.cgroup_paths:
            try:
                cgroup.destroy()
            except Exception:  # noqa: BLE001 - the first error is the one to report
                pass
        st.remove_dir(root, container_id)
        raise
    return record, init


# What a container needs whatever its device rules say (runc's AllowedDevices): mknod of anything,
# the runtime-spec's default devices, /dev/console, ptys and tun.
_BUILTIN_DEVICES = [("c", None, None, "m"), ("b", None, None, "m"), ("c", 1, 3, "rwm"), ("c", 1, 8, "rwm"),
                    ("c", 1, 7, "rwm"), ("c", 5, 0, "rwm"), ("c", 1, 5, "rwm"), ("c", 1, 9, "rwm"),
                    ("c", 5, 1, "rwm"), ("c", 136, None, "rwm"), ("c", 5, 2, "rwm"), ("c", 10, 200, "rwm")]


def _with_device_rules(spec: Spec) -> dict:
    """linux.resources with the built-in device rules and linux.devices added after the config's own,
    when it has device rules at all (without any, the devices cgroup stays as the host has it)."""
    resources = spec.linux.resources or {}
    rules = resources.get("devices")
    if not rules:
        return resources
    added = [{"allow": True, "type": t, "major": ma, "minor": mi, "access": a} for t, ma, mi, a in _BUILTIN_DEVICES]
    added += [{"allow": True, "type": d.get("type", "c"), "major": d.get("major"), "minor": d.get("minor"),
               "access": "rwm"} for d in spec.linux.devices if d.get("type") in ("c", "b", "u")]
    return dict(resources, devices=[*rules, *added])


def _may_create(cgroup) -> bool:
    """True when the caller may make the container's directory in every hierarchy: each one's
    nearest existing ancestor is writable (a delegated subtree; never so on a v1 host for a user)."""
    for directory in cgroup.paths.values():
        ancestor = os.path.dirname(directory)
        while not os.path.isdir(ancestor):
            ancestor = os.path.dirname(ancestor)
        if not os.access(ancestor, os.W_OK):
            return False
    return True


def _refuse_limits(spec: Spec) -> None:
    """A rootless container without a cgroup of its own cannot have limits: say so rather than
    run it unlimited (device rules are the exception, as in runc: a user namespace has no mknod)."""
    asked = sorted(key for key, value in (spec.linux.resources or {}).items() if value and key != "devices")
    if asked:
        layout = {"hybrid": "v1 hybrid", "v1": "v1", "v2": "v2"}[cgroups.detect_mode()]
        raise InvalidArgument(
            f"config.json: linux.resources.{asked[0]} needs a cgroup, and uid {os.geteuid()} may not create one "
            f"on this host (cgroup {layout} without a delegated subtree): remove linux.resources "
            "or run the container as root")


def _cgroup_binds(cgroup) -> list[list[str]] | None:
    """[name under /sys/fs/cgroup, host directory] per v1 hierarchy (its mount point's name; co-mounted
    controllers share one), or None on a pure v2 host (the init mounts cgroup2 once it is in its
    cgroup namespace)."""
    if set(cgroup.paths) == {detect.UNIFIED}:
        return None
    binds = {os.path.basename(cgroup.mountpoints[key]) or detect.UNIFIED: directory
             for key, directory in cgroup.paths.items()}
    return [[name, directory] for name, directory in binds.items()]


def _now() -> str:
    """RFC 3339 UTC with nanoseconds, as runc records `created` (datetime costs start-up time)."""
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000)) + f".{ns % 1_000_000_000:09d}Z"


def _check_unused(cgroup, container_id: str) -> None:
    """Two containers in one cgroup would kill each other on delete: refuse a busy one."""
    first = next(iter(cgroup.paths.values()), None)
    if first and os.path.isdir(first) and cgroup.pids():
        raise Conflict(f"cgroup {first} already holds processes: give container {container_id} "
                       "its own linux.cgroupsPath")


def _kept_hooks(hooks: dict) -> dict:
    """The hooks later verbs run (start: poststart, delete: poststop)."""
    return {kind: hooks[kind] for kind in ("poststart", "poststop") if hooks.get(kind)}


def _host_id(mappings) -> int:
    """The host id of the container's root: the init opens the exec fifo as that user."""
    for m in mappings:
        if m.container_id <= 0 < m.container_id + m.size:
            return m.host_id - m.container_id
    return 0

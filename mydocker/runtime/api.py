"""The runtime as the engine sees it: every call the engine makes into runtime/ goes through here.

The runtime's verbs (create, start, state, kill, delete, exec, wait, pause/resume, update, stats) on
a runtime root and a container id, as `mydocker-runtime` offers them on its command line, plus the
few helpers the engine shares with the runtime (signal names, capability names, path resolution
inside a rootfs, the fd-passing channel, the terminal relay). tests/unit/test_layering.py holds the
engine to this module. Importing it costs nothing: each verb's module loads on first call.
"""

from __future__ import annotations

from mydocker.lazy import lazy_module

TYPE_CHECKING = False  # type checkers read it as True; `typing` itself costs 8 ms to import
if TYPE_CHECKING:
    from mydocker.runtime.channel import Channel
    from mydocker.runtime.exec import ExecProcess
    from mydocker.runtime.process import InitProcess
    from mydocker.runtime.state_file import State

_caps = lazy_module("mydocker.runtime.caps")
_channel = lazy_module("mydocker.runtime.channel")
_create = lazy_module("mydocker.runtime.create")
_delete = lazy_module("mydocker.runtime.delete")
_exec = lazy_module("mydocker.runtime.exec")
_foreground = lazy_module("mydocker.runtime.foreground")
_kill = lazy_module("mydocker.runtime.kill")
_pause = lazy_module("mydocker.runtime.pause")
_paths = lazy_module("mydocker.runtime.paths")
_prewarm = lazy_module("mydocker.runtime.prewarm")
_process = lazy_module("mydocker.runtime.process")
_spec = lazy_module("mydocker.runtime.oci_config")
_start = lazy_module("mydocker.runtime.start")
_state = lazy_module("mydocker.runtime.state_file")
_stats = lazy_module("mydocker.runtime.stats")
_status = lazy_module("mydocker.runtime.state_view")
_idmap = lazy_module("mydocker.runtime.idmap")
_update = lazy_module("mydocker.runtime.update")


# verbs

def create(root: str, container_id: str, bundle: str, config: dict,
           stdio: tuple[int, int, int] | None = None, checked: bool = False) -> tuple[State, InitProcess]:
    """`create` from a config.json already read (`config`), checked against the runtime-spec schema
    as a config.json on disk is, unless `checked`: the caller built it and its tests hold that
    builder to the schema (the engine's configs); the init is left blocked before the user's
    command. Rootless as `mydocker-runtime --rootless auto` is: not the host's root (the rootless
    engine runs as root of the user's namespace), so no cgroup of its own where it may not make one."""
    options = _create.CreateOptions(rootless=_status.unprivileged(), checked=checked)
    return _create.create(root, container_id, bundle, spec=_spec.Spec.from_dict(config, bundle), stdio=stdio,
                          options=options)


def start(root: str, container_id: str) -> State:
    """Release a created container's init into the user's command."""
    return _start.start(root, container_id)


def state(root: str, container_id: str) -> State:
    """The recorded state (raises NotFound)."""
    return _state.load(root, container_id)


def status(root: str, recorded: State) -> str:
    """What the recorded container is now: creating, created, running, paused or stopped."""
    return _status.status(root, recorded)


def kill(root: str, container_id: str, sig: int) -> None:
    _kill.kill(root, container_id, sig)


def delete(root: str, container_id: str, force: bool = False) -> None:
    """Remove the container's state and cgroup; with `force`, kill it first, and a container that
    does not exist is no error."""
    _delete.delete(root, container_id, force=force)


def exec_process(root: str, container_id: str, process: dict, stdio: tuple[int, int, int] | None = None,
                 detach: bool = False) -> ExecProcess:
    """Start an OCI process object in the running container (wait for it with wait_for_exit)."""
    return _exec.exec_process(root, container_id, process, stdio=stdio, detach=detach)


def wait_for_exit(pid: int) -> int:
    """Reap our child (or, as subreaper, the init) and its orphans; the exit code as Docker reports it."""
    return _process.wait_for_exit(pid)


def pause(root: str, container_id: str) -> None:
    _pause.pause(root, container_id)


def resume(root: str, container_id: str) -> None:
    _pause.resume(root, container_id)


def update(root: str, container_id: str, resources: dict) -> None:
    """Apply an OCI linux.resources object to the running container's cgroup."""
    _update.update(root, container_id, resources)


def cgroup(root: str, container_id: str):
    """The container's cgroup, for reading its statistics."""
    return _stats.container_cgroup(root, container_id)


def oom_killed(root: str, container_id: str) -> bool:
    """Did the OOM killer end a process of the container (read before its cgroup goes)?"""
    return _stats.oom_killed(root, container_id)


# running in the foreground

def become_subreaper() -> None:
    """Before a foreground container's init is forked: it is reparented to us, and we reap it."""
    _foreground.become_subreaper()


def run_foreground(pid: int, console: int | None, start=None, stdin: int | None = None, stdout: int = 1,
                   raw: bool = False, terminal: int | None = None, sig_proxy: bool = True,
                   resize: int | None = None, tee=None, pipes: list[tuple[int, int | None, str]] | None = None,
                   eof_as_ctrl_d: bool = True, detach=None, on_detach=None) -> int:
    """The one foreground run (mydocker-runtime run/exec use it too): start the process, forward our
    signals to it, relay its console (or its output `pipes`) to the caller's fds (raw mode, window
    size, resize events), `tee` hearing the output too, and return its exit code as Docker reports
    it; `detach`, `on_detach`: a caller that detaches while the process runs on (DETACHED). See
    runtime/foreground.run_foreground."""
    return _foreground.run_foreground(pid, console, start, stdin=stdin, stdout=stdout, raw=raw, terminal=terminal,
                                      sig_proxy=sig_proxy, resize=resize, tee=tee, pipes=pipes,
                                      eof_as_ctrl_d=eof_as_ctrl_d, detach=detach, on_detach=on_detach)

DETACHED = -1  # = runtime/foreground.DETACHED (not imported here: foreground loads lazily)


def prewarm_attach_lock() -> int | None:
    """Start the kernel's wait for the cgroup attach lock now, in parallel with our own start-up."""
    return _prewarm.prewarm_attach_lock()


def prewarm_once() -> int | None:
    """One no-op move now, by a shell that exits after it (its pid, to reap): for a process that
    knows a container will move into its cgroups elsewhere soon."""
    return _prewarm.move_once()


def prewarm_kick() -> None:
    """A container is about to move into its cgroups elsewhere (the monitor's worker): start that
    wait again now (no-op without prewarm_attach_lock; `create` kicks by itself)."""
    _prewarm.kick()


# helpers shared with the runtime

def parse_signal(value: str | int) -> int:
    """A signal by number or name (KILL, SIGKILL, 9); InvalidArgument otherwise."""
    return _kill.parse_signal(value)


def capability_names() -> tuple[str, ...]:
    """Every capability the runtime knows, without the CAP_ prefix, in number order."""
    return tuple(_caps.NAMES)


def process_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks (None when it is gone): with the pid, names one process."""
    return _status.process_start_time(pid)


def resize_terminal(pid: int, start_time: int | None, rows: int, cols: int) -> None:
    """Set the window size of process `pid`'s terminal (its stdin, a pty slave) from any process: the
    kernel tells its foreground group (SIGWINCH). Nothing for a process without a terminal; Conflict
    when `pid` is gone or is not the process started at `start_time` any more."""
    import os
    from mydocker.errors import Conflict
    from mydocker.linux.tty import set_winsize
    try:
        fd = os.open(f"/proc/{pid}/fd/0", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise Conflict(f"process {pid} is not running: nothing to resize") from None
    try:
        if _status.process_start_time(pid) != start_time:
            raise Conflict(f"process {pid} is not running: nothing to resize")
        if os.isatty(fd):
            set_winsize(fd, rows, cols)
    finally:
        os.close(fd)


def secure_join(root: str, unsafe: str) -> str:
    """root/unsafe with every symlink resolved inside root, as the container will see it."""
    return _paths.secure_join(root, unsafe)


def channel_pair() -> tuple[Channel, Channel]:
    """A connected pair of message channels that carry fds (the monitor's start-up handshake)."""
    return _channel.Channel.pair()


def channel(sock) -> Channel:
    """A message channel over a connected unix socket."""
    return _channel.Channel(sock)


def write_id_maps(pid: int, uid_maps: list[tuple[int, int, int]], gid_maps: list[tuple[int, int, int]]) -> None:
    """Map the new user namespace of process `pid`: (inside, host, size) triples, written directly
    by root or for the caller's own id, else through newuidmap/newgidmap (the rootless engine's
    pause process)."""
    def records(maps):
        return [_spec.IDMapping(container_id=a, host_id=b, size=c) for a, b, c in maps]
    _idmap.write_id_maps(pid, records(uid_maps), records(gid_maps))


def subordinate_ranges(path: str, user: str | None, uid: int) -> list[tuple[int, int]]:
    """(start, count) of the lines of /etc/subuid or /etc/subgid naming the user or its uid."""
    return _idmap.subordinate_ranges(path, user, uid)

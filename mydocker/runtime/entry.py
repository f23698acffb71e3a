"""`mydocker-runtime`'s entry point: `state` and `kill` on fast paths, everything else through cli.main.

containerd, podman and dockerd call `state` after nearly every operation. On a plain
`[global flags] state ID` this answers with builtin modules only (posix): no `os`, no JSON parser
(it reads the view every save pre-renders), no flag parser. Anything else, and every error, goes
to cli.main, which says what is wrong.

`kill ID N` (N a number) of a created, running or paused container is answered here too, the same
way (the view's header holds the pid and its start time), and `kill --all ID N` of a stopped one
with nothing left in its cgroups: containerd's shim sends both for every container it stops. Anything
else (a name for the signal, a stopped or missing container, a process left, an error) goes to
cli.main, which decides again from the start and says what is wrong.

A foreground `run` (not `-d`, not `--preserve-fds`) is handed to the runtime's fork server when one
is listening (mydocker/runtime/forkserver.py): this process then only waits for its status.

`delete --force ID` of a container that is not there is answered here too (exit 0, as runc): every
task containerd's shim ends is force-deleted once more after its `delete`, while the shim cleans up.

Every other command (create, run, exec, ...) loads its ~40 modules from the package's one file of
compiled code (mydocker/codecache.py), opened only once no fast path answers: `state` and the quick
`kill` load four modules and would pay more to open it than it saves.
"""

import sys

# The global flags runc's clients pass before the verb, and whether each takes a value.
_GLOBALS = {"--root": True, "--log": True, "--log-format": True, "--debug": False,
            "--systemd-cgroup": False, "--rootless": True}


def _after_globals(argv: list[str]) -> tuple[str, int] | None:
    """(root, index of the verb) when argv starts with known global flags only, else None."""
    from mydocker.runtime.state_view import DEFAULT_ROOT
    root, i = DEFAULT_ROOT, 0
    while i < len(argv) and argv[i].startswith("--"):
        name, eq, value = argv[i].partition("=")
        takes_value = _GLOBALS.get(name)
        if takes_value is None or (eq and not takes_value):
            return None
        if takes_value and not eq:
            i += 1
            if i >= len(argv):
                return None
            value = argv[i]
        if name == "--root":
            root = value
        i += 1
    return root, i


def state_request(argv: list[str]) -> tuple[str, str] | None:
    """(root, id) when argv is exactly `[globals] state ID`, else None."""
    found = _after_globals(argv)
    if found is None:
        return None
    root, i = found
    if argv[i:i + 1] != ["state"] or len(argv) != i + 2 or argv[i + 1].startswith("-"):
        return None
    return root, argv[i + 1]


def forced_delete_request(argv: list[str]) -> tuple[str, str] | None:
    """(root, id) when argv is exactly `[globals] delete --force ID` (or -f), else None."""
    found = _after_globals(argv)
    if found is None:
        return None
    root, i = found
    if argv[i:i + 1] != ["delete"] or len(argv) != i + 3 or argv[i + 1] not in ("--force", "-f"):
        return None
    return None if argv[i + 2].startswith("-") else (root, argv[i + 2])


def kill_request(argv: list[str]) -> tuple[str, str, int, bool] | None:
    """(root, id, signal, --all) when argv is exactly `[globals] kill [--all] ID N`, N a signal
    number, else None."""
    found = _after_globals(argv)
    if found is None:
        return None
    root, i = found
    if argv[i:i + 1] != ["kill"]:
        return None
    every = argv[i + 1:i + 2] in (["--all"], ["-a"])
    i += every
    if len(argv) != i + 3 or argv[i + 1].startswith("-"):
        return None
    number = argv[i + 2]
    if not (number.isascii() and number.isdigit()):
        return None  # names (and signal 0, below) are the full path's
    import _signal
    return (root, argv[i + 1], int(number), every) if 1 <= int(number) < _signal.NSIG else None


def quick_kill(root: str, container_id: str, sig: int, every: bool = False) -> bool:
    """True once kill.kill's work is done: `sig` sent to the init of a created, running or paused
    container, or, with --all, a stopped container found with nothing left in its cgroups. False, with
    nothing sent, when cli.main should answer."""
    import _signal
    import posix
    from mydocker.runtime import state_view
    if not root or not state_view.valid_id(container_id):
        return False
    try:
        live = state_view.read_live(root, container_id)
    except (OSError, ValueError):
        return False
    current = state_view.status(root, live)
    if every:  # containerd's kill --all before it deletes an exited task: usually nothing is left
        return current == "stopped" and _nothing_left(root, container_id)
    if current not in ("created", "running", "paused"):
        return False
    try:
        pidfd = posix.pidfd_open(live.pid)  # pins the process: no signal to a reused pid
    except OSError:
        return False
    try:  # the pidfd's process is the init only if it still has the init's start time
        if state_view.process_start_time(live.pid) != live.pid_start:
            return False
        _signal.pidfd_send_signal(pidfd, sig)
    except OSError:
        return False  # exited since: cli.main says "container not running"
    finally:
        posix.close(pidfd)
    return True


def _nothing_left(root: str, container_id: str) -> bool:
    """True when every cgroup directory of the container is gone or a leaf without processes; False
    when unsure (sub-groups, a process, no record): then cli.main looks and signals."""
    import posix
    from mydocker import jsonio
    from mydocker.runtime import state_view
    try:
        record = jsonio.loads(state_view.read_small(f"{root}/{container_id}/state.json"))
        directories = set((record.get("cgroup_paths") or {}).values())
    except (OSError, ValueError, AttributeError):
        return False
    for directory in directories:
        try:
            if posix.stat(directory).st_nlink != 2:
                return False  # sub-groups: cgroupfs (kernfs) counts a directory's subdirectories as links
            if state_view.read_small(f"{directory}/cgroup.procs").strip():
                return False
        except FileNotFoundError:
            continue  # removed: nothing in it
        except OSError:
            return False
    return True


def gone(root: str, container_id: str) -> bool:
    """True when the container surely does not exist: a valid id without a state directory."""
    import posix
    from mydocker.runtime import state_view
    if not root or not state_view.valid_id(container_id):
        return False
    try:
        posix.stat(f"{root}/{container_id}")
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return False


def quick_state(root: str, container_id: str) -> str | None:
    """The pretty state JSON from the container's view file (state_view.VIEW), or None when the slow
    path should answer (bad id, no such container, a view not written yet, ...)."""
    from mydocker.runtime import state_view
    if not root or not state_view.valid_id(container_id):
        return None
    try:
        return state_view.render_view(root, container_id,
                                      state_view.read_small(f"{root}/{container_id}/{state_view.VIEW}").decode())
    except (OSError, ValueError):
        return None


# `run`'s flags, and whether each takes a value (runtime/cli.py): anything else, and a detached run or
# fds to pass (--preserve-fds: the caller's own, which a fork server has not got), runs in this process.
_RUN_FLAGS = {"-b": True, "--bundle": True, "--pid-file": True, "--console-socket": True, "--no-pivot": False,
              "--no-new-keyring": False, "--keep": False}


def foreground_run(argv: list[str]) -> bool:
    """True when argv is `[globals] run [flags] ID` with flags a fork server can run it with: one that
    waits for its container (the init is then the served child's, for as long as anyone can see)."""
    found = _after_globals(argv)
    if found is None or argv[found[1]:found[1] + 1] != ["run"]:
        return False
    i, ids = found[1] + 1, 0
    while i < len(argv):
        name, eq, _value = argv[i].partition("=")
        if name == "--preserve-fds" and eq:
            if _value != "0":
                return False
        elif name == "--preserve-fds":
            i += 1
            if argv[i:i + 1] != ["0"]:
                return False
        elif name.startswith("-") and name != "-":
            takes_value = _RUN_FLAGS.get(name)
            if takes_value is None or (eq and not takes_value):
                return False
            i += takes_value and not eq
        else:
            ids += 1
        i += 1
    return ids == 1


def creates(argv: list[str]) -> bool:
    """True when argv is `[globals] create|run ...`: no fast path answers it (and a foreground run may
    go to the fork server), so the code cache opens first."""
    found = _after_globals(argv)
    return found is not None and argv[found[1]:found[1] + 1] in (["create"], ["run"])


def use_code_cache() -> bool:
    """Answer the rest of the package's imports from its code cache file; False when there is none."""
    from mydocker import codecache
    return codecache.enable(sys.modules["mydocker"].__path__[0])


def run_main() -> None:
    slow = creates(sys.argv[1:])
    if slow:
        if foreground_run(sys.argv[1:]):  # a warm process runs it, if one is there: we exit with its status
            from mydocker import forkserver_client
            forkserver_client.serve(sys.modules["mydocker"].__path__[0], forkserver_client.RUNTIME)
        use_code_cache()
    forced = forced_delete_request(sys.argv[1:])
    if forced and gone(*forced):
        import posix
        posix._exit(0)  # nothing to delete: runc succeeds quietly too
    signalled = kill_request(sys.argv[1:])
    if signalled and quick_kill(*signalled):
        import posix
        posix._exit(0)
    request = state_request(sys.argv[1:])
    answer = quick_state(*request) if request else None
    if answer is not None:
        import posix
        data = (answer + "\n").encode()
        try:
            while data:  # straight to fd 1, then _exit: nothing is buffered, nothing to finalize
                data = data[posix.write(1, data):]
        except OSError:  # the reader went away
            posix._exit(1)
        posix._exit(0)
    if not slow:
        use_code_cache()
    from mydocker import collector
    collector.pause()
    from mydocker.runtime.cli import run_main as full
    full()


def run_served() -> None:
    """A fork server's child runs a client's `run` (mydocker/runtime/forkserver.py): the modules are loaded."""
    from mydocker import collector
    collector.pause()
    from mydocker.runtime.cli import run_main as full
    full()

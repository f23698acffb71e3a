"""`mydocker-runtime`'s entry point: `state` on a fast path, everything else through cli.main.

containerd, podman and dockerd call `state` after nearly every operation. On a plain
`[global flags] state ID` this answers with builtin modules only (posix): no `os`, no JSON parser
(it reads the view every save pre-renders), no flag parser. Anything else, and every error, goes
to cli.main, which says what is wrong.

`delete --force ID` of a container that is not there is answered here too (exit 0, as runc): every
task containerd's shim ends is force-deleted once more after its `delete`, while the shim cleans up.
"""

import sys

# The global flags runc's clients pass before the verb, and whether each takes a value.
_GLOBALS = {"--root": True, "--log": True, "--log-format": True, "--debug": False,
            "--systemd-cgroup": False, "--rootless": True}


def _after_globals(argv: list[str]) -> tuple[str, int] | None:
    """(root, index of the verb) when argv starts with known global flags only, else None."""
    from mydocker.runtime.status import DEFAULT_ROOT
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


def gone(root: str, container_id: str) -> bool:
    """True when the container surely does not exist: a valid id without a state directory."""
    import posix
    from mydocker.runtime import status
    if not root or not status.valid_id(container_id):
        return False
    try:
        posix.stat(f"{root}/{container_id}")
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return False


def quick_state(root: str, container_id: str) -> str | None:
    """The pretty state JSON from the container's view file (status.VIEW), or None when the slow
    path should answer (bad id, no such container, a view not written yet, ...)."""
    from mydocker.runtime import status
    if not root or not status.valid_id(container_id):
        return None
    try:
        return status.render_view(root, container_id, status.read_small(f"{root}/{container_id}/{status.VIEW}").decode())
    except (OSError, ValueError):
        return None


def run_main() -> None:
    forced = forced_delete_request(sys.argv[1:])
    if forced and gone(*forced):
        import posix
        posix._exit(0)  # nothing to delete: runc succeeds quietly too
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
    from mydocker import collector
    collector.pause()
    from mydocker.runtime.cli import run_main as full
    full()

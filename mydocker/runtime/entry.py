"""`mydocker-runtime`'s entry point: `state` on a fast path, everything else through cli.main.

containerd, podman and dockerd call `state` after nearly every operation. On a plain
`[global flags] state ID` this answers with builtin modules only (posix): no `os`, no JSON parser
(it reads the view every save pre-renders), no flag parser. Anything else, and every error, goes
to cli.main, which says what is wrong.
"""

import sys

# The global flags runc's clients pass before the verb, and whether each takes a value.
_GLOBALS = {"--root": True, "--log": True, "--log-format": True, "--debug": False,
            "--systemd-cgroup": False, "--rootless": True}


def state_request(argv: list[str]) -> tuple[str, str] | None:
    """(root, id) when argv is exactly `[globals] state ID`, else None."""
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
    if argv[i:i + 1] != ["state"] or len(argv) != i + 2 or argv[i + 1].startswith("-"):
        return None
    return root, argv[i + 1]


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

"""`mydocker-runtime`'s entry point: `state` on a fast path, everything else through cli.main.

containerd, podman and dockerd call `state` after nearly every operation. On a plain
`[global flags] state ID` this answers with builtin modules only (posix, _json): no `os`, no flag
parser. Anything else, and every error, goes to cli.main, which says what is wrong.
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
    """The pretty state JSON, or None when the slow path should answer (bad id, no record, ...)."""
    from mydocker import jsonio
    from mydocker.runtime import status
    if not root or not status.valid_id(container_id):
        return None
    try:
        record = jsonio.load_file(f"{root}/{container_id}/state.json")
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    fields = _Fields()
    fields.__dict__.update(_DEFAULTS)
    fields.__dict__.update(record)
    try:
        return jsonio.pretty(status.oci_state(root, fields))
    except (TypeError, ValueError, AttributeError):
        return None


class _Fields:
    """A state.json record read as attributes, without building the State record (see state.py)."""


_DEFAULTS = {"pid": 0, "pid_start": 0, "created": "", "annotations": {}, "rootfs": "", "paused": False}


def run_main() -> None:
    request = state_request(sys.argv[1:])
    answer = quick_state(*request) if request else None
    if answer is not None:
        from mydocker.exit import exit_now
        sys.stdout.write(answer + "\n")
        exit_now(0)
    from mydocker.runtime.cli import run_main as full
    full()

"""`mydocker-runtime`: the OCI runtime with runc's command line (create, start, state, kill, delete, run, list)."""

from __future__ import annotations

import json
import os
import sys

from mydocker.errors import MyDockerError

DEFAULT_ROOT = "/run/mydocker-runtime"


def build_parser():
    from mydocker.cli.parser import new_parser
    p = new_parser("mydocker-runtime", "An OCI runtime in Python, runc-compatible.")
    p.add_argument("--root", default=DEFAULT_ROOT, help=f"state directory (default {DEFAULT_ROOT})")
    p.add_argument("--log", help="log file (accepted)")
    p.add_argument("--log-format", choices=("text", "json"), default="text")
    p.add_argument("--debug", action="store_true")
    p.add_argument("--systemd-cgroup", action="store_true", help="accepted; cgroupfs is used")
    p.add_argument("-v", "--version", action="store_true")
    sub = p.add_subparsers(dest="verb", metavar="COMMAND", parser_class=type(p))
    for verb in ("create", "run"):
        c = sub.add_parser(verb, help=f"{verb} a container")
        c.add_argument("-b", "--bundle", default=".")
        c.add_argument("--pid-file")
        c.add_argument("--console-socket")
        c.add_argument("--no-pivot", action="store_true")
        c.add_argument("--no-new-keyring", action="store_true")
        c.add_argument("--preserve-fds", type=int, default=0)
        if verb == "run":
            c.add_argument("-d", "--detach", action="store_true")
        c.add_argument("id")
    for verb in ("start", "state"):
        sub.add_parser(verb, help=f"{verb} a container").add_argument("id")
    k = sub.add_parser("kill", help="signal a container's init")
    k.add_argument("-a", "--all", action="store_true")
    k.add_argument("id")
    k.add_argument("signal", nargs="?", default="SIGTERM")
    d = sub.add_parser("delete", help="delete a container")
    d.add_argument("-f", "--force", action="store_true")
    d.add_argument("id")
    ls = sub.add_parser("list", help="list containers")
    ls.add_argument("-f", "--format", choices=("table", "json"), default="table")
    ls.add_argument("-q", "--quiet", action="store_true")
    return p


def _create(args, detach_stdio: bool = False):
    from mydocker.runtime.create import create
    _state, init = create(args.root, args.id, args.bundle)
    if init.console_fd is not None:
        if args.console_socket:
            _send_console(args.console_socket, init.console_fd)
        os.close(init.console_fd)
    if args.pid_file:
        tmp = args.pid_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(init.pid))
        os.rename(tmp, args.pid_file)
    return init


def _send_console(path: str, fd: int) -> None:
    import socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)
        socket.send_fds(s, [b"console"], [fd])


def dispatch(args) -> int:
    from mydocker.runtime import state as st
    if args.verb == "create":
        _create(args)
    elif args.verb == "start":
        from mydocker.runtime.start import start
        start(args.root, args.id)
    elif args.verb == "state":
        print(json.dumps(st.oci_state(args.root, st.load(args.root, args.id)), indent=2))
    elif args.verb == "kill":
        from mydocker.runtime.kill import kill, parse_signal
        kill(args.root, args.id, parse_signal(args.signal))
    elif args.verb == "delete":
        from mydocker.runtime.delete import delete
        delete(args.root, args.id, force=args.force)
    elif args.verb == "list":
        _list(args)
    elif args.verb == "run":
        return _run(args)
    return 0


def _run(args) -> int:
    from mydocker.linux import syscalls as sc
    from mydocker.runtime.delete import delete
    from mydocker.runtime.process import wait_for_exit
    from mydocker.runtime.start import start
    if not args.detach:
        sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
    init = _create(args)
    start(args.root, args.id)
    if args.detach:
        return 0
    from mydocker.engine.attach import forward_signals
    with forward_signals(init.pid):
        code = wait_for_exit(init.pid)
    delete(args.root, args.id, force=True)
    return code


def _list(args) -> None:
    from mydocker.runtime import state as st
    states = [st.oci_state(args.root, st.load(args.root, i)) for i in st.list_ids(args.root)]
    if args.format == "json":
        print(json.dumps(states))
    elif args.quiet:
        print("\n".join(s["id"] for s in states))
    else:
        print(f"{'ID':<24}{'PID':<10}{'STATUS':<10}BUNDLE")
        for s in states:
            print(f"{s['id']:<24}{s['pid']:<10}{s['status']:<10}{s['bundle']}")


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
        if args.version:
            print("mydocker-runtime version 0.1.0\nspec: 1.0.2")
            return 0
        if not args.verb:
            build_parser().print_help()
            return 0
        return dispatch(args)
    except MyDockerError as e:
        print(f"mydocker-runtime: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"mydocker-runtime: {e.strerror or e}{f': {e.filename}' if e.filename else ''}", file=sys.stderr)
        return 1


def run_main() -> None:
    sys.exit(main())

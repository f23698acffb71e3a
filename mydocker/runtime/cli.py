"""`mydocker-runtime`: the OCI runtime with runc's command line.

Verbs: create, start, state, kill, delete, run, list. Exit status 0 on success, 1 on error (runc's).
"""

from __future__ import annotations

import json
import os
import sys

from mydocker.cli.flags import Command, UsageError, check_args, parse
from mydocker.errors import MyDockerError

PROG = "mydocker-runtime"
DEFAULT_ROOT = "/run/mydocker-runtime"


def _create_flags(cmd: Command) -> Command:
    return (cmd.flag("-b", "--bundle", kind="str", metavar="DIR", default=".", help="the bundle directory")
            .flag("--pid-file", kind="str", metavar="FILE", help="write the init's pid here")
            .flag("--console-socket", kind="str", metavar="PATH", help="send the pty master to this socket")
            .flag("--no-pivot", help="accepted")
            .flag("--no-new-keyring", help="accepted")
            .flag("--preserve-fds", kind="int", default=0, metavar="N", help="pass N extra fds"))


def commands() -> dict[str, Command]:
    return {
        "create": _create_flags(Command("create", "create a container", usage="create [OPTIONS] ID",
                                        min_args=1, max_args=1)),
        "run": _create_flags(Command("run", "create and start a container", usage="run [OPTIONS] ID",
                                     min_args=1, max_args=1)).flag("-d", "--detach", help="do not wait"),
        "start": Command("start", "start a created container", usage="start ID", min_args=1, max_args=1),
        "state": Command("state", "print a container's state as JSON", usage="state ID", min_args=1, max_args=1),
        "kill": Command("kill", "signal a container's init", usage="kill [OPTIONS] ID [SIGNAL]",
                        min_args=1, max_args=2).flag("-a", "--all", help="all processes"),
        "delete": Command("delete", "delete a container", usage="delete [OPTIONS] ID",
                          min_args=1, max_args=1).flag("-f", "--force", help="kill it first if running"),
        "list": Command("list", "list containers", usage="list [OPTIONS]", max_args=0)
        .flag("-f", "--format", kind="str", default="table", metavar="table|json")
        .flag("-q", "--quiet", help="ids only"),
    }


def root_command() -> Command:
    cmd = Command("", "An OCI runtime in Python, runc-compatible.", usage="[GLOBAL OPTIONS] COMMAND", interspersed=False)
    cmd.flag("--root", kind="str", metavar="DIR", default=DEFAULT_ROOT, help=f"state directory (default {DEFAULT_ROOT})")
    cmd.flag("--log", kind="str", metavar="FILE", help="log file")
    cmd.flag("--log-format", kind="str", default="text", metavar="text|json")
    cmd.flag("--debug", help="more logging")
    cmd.flag("--systemd-cgroup", help="accepted; cgroupfs is used")
    cmd.flag("-v", "--version", help="print the version")
    return cmd


def _create(root: str, cid: str, opts):
    from mydocker.runtime.create import create
    _state, init = create(root, cid, opts.bundle)
    if init.console_fd is not None:
        if opts.console_socket:
            _send_console(opts.console_socket, init.console_fd)
        os.close(init.console_fd)
    if opts.pid_file:
        tmp = opts.pid_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(init.pid))
        os.rename(tmp, opts.pid_file)
    return init


def _send_console(path: str, fd: int) -> None:
    import socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)
        socket.send_fds(s, [b"console"], [fd])


def dispatch(verb: str, root: str, opts, args: list[str]) -> int:
    from mydocker.runtime import state as st
    if verb == "create":
        _create(root, args[0], opts)
    elif verb == "start":
        from mydocker.runtime.start import start
        start(root, args[0])
    elif verb == "state":
        print(json.dumps(st.oci_state(root, st.load(root, args[0])), indent=2))
    elif verb == "kill":
        from mydocker.runtime.kill import kill, parse_signal
        kill(root, args[0], parse_signal(args[1] if len(args) > 1 else "SIGTERM"))
    elif verb == "delete":
        from mydocker.runtime.delete import delete
        delete(root, args[0], force=opts.force)
    elif verb == "list":
        _list(root, opts)
    elif verb == "run":
        return _run(root, args[0], opts)
    return 0


def _run(root: str, cid: str, opts) -> int:
    from mydocker.linux import syscalls as sc
    from mydocker.runtime.delete import delete
    from mydocker.runtime.process import wait_for_exit
    from mydocker.runtime.start import start
    if not opts.detach:
        sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
    init = _create(root, cid, opts)
    start(root, cid)
    if opts.detach:
        return 0
    from mydocker.engine.attach import forward_signals
    with forward_signals(init.pid):
        code = wait_for_exit(init.pid)
    delete(root, cid, force=True)
    return code


def _list(root: str, opts) -> None:
    from mydocker.runtime import state as st
    states = [st.oci_state(root, st.load(root, i)) for i in st.list_ids(root)]
    if opts.format == "json":
        print(json.dumps(states))
    elif opts.quiet:
        print("\n".join(s["id"] for s in states))
    else:
        print(f"{'ID':<24}{'PID':<10}{'STATUS':<10}BUNDLE")
        for s in states:
            print(f"{s['id']:<24}{s['pid']:<10}{s['status']:<10}{s['bundle']}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        top = root_command()
        glob, rest = parse(top, argv, PROG)
        if glob.version:
            print("mydocker-runtime version 0.1.0\nspec: 1.0.2")
            return 0
        verbs = commands()
        if not rest or glob.get("help"):
            top.subcommands = verbs
            sys.stdout.write(top.help_text(PROG))
            return 0
        verb, args = rest[0], rest[1:]
        if verb not in verbs:
            raise UsageError(f"unknown command: {verb!r}. See '{PROG} --help'.")
        opts, positionals = parse(verbs[verb], args, PROG)
        if opts.get("help"):
            sys.stdout.write(verbs[verb].help_text(PROG))
            return 0
        check_args(verbs[verb], positionals, PROG)
        return dispatch(verb, glob.root, opts, positionals)
    except MyDockerError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"{PROG}: {e.strerror or e}{f': {e.filename}' if e.filename else ''}", file=sys.stderr)
        return 1


def run_main() -> None:
    sys.exit(main())

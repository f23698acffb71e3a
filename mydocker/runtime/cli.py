"""`mydocker-runtime`: the OCI runtime with runc's command line.

Verbs: create, start, state, kill, delete, run, exec, list, ps, pause, resume, events, update, spec,
features. Exit status 0 on success, 1 on error (runc's; `run` returns the container's status).
Errors go to stderr, and to --log (text, or JSON lines as containerd and podman read them).
"""

from __future__ import annotations

import os
import sys

from mydocker.errors import InvalidArgument, MyDockerError, describe
from mydocker.flags import Command, UsageError, check_args, parse
from mydocker import jsonio
from mydocker.lazy import lazy_module
from mydocker.runtime import state_view

# Each verb's module loads when the verb runs (start-up budget: docs/startup.md).
_socket = lazy_module("_socket")
time = lazy_module("time")
mydocker_exit = lazy_module("mydocker.exit")
sc = lazy_module("mydocker.linux.syscalls")
cgroups = lazy_module("mydocker.runtime.cgroups")
channel = lazy_module("mydocker.runtime.channel")
create = lazy_module("mydocker.runtime.create")
delete = lazy_module("mydocker.runtime.delete")
events = lazy_module("mydocker.runtime.events")
runtime_exec = lazy_module("mydocker.runtime.exec")
features = lazy_module("mydocker.runtime.features")
foreground = lazy_module("mydocker.runtime.foreground")
kill = lazy_module("mydocker.runtime.kill")
pause = lazy_module("mydocker.runtime.pause")
prewarm = lazy_module("mydocker.runtime.prewarm")
runtime_process = lazy_module("mydocker.runtime.process")  # not `process`: a local name in _exec_process
ps = lazy_module("mydocker.runtime.ps")
spec_template = lazy_module("mydocker.runtime.spec_template")
start = lazy_module("mydocker.runtime.start")
st = lazy_module("mydocker.runtime.state_file")
update = lazy_module("mydocker.runtime.update")

PROG = "mydocker-runtime"
VERSION = "0.1.0"
DEFAULT_ROOT = state_view.DEFAULT_ROOT
_ROOTLESS = False  # --rootless, resolved by main


def _create_flags(cmd: Command) -> Command:
    return (cmd.flag("-b", "--bundle", kind="str", metavar="DIR", default=".", help="the bundle directory")
            .flag("--pid-file", kind="str", metavar="FILE", help="write the init's pid here")
            .flag("--console-socket", kind="str", metavar="PATH", help="send the pty master to this socket")
            .flag("--no-pivot", help="move the rootfs over / instead of pivot_root (rootfs on ramfs)")
            .flag("--no-new-keyring", help="keep the caller's session keyring")
            .flag("--preserve-fds", kind="int", default=0, metavar="N", help="pass fds 3 to 3+N-1 to the container"))


def _update_command() -> Command:
    cmd = Command("update", "update a container's resource limits", usage="update [OPTIONS] ID",
                  min_args=1, max_args=1)
    cmd.flag("-r", "--resources", kind="str", metavar="FILE", help="linux.resources JSON ('-' for stdin)")
    for name, help_text in (("--blkio-weight", "block IO weight (10-1000)"), ("--cpu-period", "CPU CFS period (µs)"),
                            ("--cpu-quota", "CPU CFS quota (µs)"), ("--cpu-share", "CPU shares"),
                            ("--cpu-rt-period", "CPU realtime period"), ("--cpu-rt-runtime", "CPU realtime runtime"),
                            ("--cpuset-cpus", "CPUs to use"), ("--cpuset-mems", "memory nodes to use"),
                            ("--memory", "memory limit"), ("--memory-reservation", "memory soft limit"),
                            ("--memory-swap", "memory plus swap limit"), ("--pids-limit", "process limit")):
        cmd.flag(name, kind="str", metavar="VALUE", help=help_text)
    for name in ("--kernel-memory", "--kernel-memory-tcp", "--l3-cache-schema", "--mem-bw-schema"):
        cmd.flag(name, kind="str", metavar="VALUE", help="accepted for runc compatibility; refused if set")
    return cmd


def commands() -> dict[str, Command]:
    """Every verb's command (for --help); `command(verb)` builds just one, on the hot path."""
    return {verb: command(verb) for verb in VERBS}


VERBS = ("create", "run", "start", "state", "kill", "delete", "list", "ps", "pause", "resume", "events",
         "update", "exec", "spec", "features")


def command(verb: str) -> Command:
    one = {"min_args": 1, "max_args": 1}
    if verb == "state":
        return Command("state", "print a container's state as JSON", usage="state ID", **one)
    if verb == "create":
        return _create_flags(Command("create", "create a container", usage="create [OPTIONS] ID", **one))
    if verb == "start":
        return Command("start", "start a created container", usage="start ID", **one)
    if verb == "kill":
        return Command("kill", "signal a container's init", usage="kill [OPTIONS] ID [SIGNAL]",
                       min_args=1, max_args=2).flag("-a", "--all", help="signal every process of the container")
    if verb == "delete":
        return Command("delete", "delete a container", usage="delete [OPTIONS] ID", **one) \
            .flag("-f", "--force", help="kill it first if it is running")
    if verb == "run":
        return _create_flags(Command("run", "create and start a container", usage="run [OPTIONS] ID", **one)) \
            .flag("-d", "--detach", help="do not wait for the container") \
            .flag("--keep", help="do not delete the container when it exits")
    if verb == "update":
        return _update_command()
    return _other_commands()[verb]


def _other_commands() -> dict[str, Command]:
    one = {"min_args": 1, "max_args": 1}
    return {
        "list": Command("list", "list containers", usage="list [OPTIONS]", max_args=0)
        .flag("-f", "--format", kind="str", default="table", metavar="table|json")
        .flag("-q", "--quiet", help="ids only"),
        "ps": Command("ps", "list a container's processes", usage="ps [OPTIONS] ID [PS ARGS...]", min_args=1,
                      interspersed=False)
        .flag("-f", "--format", kind="str", default="table", metavar="table|json"),
        "pause": Command("pause", "freeze every process of a container", usage="pause ID", **one),
        "resume": Command("resume", "thaw a paused container", usage="resume ID", **one),
        "events": Command("events", "print a container's stats and OOM events as JSON", usage="events [OPTIONS] ID",
                          **one)
        .flag("--stats", help="print the stats once and exit")
        .flag("--interval", kind="str", default="5s", metavar="DURATION", help="time between stats (default 5s)"),
        "exec": Command("exec", "run a process in a running container",
                        usage="exec [OPTIONS] ID [COMMAND [ARG...]]", min_args=1, interspersed=False)
        .flag("-p", "--process", kind="str", metavar="FILE", help="the process as JSON (config.json's process)")
        .flag("-t", "--tty", help="allocate a pseudo-terminal")
        .flag("--console-socket", kind="str", metavar="PATH", help="send the pty master to this socket")
        .flag("--pid-file", kind="str", metavar="FILE", help="write the process's pid here")
        .flag("-d", "--detach", help="do not wait for the process")
        .flag("--cwd", kind="str", metavar="DIR", help="working directory")
        .flag("-e", "--env", kind="list", metavar="K=V", help="set an environment variable")
        .flag("-u", "--user", kind="str", metavar="UID[:GID]", help="user to run as")
        .flag("--additional-gids", kind="list", metavar="GID", help="supplementary group")
        .flag("-c", "--cap", kind="list", metavar="CAP", help="add a capability")
        .flag("--no-new-privs", help="set no_new_privileges")
        .flag("--preserve-fds", kind="int", default=0, metavar="N", help="pass N extra fds")
        .flag("--process-label", kind="str", metavar="LABEL", help="accepted")
        .flag("--apparmor", kind="str", metavar="PROFILE", help="accepted"),
        "spec": Command("spec", "write a starter config.json", usage="spec [OPTIONS]", max_args=0)
        .flag("-b", "--bundle", kind="str", default=".", metavar="DIR", help="where to write config.json")
        .flag("--rootless", help="a spec for a rootless container (user namespace)"),
        "features": Command("features", "print what this runtime supports, as JSON", usage="features", max_args=0),
    }


def root_command() -> Command:
    cmd = Command("", "An OCI runtime in Python, runc-compatible.", usage="[GLOBAL OPTIONS] COMMAND",
                  interspersed=False)
    cmd.flag("--root", kind="str", metavar="DIR", default=DEFAULT_ROOT,
             help=f"state directory (default {DEFAULT_ROOT})")
    cmd.flag("--log", kind="str", metavar="FILE", help="also write errors to this file")
    cmd.flag("--log-format", kind="str", default="text", metavar="text|json")
    cmd.flag("--debug", help="more logging")
    cmd.flag("--systemd-cgroup", help="read cgroupsPath as slice:prefix:name; the cgroup is made with cgroupfs")
    cmd.flag("--rootless", kind="str", metavar="true|false|auto",
             help="no cgroups where the caller may not write them (default auto: when not root)")
    cmd.flag("--criu", kind="str", metavar="PATH", help="accepted; checkpoint is not supported")
    cmd.flag("-v", "--version", help="print the version")
    return cmd


def rootless_mode(flag: str | None) -> bool:
    """runc's --rootless: true, false, or auto (the default): rootless when not the host's root."""
    value = (flag or "auto").lower()
    if value not in ("true", "false", "auto"):
        raise UsageError(f"--rootless {flag!r}: use true, false or auto")
    return value == "true" or (value == "auto" and state_view.unprivileged())


def _create(root: str, cid: str, opts, start_at_once: bool = False):
    options = create.CreateOptions(no_pivot=opts.no_pivot, no_new_keyring=opts.no_new_keyring,
                                   preserve_fds=opts.preserve_fds or 0, rootless=_ROOTLESS,
                                   start_at_once=start_at_once)
    record, init = create.create(root, cid, opts.bundle, options=options)
    if init.console_fd is not None and opts.console_socket:
        try:
            send_console(opts.console_socket, init.console_fd)
        finally:
            os.close(init.console_fd)
            init.console_fd = None
    if opts.pid_file:
        write_pid_file(opts.pid_file, init.pid)
    return record, init


def write_pid_file(path: str, pid: int) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.rename(tmp, path)


def send_console(path: str, fd: int) -> None:
    """What runc sends: one message on a stream socket, the master's name as data, the fd as SCM_RIGHTS."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        sock.connect(path)
        channel.send_fds(sock, b"/dev/ptmx", [fd])
    finally:
        sock.close()


def dispatch(verb: str, root: str, opts, args: list[str]) -> int:
    if verb == "state":
        print(jsonio.pretty(st.oci_state(root, st.load(root, args[0]))))
    elif verb == "create":
        _record, init = _create(root, args[0], opts)
        if init.console_fd is not None:
            os.close(init.console_fd)
    elif verb == "start":
        start.start(root, args[0])
    elif verb == "kill":
        kill.kill(root, args[0], kill.parse_signal(args[1] if len(args) > 1 else "SIGTERM", allow_zero=True),
                  all_processes=opts.all)
    elif verb == "delete":
        delete.delete(root, args[0], force=opts.force)
    elif verb == "run":
        return _run(root, args[0], opts)
    elif verb == "list":
        _list(root, opts)
    elif verb == "ps":
        pids = ps.container_pids(root, args[0])
        if opts.format == "json":
            print(jsonio.dumps(pids or None))  # runc prints null for no process
        else:
            sys.stdout.write(ps.ps_table(pids, args[1:]))
    elif verb in ("pause", "resume"):
        getattr(pause, verb)(root, args[0])
    elif verb == "events":
        events.events(root, args[0], opts.stats, opts.interval)
    elif verb == "update":
        _update(root, args[0], opts)
    elif verb == "exec":
        return _exec(root, args[0], args[1:], opts)
    elif verb == "spec":
        spec_template.write_spec(opts.bundle, rootless=opts.rootless)
    elif verb == "features":
        print(jsonio.pretty(features.features(), 4))
    return 0


def _run(root: str, cid: str, opts) -> int:
    if not opts.detach:
        foreground.become_subreaper()
    # Nothing that can fail between create and start (a console to hand over, a pid file to write):
    # the init need not wait for start (create's start_at_once).
    record, init = _create(root, cid, opts, start_at_once=not (opts.console_socket or opts.pid_file))
    try:
        if opts.detach:
            if init.console_fd is not None:
                os.close(init.console_fd)
                init.console_fd = None
            start.start(root, cid, init.start_fd, record)
            return 0
        code = foreground.run_foreground(init.pid, init.console_fd,
                                         lambda: start.start(root, cid, init.start_fd, record),
                                         stdin=0, stdout=1, raw=True, eof_as_ctrl_d=False)
    except BaseException:
        try:  # a run that failed leaves no container behind (runc's destroys it too)
            delete.delete(root, cid, force=True)
        except Exception:  # noqa: BLE001 - the first error is the one to report
            pass
        raise
    finally:
        if init.console_fd is not None:
            os.close(init.console_fd)
    if not opts.keep:  # create's record: nothing has changed it since
        delete.delete(root, cid, force=True, record=record)
    return code


def _update(root: str, cid: str, opts) -> None:
    for refused in ("kernel_memory", "kernel_memory_tcp", "l3_cache_schema", "mem_bw_schema"):
        if opts.get(refused):
            raise InvalidArgument(f"--{refused.replace('_', '-')} is not supported by mydocker-runtime: leave it out")
    update.update(root, cid, update.resources_from_flags(opts, opts.resources))


def _exec(root: str, cid: str, command: list[str], opts) -> int:
    oci_process = _exec_process(root, cid, command, opts)
    if opts.preserve_fds:
        raise MyDockerError("exec --preserve-fds is not supported yet: pass the files another way")
    started = runtime_exec.exec_process(root, cid, oci_process, detach=opts.detach)
    console = started.console_fd
    try:
        if console is not None and opts.console_socket:
            send_console(opts.console_socket, console)
            os.close(console)
            console = None
        if opts.pid_file:
            write_pid_file(opts.pid_file, started.pid)
        if opts.detach:
            return 0
        return foreground.run_foreground(started.pid, console, stdin=0, stdout=1, raw=True, eof_as_ctrl_d=False)
    finally:
        if console is not None:
            os.close(console)


def _exec_process(root: str, cid: str, command: list[str], opts) -> dict:
    """-p FILE as given; else the container's own process (env, user, capabilities) with the
    command line's args, --env, --cwd, --user, --tty on top, as runc builds it."""
    if opts.process:
        try:
            process = jsonio.load_file(opts.process)
        except (OSError, ValueError) as e:
            raise InvalidArgument(f"--process {opts.process}: cannot read the process JSON ({e})") from None
        if not isinstance(process, dict):
            raise InvalidArgument(f"--process {opts.process}: must hold a JSON object (config.json's process)")
        return process
    if not command:
        raise InvalidArgument("exec needs a command after the container id, or --process FILE")
    record = st.load(root, cid)
    try:
        base = jsonio.load_file(os.path.join(record.bundle, "config.json")).get("process") or {}
    except (OSError, ValueError):
        base = {}
    process = {key: base[key] for key in ("env", "cwd", "user", "capabilities", "rlimits", "noNewPrivileges",
                                          "apparmorProfile") if key in base}
    process["args"] = command
    process["terminal"] = bool(opts.tty)
    process["env"] = [*process.get("env", []), *opts.env]
    if opts.cwd:
        process["cwd"] = opts.cwd
    if opts.user:
        uid, _, gid = opts.user.partition(":")
        try:
            process["user"] = {"uid": int(uid), "gid": int(gid or 0)}
        except ValueError:
            raise InvalidArgument(f"--user {opts.user!r}: use numeric UID[:GID]") from None
    if opts.additional_gids:
        process.setdefault("user", {})["additionalGids"] = [int(g) for g in opts.additional_gids]
    if opts.no_new_privs:
        process["noNewPrivileges"] = True
    return process


def _list(root: str, opts) -> None:
    states = []
    for i in st.list_ids(root):
        try:
            states.append(st.oci_state(root, st.load(root, i)))
        except MyDockerError:
            continue  # deleted while we listed
    if opts.format == "json":
        print(jsonio.dumps(states or None))
    elif opts.quiet:
        if states:
            print("\n".join(s["id"] for s in states))
    else:
        print(f"{'ID':<24}{'PID':<10}{'STATUS':<10}{'BUNDLE':<40}{'CREATED':<32}OWNER")
        owner = _user_name(os.geteuid())  # a root's containers are its caller's, as runc shows them
        for s in states:
            print(f"{s['id']:<24}{s['pid']:<10}{s['status']:<10}{s['bundle']:<40}{s['created']:<32}{owner}")


def _user_name(uid: int) -> str:
    import pwd
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def log_error(path: str | None, fmt: str, message: str) -> None:
    """Append the error to --log the way runc's logrus does: containerd and podman read the last
    "error" entry of a JSON log to explain a failure."""
    if not path:
        return
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if fmt == "json":
        line = jsonio.dumps({"level": "error", "msg": message, "time": stamp})
    else:
        line = f'time="{stamp}" level=error msg={jsonio.dumps(message)}'
    try:
        with open(path, "a") as f:
            f.write(line + "\n")
    except OSError:
        pass  # the log is best effort: stderr has the message


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    glob = verb = None
    try:
        top = root_command()
        glob, rest = parse(top, argv, PROG)
        if glob.version:
            print(f"{PROG} version {VERSION}\nspec: 1.0.2")
            return 0
        if not rest or glob.get("help"):
            top.subcommands = commands()
            sys.stdout.write(top.help_text(PROG))
            return 0
        verb, args = rest[0], rest[1:]
        if verb not in VERBS:
            raise UsageError(f"unknown command: {verb!r}. See '{PROG} --help'.")
        cmd = command(verb)
        opts, positionals = parse(cmd, args, PROG)
        if opts.get("help"):
            sys.stdout.write(cmd.help_text(PROG))
            return 0
        check_args(cmd, positionals, PROG)
        global _ROOTLESS
        _ROOTLESS = rootless_mode(glob.rootless)
        if verb in ("create", "run"):
            if glob.systemd_cgroup:
                cgroups.SYSTEMD = True  # cgroupsPath read as "slice:prefix:name"
            prewarm.defer()  # a thread only if create moves the init by pid (runtime/process.py)
        return dispatch(verb, glob.root, opts, positionals)
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # noqa: BLE001 - no traceback reaches a user
        if os.environ.get("MYDOCKER_DEBUG") and not isinstance(e, (MyDockerError, OSError)):
            raise
        message = describe(e)
    if verb == "exec":  # as runc: an exec that never ran its process fails with -1
        message = f"exec failed: {message}"
    if glob is not None:  # the log first: a shim reads it, and our stderr may be unwritable
        log_error(glob.log, glob.log_format, message)
    try:
        print(f"{PROG}: {message}", file=sys.stderr)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # containerd's shim hands a container without stdio /dev/null opened read-only
    return 255 if verb == "exec" else 1


def run_main() -> None:
    code = main()
    client = sys.modules.get("mydocker.forkserver_client")  # runtime/entry.py's, for a foreground run
    if client is not None:
        client.start_server()  # if it found none
    mydocker_exit.exit_now(code)

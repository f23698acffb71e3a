"""Hand a `mydocker` command, or a foreground `mydocker-runtime run`, to a warm fork server, or say
that this process must run it itself.

A fresh `mydocker run` spends about as long importing the engine (some 80 modules: unmarshal, module
bodies, the sqlite and ctypes libraries) as the container takes to run (docs/startup.md), and a fresh
`mydocker-runtime run` loads some 40 modules, in its own process and again in the container's init. A
fork server (mydocker/forkserver.py, one per front end: mydocker/cli/forkserver.py,
mydocker/runtime/forkserver.py) keeps those modules imported; for each command it forks a child that
adopts this process's standard streams, working directory, environment, umask, rlimits, OOM score and
signal dispositions, runs the command, and reports its exit status, which this process then exits
with. It checks first that it runs in the same namespaces, root directory, credentials and
capabilities as this process (and, for the runtime, cgroups); where anything differs (or no server
runs, or MYDOCKER_FORKSERVER=0), the launcher runs the command in-process as before, and a command
that found no server starts one on its way out (`start_server`), which lingers IDLE seconds after its
last command.

This module runs before anything else of the launcher's: it loads nothing but built-in modules.
"""

import _signal
import posix
import sys

IDLE = 30.0  # seconds a server waits for its next command before it exits (MYDOCKER_FORKSERVER_IDLE)
PROTOCOL = b"mydocker-forkserver/2"
CLI, RUNTIME = b"cli", b"runtime"  # the front end a request is for: `mydocker`, `mydocker-runtime`
# Commands a server may run: the short, frequent ones (a service or a stream stays in a process of its own).
COMMANDS = frozenset({"run", "create", "start", "stop", "restart", "kill", "rm", "ps", "inspect", "exec",
                      "logs", "wait", "port", "pause", "unpause", "rename", "top", "images", "container"})
_GLOBAL_WITH_VALUE = ("--root", "--runroot", "--cluster-store")
# Signals a user sends to the command (a terminal's ^C and ^\, a resize, a hangup, kill's default).
FORWARDED = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT, _signal.SIGUSR1,
             _signal.SIGUSR2, _signal.SIGWINCH)
# Those a terminal sends to its whole foreground process group: they go to the command's group (the
# served child leads one), which a command that forks (`run -it`'s supervisor) shares, as in-process.
TO_THE_GROUP = (_signal.SIGINT, _signal.SIGQUIT, _signal.SIGWINCH)
FALLBACK, SERVED, EXITED = b"F", b"P", b"X"  # the server's replies: run it yourself; child's pid; its status

start_wanted: tuple[str, bytes] | None = None  # no server answered: (package dir, front end) to start one for


def socket_dir() -> str:
    """Root's only, for now: only root's processes may reach it (it also checks their credentials). An
    ordinary user's commands run in-process: their engine joins the user's own namespaces per command,
    and a server lingering after them would outlive a user that is being removed."""
    return "/run/mydocker/cli"


def socket_path(package_dir: str, front: bytes = CLI) -> str:
    """One server per front end and installed package: a launcher never reaches code other than its own."""
    h = 0xcbf29ce484222325  # FNV-1a: no hashlib or zlib to load for a name
    for byte in package_dir.encode(errors="surrogateescape"):
        h = ((h ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return f"{socket_dir()}/{h:016x}.sock" if front == CLI else f"{socket_dir()}/{h:016x}-{front.decode()}.sock"


def command_word(argv: list[str]) -> str | None:
    """The command's name: the first word that is neither a global flag nor the value of one."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _GLOBAL_WITH_VALUE:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def serve(package_dir: str, front: bytes = CLI) -> None:
    """Run this command in a fork server and exit with its status; return if this process must run it.
    `front` RUNTIME: `mydocker-runtime`'s entry point has checked that the command is one to serve (a
    foreground `run`, runtime/entry.py)."""
    global start_wanted
    if (posix.environ.get(b"MYDOCKER_FORKSERVER") == b"0" or posix.geteuid() != 0
            or (front == CLI and command_word(sys.argv[1:]) not in COMMANDS)):
        return
    path = socket_path(package_dir, front)
    try:
        posix.stat(path)
    except OSError:  # no server (a server removes its socket when it leaves): not even _socket to load
        start_wanted = (package_dir, front)
        return
    import _socket  # noqa: PLC0415 - only once a server may be there (0.25 ms otherwise)
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        start_wanted = (package_dir, front)
        return
    try:
        pid = _hand_over(sock, front)
    except OSError:
        pid = None
    if pid is None:  # the server declined (or went away before taking it): nothing has run yet
        sock.close()
        return
    _forward_signals(pid)
    status = _read_status(sock)
    if status is None:
        posix.write(2, b"mydocker: the fork server went away before the command's status reached us\n")
        posix._exit(125)
    if posix.WIFSIGNALED(status):  # die of the same signal, as the command's own process did
        signo = posix.WTERMSIG(status)
        _signal.signal(signo, _signal.SIG_DFL)
        posix.kill(posix.getpid(), signo)
        posix._exit(128 + signo)
    posix._exit(posix.WEXITSTATUS(status))


def _hand_over(sock, front: bytes) -> int | None:
    """Send the command and our streams; the pid of the server's child that runs it, None if declined."""
    import _socket  # serve's, loaded by now
    for fd in (0, 1, 2):
        posix.fstat(fd)  # a closed stream cannot be passed: OSError, and this process runs it
    cwd = posix.open(".", posix.O_PATH | posix.O_DIRECTORY | posix.O_CLOEXEC)
    try:
        umask = posix.umask(0)
        posix.umask(umask)
        argv = [arg.encode(errors="surrogateescape") for arg in sys.argv]
        env = [k + b"=" + v for k, v in posix.environ.items()]
        fields = [PROTOCOL, front, b"%d" % umask, b"%d" % len(argv), *argv, *env]
        fds = b"".join(fd.to_bytes(4, sys.byteorder) for fd in (0, 1, 2, cwd))
        sock.sendmsg([b"\0".join(fields)], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
    finally:
        posix.close(cwd)
    reply = _read_exactly(sock, 5)
    if reply is None or reply[:1] != SERVED:
        return None
    return int.from_bytes(reply[1:], sys.byteorder)


def _forward_signals(pid: int) -> None:
    def forward(signo, _frame):
        try:
            if signo in TO_THE_GROUP:
                posix.killpg(pid, signo)
            else:
                posix.kill(pid, signo)
        except OSError:  # it has exited: its status is on its way
            pass
    for signo in FORWARDED:
        if _signal.getsignal(signo) != _signal.SIG_IGN:  # ignored here: ignored there too (adopted)
            _signal.signal(signo, forward)


def _read_status(sock) -> int | None:
    reply = _read_exactly(sock, 5)
    if reply is None or reply[:1] != EXITED:
        return None
    return int.from_bytes(reply[1:], sys.byteorder)


def _read_exactly(sock, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))  # a forwarded signal's handler runs, then recv resumes (PEP 475)
        if not chunk:
            return None
        data += chunk
    return data


def start_server() -> None:
    """Start the fork server `serve` found missing, in its own session (it exits at once if another
    got there first); once per process."""
    global start_wanted
    wanted, start_wanted = start_wanted, None
    if wanted is None:
        return
    package_dir, front = wanted
    paths = list(sys.path)
    code = (f"import sys; sys.path[:0] = {paths!r}; from mydocker.{front.decode()}.forkserver import main; "
            f"main({package_dir!r})")
    try:
        null = posix.open("/dev/null", posix.O_RDWR | posix.O_CLOEXEC)
    except OSError:
        return
    try:
        posix.posix_spawn(sys.executable, [sys.executable, "-I", "-S", "-c", code], posix.environ,
                          file_actions=[(posix.POSIX_SPAWN_DUP2, null, 0), (posix.POSIX_SPAWN_DUP2, null, 1),
                                        (posix.POSIX_SPAWN_DUP2, null, 2)],
                          setsid=True, setsigdef=FORWARDED)
    except OSError:
        pass
    finally:
        posix.close(null)


def stop_server(package_dir: str) -> None:
    """Ask the package's servers to leave now (each finishes the commands it runs first)."""
    for front in (CLI, RUNTIME):
        try:
            with open(socket_path(package_dir, front) + ".lock", "rb") as f:
                pid = int(f.read() or b"0")
            with open(f"/proc/{pid}/cmdline", "rb") as f:  # a dead server's pid may be another's now
                if b".forkserver import main" in f.read():
                    posix.kill(pid, _signal.SIGTERM)
        except (OSError, ValueError):
            pass

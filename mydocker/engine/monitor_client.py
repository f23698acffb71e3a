"""The CLI's side of the container monitor (engine/monitor.py): send it a request, start it if needed.

Apart from the monitor itself so that `run -d`, `stop` and `start` load only this: `_socket` and
the C JSON codec, not `socket` and `json` (whose enums and `re` cost milliseconds per command).
"""

import _socket
import os
import sys
import time

from mydocker import jsonio
from mydocker.errors import RuntimeFailure
from mydocker.lazy import lazy_module

subprocess = lazy_module("subprocess")
socket = lazy_module("socket")

SOCKET = "monitor.sock"
LOCK = "monitor.lock"
LOG = "monitor.log"                 # the monitor's stderr: tracebacks of failed workers, for bug reports
_MAX = 1 << 16


def idle_timeout() -> float:
    return float(os.environ.get("MYDOCKER_MONITOR_IDLE", "5"))


def request(root: str, runroot: str, message: dict, timeout: float = 60) -> dict:
    """Send `message` to the root's monitor (starting it if needed) and return its reply."""
    deadline = time.monotonic() + timeout
    while True:
        sock = _connect(runroot)
        if sock is None:
            if time.monotonic() > deadline:
                raise RuntimeFailure(f"cannot reach the container monitor at {os.path.join(runroot, SOCKET)}: "
                                     "check that the run root is writable and retry")
            _spawn(root, runroot)
            continue
        try:
            sock.settimeout(timeout)
            try:
                sock.send(jsonio.dumps(message).encode())
                ack = sock.recv(_MAX)
            except (ConnectionError, OSError):
                ack = b""
            if not ack:  # the monitor was exiting and never saw the request: ask the next one
                continue
            try:
                reply = sock.recv(_MAX)
            except (ConnectionError, OSError):
                reply = b""
        finally:
            sock.close()
        if not reply:
            raise RuntimeFailure("the container monitor died while handling the request: "
                                 "see `mydocker ps -a` and retry")
        return jsonio.loads(reply)


def _connect(runroot: str):
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
    try:
        sock.connect(os.path.join(runroot, SOCKET))
        return sock
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        return None


def _spawn(root: str, runroot: str) -> None:
    """Start a monitor in its own session and wait until it listens (or lost the race to another)."""
    os.makedirs(runroot, mode=0o711, exist_ok=True)
    package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    paths = list(dict.fromkeys([package_parent, *sys.path]))  # ours: the launcher's site-packages too
    code = f"import sys; sys.path[:0] = {paths!r}; from mydocker.engine.monitor import main; main()"
    r, w = os.pipe()
    log = os.open(os.path.join(runroot, LOG), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        subprocess.Popen([sys.executable, "-I", "-S", "-c", code, root, runroot, str(w)], pass_fds=(w,),
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                         start_new_session=True, cwd="/")
        os.close(w)
        w = -1
        os.read(r, 1)  # one byte when listening; EOF if it exited (another monitor holds the lock)
    finally:
        os.close(r)
        os.close(log)
        if w >= 0:
            os.close(w)
    # The monitor's parent (us) exits soon; it is reparented, not our zombie: no wait needed.


def request_input(runroot: str, container_id: str) -> int | None:
    """The running container's input (its stdin pipe, or its console with a tty) from the monitor that
    owns it, as an fd of ours; None while it has none to give (not started yet, or exited)."""
    sock = _connect(runroot)
    if sock is None:
        return None
    conn = socket.socket(fileno=sock.detach())
    try:
        conn.settimeout(5)
        conn.send(jsonio.dumps({"op": "input", "id": container_id}).encode())
        if not conn.recv(_MAX):
            return None
        _reply, fds, _flags, _addr = socket.recv_fds(conn, _MAX, 1)
    except OSError:
        return None
    finally:
        conn.close()
    return fds[0] if fds else None

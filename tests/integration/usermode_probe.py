"""Run by an ordinary user for tests/integration/test_usermode_network.py: drives
mydocker/network/usermode.py and prints what it saw as one JSON object.

    probe.py inside DIR OUT_PORT PUB_PORT   (run under `unshare --user --map-root-user --mount`, as the
                                             rootless engine runs: root of the user's namespace, host netns)
    probe.py outside DIR OUT_PORT HOLDER    (the netns and user namespace of process HOLDER, from outside;
                                             HOLDER is killed)
    probe.py stopped DIR HOLDER             (the same, ended by stop())
    probe.py busy DIR PUB_PORT              (PUB_PORT is taken on the host: the start fails)
    probe.py tun DIR                        (/dev/net/tun is not the user's to open)

OUT_PORT: a server the test runs on the host's 127.0.0.1 that sends a greeting; PUB_PORT: the host port
to publish the netns's port 80 on.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys

from mydocker.errors import MyDockerError
from mydocker.linux import syscalls as sc
from mydocker.network import netns, usermode


def in_netns(path: str, work, userns: str | None = None) -> int:
    """Fork a child that enters the netns (and user namespace) and runs work(); its pid. A child, as
    the root of a user namespace cannot return to the host's netns."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            if userns:
                fd = os.open(userns, os.O_RDONLY)
                sc.setns(fd, sc.CLONE_NEWUSER, userns)
            fd = os.open(path, os.O_RDONLY)
            sc.setns(fd, sc.CLONE_NEWNET, path)
            code = work()
        finally:
            os._exit(code)
    return pid


def exit_code(pid: int) -> int:
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def outbound(port: int, out: str, times: int = 5) -> int:
    """Connect to the host's loopback through the stack's gateway, half-closing first as `nc` does at
    the end of its input, and read to the server's close; write the greetings to `out`. (pasta, as
    Debian 12 ships it, leaves most such connections hanging in FIN-WAIT-2: the timeout fails this.)"""
    greetings = b""
    for _ in range(times):
        with socket.create_connection((usermode.GATEWAY, port), timeout=10) as s:
            s.shutdown(socket.SHUT_WR)
            while chunk := s.recv(100):
                greetings += chunk
    with open(out, "wb") as f:
        f.write(greetings)
    return 0


def serve_once(ready_w: int) -> int:
    """Listen on the netns's port 80, say so, answer one client."""
    with socket.socket() as s:
        s.bind(("0.0.0.0", 80))
        s.listen()
        os.write(ready_w, b"1")
        conn, peer = s.accept()
        with conn:
            conn.sendall(b"inside\n")
    return 0


def gone_within(pid: int, seconds: float) -> bool:
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([handle], [], [], seconds)[0])
    finally:
        os.close(handle)


def check_outbound(path: str, port: int, directory: str, userns: str | None = None) -> str:
    out = os.path.join(directory, "greeting")
    code = exit_code(in_netns(path, lambda: outbound(port, out), userns))
    if code != 0:
        return f"exit {code}"
    with open(out, "rb") as f:
        return f.read().decode()


def inside(directory: str, out_port: int, pub_port: int) -> dict:
    path = os.path.join(directory, "netns")
    netns.create(path, in_child=True)
    report: dict = {}
    try:
        pid = usermode.start(path, None, [["tcp", "127.0.0.1", pub_port, 80]], os.path.join(directory, "state"))
        report["pid"] = pid
        report["comm"] = open(f"/proc/{pid}/comm").read().strip()
        report["outbound"] = check_outbound(path, out_port, directory)
        ready_r, ready_w = os.pipe()
        server = in_netns(path, lambda: serve_once(ready_w))
        os.read(ready_r, 1)
        with socket.create_connection(("127.0.0.1", pub_port), timeout=10) as s:
            report["inbound"] = s.recv(100).decode()
        report["server"] = exit_code(server)
        report["state_left"] = sorted(os.listdir(os.path.join(directory, "state")))
    finally:
        netns.remove(path)  # the engine's teardown: the stack sees its netns's pin go
    report["gone"] = gone_within(report["pid"], 10) if "pid" in report else None
    return report


def outside(directory: str, out_port: int, holder: int) -> dict:
    userns, path = f"/proc/{holder}/ns/user", f"/proc/{holder}/ns/net"
    pid = usermode.start(path, userns, [], os.path.join(directory, "state"))
    report = {"pid": pid, "comm": open(f"/proc/{pid}/comm").read().strip(),
              "outbound": check_outbound(path, out_port, directory, userns)}
    os.kill(holder, signal.SIGKILL)  # the netns's holder goes: so does the stack
    report["gone"] = gone_within(pid, 10)
    usermode.stop(pid)  # idempotent
    usermode.stop(os.getpid())  # a pid that is not a stack's is left alone
    return report


def stopped(directory: str, holder: int) -> dict:
    """stop() ends a running stack (and so its keeper), waiting until it is gone."""
    userns, path = f"/proc/{holder}/ns/user", f"/proc/{holder}/ns/net"
    pid = usermode.start(path, userns, [], os.path.join(directory, "state"))
    usermode.stop(pid)
    return {"gone": gone_within(pid, 0)}


def failure(directory: str, pub_port: int | None) -> dict:
    path = os.path.join(directory, "netns")
    netns.create(path, in_child=True)
    try:
        ports = [["tcp", "127.0.0.1", pub_port, 80]] if pub_port else []
        usermode.start(path, None, ports, os.path.join(directory, "state"))
        return {"error": None}
    except MyDockerError as e:
        return {"error": str(e), "state_left": sorted(os.listdir(os.path.join(directory, "state")))}
    finally:
        netns.remove(path)


def tun(directory: str) -> dict:
    report = {}
    try:
        usermode.check_tun()
        report["check"] = None
    except MyDockerError as e:
        report["check"] = str(e)
    # the start path when the stack itself dies of it: start()'s own check passes once, then is real
    real, calls = usermode.check_tun, []
    usermode.check_tun = lambda: real() if calls.append(1) or len(calls) > 1 else None
    report["start"] = failure(directory, None)["error"]
    return report


def main() -> None:
    verb, directory, *numbers = sys.argv[1:]
    args = [int(n) for n in numbers]
    verbs = {"inside": inside, "outside": outside, "stopped": stopped, "busy": failure, "tun": tun}
    report = verbs[verb](directory, *args)
    print(json.dumps(report))


if __name__ == "__main__":
    main()

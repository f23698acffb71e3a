"""The user-mode network stack of a rootless container's default network: slirp4netns.

An ordinary user cannot put a veth into the host's network namespace, so a process of the user's own
(the stack) holds a tap device inside the container's netns and turns its packets into ordinary
sockets on the host, as podman's rootless networking does. The container sees

    eth0 10.0.2.100/24, default route via 10.0.2.2, DNS 10.0.2.3

10.0.2.2 is the host's loopback (a connection to it leaves the host from 127.0.0.1) and 10.0.2.3
forwards to the host's nameservers. `-p` publishes a port through slirp4netns's API socket
(add_hostfwd), before start() returns.

Why slirp4netns and not pasta. Both are Debian packages (slirp4netns 1.2.0 with libslirp 4.7.0; passt
0.0~git20230309) and podman runs both. Measured on this machine as an ordinary user, netns held by
`unshare --user --map-root-user --net` (2 cores shared by 8 busy engineers: noisy; medians):
  - time to a ready, configured netns: slirp4netns 2.7 ms (its --ready-fd), 2.8 ms with one -p (an
    API call); pasta 18-20 ms with or without -p (its parent exits once the netns is configured), of
    which ~8 ms is its TCP socket-pool set-up; -4, --no-dhcp/ndp/ra change nothing measurable.
  - outbound to a server on the host's 127.0.0.1: both (slirp4netns via 10.0.2.2; pasta via its
    gateway address, --map-gw, so with `-g 10.0.2.2` the same address).
  - inbound through a published port: both (pasta splices host socket to netns socket; slirp4netns
    goes through libslirp's TCP and the container sees every client as 10.0.2.2).
  - correctness: with pasta, a client in the netns that half-closes (as `nc` does at the end of its
    input) and then waits for the server's close never sees it: 23 of 30 such connections to a host
    server that answers and closes hung in FIN-WAIT-2 (slirp4netns: 0 of 30). That alone decides.
  - lifetime: neither exits when the netns's last holder goes (the tap fd keeps the netns alive: tun
    files hold a reference to it). pasta watches a netns *path* and quits when it is deleted;
    slirp4netns quits when its --exit-fd hangs up. So the stack here is two processes: slirp4netns
    and a keeper (md-slirp-keeper: a fork of the caller that spawns slirp4netns and, if the netns
    still lives after EXEC_AFTER seconds, execs the builtins-only network/slirp_keeper.py: 3.6 MB
    PSS where the fork kept 8-13 MB of the caller's) that holds the exit fd's other end and exits when
    the netns's pin is deleted (inotify on its directory: netns.remove()), or, for a /proc/<pid>/ns/net
    path, when that process exits
    (its pidfd), or when slirp4netns exits. Nothing else holds that end, so slirp4netns cannot
    outlive the keeper, whatever kills it. The keeper's parent exits at once: it is reaped by the
    caller's nearest child subreaper (the monitor, a foreground `run`) or by init.
  - stopping: either takes 30-40 ms to exit here (the kernel unregisters the tap device as its files
    close), so stop() waits for that only when published ports must be free again.
  - in the engine (`mydocker run --rm busybox true` as a user, default network minus --network none,
    bench/rootless.py): +63 ms with pasta waited for at stop (start 18 ms + stop 43 ms), +4 ms with
    slirp4netns not waited for (start() alone: 5-10 ms, keeper's forks included).

User networks between one user's containers use one stack too: the user's rootless netns
(engine/network_rootless.py) is connected by a slirp4netns started here (interface tap0, API socket
kept: publish/unpublish forward host ports to that netns's own address as containers come and go).
"""

from __future__ import annotations

import errno
import os
import signal
import sys

from mydocker.errors import InvalidArgument, RuntimeFailure
from mydocker.lazy import lazy_module

fs = lazy_module("mydocker.linux.fs")
select = lazy_module("select")
socket = lazy_module("socket")
jsonio = lazy_module("mydocker.jsonio")
inotify = lazy_module("mydocker.linux.inotify")
keeper = lazy_module("mydocker.network.slirp_keeper")

NAMESERVER = "10.0.2.3"
ADDRESS, GATEWAY = "10.0.2.100", "10.0.2.2"
IFNAME = "eth0"
MTU = 65520                       # podman's choice: far faster than 1500 through libslirp
TUN = "/dev/net/tun"
TUN_DENIED = (f'open("{TUN}"): Permission denied: rootless networking needs the device readable and writable '
              f"by users: run (as root) chmod 0666 {TUN}")
TUN_MISSING = (f'open("{TUN}"): No such file or directory: rootless networking needs the tun device: '
               "run (as root) modprobe tun")
LOG = "slirp4netns.log"           # its stderr, in the state dir
API = "slirp4netns.sock"          # its API socket, in the state dir while ports are added
START_TIMEOUT = 30.0
EXEC_AFTER = 2.0                  # seconds the keeper stays a fork before it execs the tiny program
STOP_TIMEOUT = 5.0


def check_tun() -> None:
    """Raise the one-line error every user-mode stack would die of when the tun device cannot be opened."""
    try:
        os.close(os.open(TUN, os.O_RDWR | os.O_CLOEXEC))
    except OSError as e:
        if e.errno in (errno.EACCES, errno.EPERM):
            raise RuntimeFailure(TUN_DENIED) from None
        if e.errno in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
            raise RuntimeFailure(TUN_MISSING) from None
        raise RuntimeFailure(f'open("{TUN}"): {e.strerror}: rootless networking needs the tun device') from None


def command(netns: str, userns: str | None, ready_fd: int, exit_fd: int, ifname: str = IFNAME) -> list[str]:
    argv = ["slirp4netns", "--configure", f"--mtu={MTU}", f"--ready-fd={ready_fd}", f"--exit-fd={exit_fd}",
            f"--api-socket={API}", "--enable-seccomp", "--netns-type=path"]
    if userns:
        argv.append(f"--userns-path={userns}")
    return [*argv, netns, ifname]


def start(netns: str, userns: str | None, ports: list[list], state_dir: str, ifname: str = IFNAME,
          keep_api: bool = False) -> int:
    """Connect the netns at `netns` (of the user namespace at `userns`; None: the caller is in it) to
    the host through its interface `ifname`, publish `ports` ([[proto, host_ip, host_port,
    container_port], ...]) and return the stack's (slirp4netns's) pid once the netns is configured.
    `keep_api`: its API socket stays in `state_dir` for publish/unpublish later (the user's rootless
    netns, where containers come and go). Nothing of a failed start is left running."""
    check_tun()
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    ready_r, ready_w = os.pipe()   # slirp4netns writes "1" once the netns is configured
    exit_r, exit_w = os.pipe()     # slirp4netns exits when this hangs up: the keeper holds exit_w
    pid_r, pid_w = os.pipe()       # the keeper tells slirp4netns's pid (or why it could not start it)
    child = os.fork()
    if child == 0:
        # A session of its own, and a grandchild that nobody waits for: no zombie is left in a
        # long-lived caller (the API service), no terminal signal reaches the stack.
        try:
            os.setsid()
            if os.fork() == 0:
                _keep(netns, userns, state_dir, ready_w, exit_r, exit_w, pid_w, ifname)
        finally:
            os._exit(0)
    for fd in (ready_w, exit_r, exit_w, pid_w):
        os.close(fd)
    try:
        os.waitpid(child, 0)
    except ChildProcessError:
        pass  # reaped by a caller's own SIGCHLD handling
    pid = 0
    try:
        with os.fdopen(pid_r, "rb") as f:
            said = f.read().decode().strip()
        if not said.isdigit():
            raise RuntimeFailure(said or "the user-mode network stack's keeper died before starting slirp4netns")
        pid = int(said)
        if not _readable(ready_r, START_TIMEOUT):
            raise RuntimeFailure(f"slirp4netns did not configure {netns} in {START_TIMEOUT:.0f} s")
        if os.read(ready_r, 1) != b"1":
            raise RuntimeFailure(_failure(netns, state_dir))
        for mapping in ports:
            publish(state_dir, *mapping)
        return pid
    except BaseException:
        if pid:
            stop(pid)
        keep_api = False
        raise
    finally:
        os.close(ready_r)
        if not keep_api:
            fs.remove_file(os.path.join(state_dir, API))  # no more ports are added: nobody else may


def _keep(netns: str, userns: str | None, state_dir: str, ready_w: int, exit_r: int, exit_w: int,
          pid_w: int, ifname: str) -> None:
    """The keeper (a forked grandchild; never returns): start slirp4netns, then hold its exit fd until
    the netns's pin goes (or its holder process, or slirp4netns itself); after EXEC_AFTER seconds as a
    fork, go on holding as the tiny program network/slirp_keeper.py, which the fork's copy of the
    caller's memory does not follow."""
    try:
        with open("/proc/self/comm", "w") as f:
            f.write(keeper.KEEPER)
        # Before the caller's descriptors are closed: the launcher's code cache (mydocker/codecache.py)
        # answers imports through one of them, so no module of ours may be first imported after.
        gone, pin = _watch(netns)
        # Nothing of the caller's is kept open (its stdout may be a pipe someone reads to the end).
        keep = sorted((ready_w, exit_r, exit_w, pid_w, gone))
        low = 3
        for fd in keep:
            os.closerange(low, fd)
            low = fd + 1
        os.closerange(low, 1 << 20)
        null = os.open("/dev/null", os.O_RDWR)
        log = os.open(os.path.join(state_dir, LOG), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.dup2(log, 2)
        for fd in (null, log):
            if fd > 2:
                os.close(fd)
        os.chdir(state_dir)   # the API socket's path is relative: a state dir's path may pass 108 bytes
        os.set_inheritable(ready_w, True)
        os.set_inheritable(exit_r, True)
        try:
            pid = os.posix_spawnp("slirp4netns", command(netns, userns, ready_w, exit_r, ifname), os.environ)
        except FileNotFoundError:
            os.write(pid_w, b"slirp4netns not found: rootless networking needs it: install the `slirp4netns` "
                            b"package, or run with --network none")
            return
        os.close(ready_w)
        os.close(exit_r)
        # Inheritable only now: slirp4netns must not hold its own exit fd's other end.
        os.set_inheritable(exit_w, True)
        os.set_inheritable(gone, True)
        os.write(pid_w, f"{pid}\n".encode())
        os.close(pid_w)
        if keeper.hold(exit_w, pid, gone, pin, timeout=EXEC_AFTER):
            return
        # Still running: shed the fork's copy of the caller's memory. The interpreter's start-up
        # (~15 ms of CPU) would have slowed every short `run` on a busy host, hence the wait first.
        os.execv(sys.executable, [sys.executable, "-IS", keeper.__file__, str(exit_w), str(pid), str(gone),
                                  *([pin] if pin else [])])
    except BaseException as e:
        try:
            os.write(pid_w, f"cannot start the user-mode network stack: {e}".encode())
        except OSError:
            pass
    finally:
        os._exit(0)  # slirp4netns, if started, sees its exit fd hang up


def _watch(netns: str) -> tuple[int, str | None]:
    """What tells the keeper the netns is gone: for /proc/<pid>/ns/net, that process's pidfd (and no
    pin); for a pin, a non-blocking inotify fd on its directory (and the pin's path, to look at)."""
    parts = netns.split("/")
    if len(parts) > 3 and parts[1] == "proc" and parts[2].isdigit():
        return os.pidfd_open(int(parts[2])), None
    watch = inotify.Watch([os.path.dirname(netns) or "."], inotify.IN_DELETE | inotify.IN_MOVED_FROM |
                          inotify.IN_DELETE_SELF | inotify.IN_MOVE_SELF)
    if not os.path.lexists(netns):
        raise FileNotFoundError(errno.ENOENT, f"no network namespace at {netns}", netns)
    return watch.fd, netns


def _failure(netns: str, state_dir: str) -> str:
    """Why slirp4netns exited before the netns was ready, in one line."""
    try:
        with open(os.path.join(state_dir, LOG), errors="replace") as f:
            said = [line.strip() for line in f if line.strip()]
    except FileNotFoundError:
        said = []
    if any("tun" in line or "TUNSETIFF" in line for line in said):
        check_tun()          # the device cannot be opened: say it as check_tun() does
    return f"slirp4netns failed to connect {netns}: {'; '.join(said[-2:]) or 'no message'}"


def publish(state_dir: str, proto: str, host_ip: str, host_port: int, container_port: int,
            guest_addr: str | None = None) -> None:
    """host_ip:host_port on the host forwarded to guest_addr (default: the netns's own address):container_port."""
    arguments = {"proto": proto, "host_addr": host_ip or "0.0.0.0", "host_port": host_port,
                 "guest_port": container_port}
    if guest_addr:
        arguments["guest_addr"] = guest_addr
    answer = _call(state_dir, {"execute": "add_hostfwd", "arguments": arguments})
    if not isinstance(answer, dict) or "return" not in answer:
        why = answer.get("error", {}).get("desc", answer) if isinstance(answer, dict) else answer
        raise InvalidArgument(f"cannot publish {host_ip or '0.0.0.0'}:{host_port} -> {container_port}/{proto}: "
                              f"{why}: choose another host port")


def unpublish(state_dir: str, proto: str, host_ip: str, host_port: int) -> None:
    """Stop forwarding host_ip:host_port (idempotent: a forward not there is fine)."""
    answer = _call(state_dir, {"execute": "list_hostfwd"})
    entries = answer.get("return", {}).get("entries", []) if isinstance(answer, dict) else []
    for entry in entries:
        if (entry.get("proto"), entry.get("host_addr"), entry.get("host_port")) == (proto, host_ip or "0.0.0.0",
                                                                                  host_port):
            _call(state_dir, {"execute": "remove_hostfwd", "arguments": {"id": entry["id"]}})


def _call(state_dir: str, request: dict):
    """One request to slirp4netns's API socket in `state_dir`; its decoded answer."""
    directory = os.open(state_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(START_TIMEOUT)
            s.connect(f"/proc/self/fd/{directory}/{API}")
            s.sendall(jsonio.dumps(request).encode())
            s.shutdown(socket.SHUT_WR)
            reply = b""
            while chunk := s.recv(4096):
                reply += chunk
    finally:
        os.close(directory)
    try:
        return jsonio.loads(reply or b"{}")
    except ValueError:
        return reply.decode(errors="replace")


def _readable(fd: int, timeout: float) -> bool:
    """poll(), not select(): a long-lived caller's fds may number past select's 1024."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(timeout * 1000))


def is_stack(pid: int) -> bool:
    """True for a live slirp4netns: never signal a reused pid."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            comm, _, rest = f.read().partition(" (")[2].rpartition(") ")
    except (FileNotFoundError, ProcessLookupError):
        return False
    return comm == "slirp4netns" and rest.split()[0] != "Z"


def stop(pid: int, wait: bool = True) -> None:
    """End the stack (idempotent; its keeper follows). With `wait`, return once it is gone, so that
    its published ports are free for the next container; that takes the 30-40 ms of its exit, which
    a stack without ports need not be waited for."""
    if not is_stack(pid):
        return
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        signal.pidfd_send_signal(handle, signal.SIGTERM)
        if wait and not _readable(handle, STOP_TIMEOUT):
            signal.pidfd_send_signal(handle, signal.SIGKILL)
            _readable(handle, STOP_TIMEOUT)
    except ProcessLookupError:
        pass
    finally:
        os.close(handle)

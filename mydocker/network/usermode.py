"""The user-mode network stack of a rootless container's default network: passt's `pasta`.

An ordinary user cannot make a veth into the host's network namespace, so a process of the user's
own (the stack) holds a tap device inside the container's netns and turns its packets into ordinary
sockets on the host, as podman's rootless networking does. The container sees

    eth0 10.0.2.100/24, default route via 10.0.2.2, DNS 10.0.2.3

(slirp4netns's layout, which rootless users of podman know); 10.0.2.2 is the host's loopback
(pasta's --map-gw: a connection to the gateway leaves the host from 127.0.0.1) and 10.0.2.3 forwards
to the host's first nameserver. `-p` publishes the container's ports on the host through pasta's own
listening sockets (spliced, not through a user-space TCP stack).

Why pasta and not slirp4netns. Both are Debian packages (passt 0.0~git20230309, slirp4netns 1.2.0)
and both are what podman runs here. Measured on this machine as an ordinary user (2 cores shared by
8 busy engineers: noisy), a netns held by `unshare --user --map-root-user --net`, median of 5-6:
  - time to a ready, configured netns: slirp4netns 2.7 ms (2.8 ms with one -p, which is an API-socket
    call after the ready fd); pasta 20 ms (19 ms with one -p, given on the command line), of which
    ~8 ms is its socket-pool set-up; -4 and --no-dhcp/ndp/ra change nothing measurable.
  - outbound to a server on the host's 127.0.0.1: both work (slirp4netns via 10.0.2.2 unless
    --disable-host-loopback; this pasta via its gateway address, --map-gw, so with `-g 10.0.2.2` the
    same 10.0.2.2).
  - inbound through a published port: both work; slirp4netns's hostfwd goes through libslirp's TCP
    stack and the container sees every client as 10.0.2.2; pasta splices host socket to netns socket.
  - lifetime: neither exits when the netns's last holder goes (the tap fd keeps the netns alive, and
    tun files hold a netns reference). pasta given a netns *path* watches its directory and quits
    when the path is deleted (`--no-netns-quit` turns that off): that is exactly `netns.remove()` of
    the engine's pinned netns. slirp4netns quits only on its --exit-fd closing, which needs a process
    to hold the other end for the container's life (podman hands it to conmon).
pasta costs ~17 ms more per start; it wins on lifetime (no holder process, no fd to hand on, nothing
left after a crash once the pin goes), on -p (no API round trips, real client addresses, speed) and
on one exec instead of exec + API calls. (Newer pasta also quits when a /proc/PID target exits and has
a --ready fd; this one signals readiness by its parent exiting after the netns is configured, with
the daemon's pid in the -P file, which is what start() waits for.)

Lifetime: the netns "goes away" when its pin path is deleted. For a `/proc/<pid>/ns/net` path pasta
cannot watch (procfs sends no inotify events), so the caller stop()s it.

User networks between one user's containers (podman's rootless netns: a per-user netns holding a
bridge, with one pasta/slirp4netns for the netns and veths to the containers) are not done: it needs
the engine's network service to create the bridge driver's networks inside that netns rather than
the host's (the driver protocol has no notion of "which netns is the host"), a keeper for the
per-user netns, and the port forwards moved from the container's netns to it; that is the engine's
side of rlcore's work and came after this module.
"""

from __future__ import annotations

import errno
import os
import signal

from mydocker.errors import RuntimeFailure
from mydocker.lazy import lazy_module

subprocess = lazy_module("subprocess")
select = lazy_module("select")

NAMESERVER = "10.0.2.3"
ADDRESS, PREFIX, GATEWAY = "10.0.2.100", 24, "10.0.2.2"
IFNAME = "eth0"
TUN = "/dev/net/tun"
TUN_DENIED = (f'open("{TUN}"): Permission denied: rootless networking needs the device readable and writable '
              f"by users: run (as root) chmod 0666 {TUN}")
TUN_MISSING = (f'open("{TUN}"): No such file or directory: rootless networking needs the tun device: '
               "run (as root) modprobe tun")
START_TIMEOUT = 30.0
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


def _forwards(ports: list[list], proto: str) -> str:
    """pasta's -t/-u spec: "[host_ip/]host_port:container_port,..." or "none"."""
    specs = [f"{host_ip + '/' if host_ip else ''}{host_port}:{container_port}"
             for kind, host_ip, host_port, container_port in ports if kind == proto]
    return ",".join(specs) or "none"


def command(netns: str, userns: str | None, ports: list[list], pidfile: str) -> list[str]:
    """pasta's command line: IPv4 only (Docker's default network has no IPv6 either), no forwarding
    from the netns to the host's ports (-T/-U) besides the gateway's mapping to loopback."""
    argv = ["pasta", "--config-net", "--quiet", "-4", "-I", IFNAME, "-a", ADDRESS, "-n", str(PREFIX),
            "-g", GATEWAY, "--dns-forward", NAMESERVER, "-t", _forwards(ports, "tcp"), "-u", _forwards(ports, "udp"),
            "-T", "none", "-U", "none", "-P", pidfile]
    if userns:
        argv += ["--userns", userns]
    return argv + ["--netns", netns]


def _complaint(stderr: str) -> str:
    """pasta's own lines, without its complaints about a missing syslog."""
    lines = [line.strip() for line in stderr.splitlines()
             if line.strip() and not line.startswith("Failed to send") and "syslog" not in line]
    return "; ".join(lines[-3:]) or "no message"


def start(netns: str, userns: str | None, ports: list[list], state_dir: str) -> int:
    """Connect the netns at `netns` (of the user namespace at `userns`; None: the caller is in it)
    to the host, publish `ports` ([[proto, host_ip, host_port, container_port], ...]) and return the
    stack's pid once the netns is configured. Nothing of a failed start is left running."""
    check_tun()
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    pidfile = os.path.join(state_dir, f"pasta-{os.getpid()}-{os.urandom(4).hex()}.pid")
    try:
        # pasta configures the netns, then forks its daemon, writes the pid file and exits 0: its
        # exit is the ready signal.
        try:
            done = subprocess.run(command(netns, userns, ports, pidfile), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                  timeout=START_TIMEOUT, close_fds=True)
        except FileNotFoundError:
            raise RuntimeFailure("pasta not found: rootless networking needs passt's pasta: install the "
                                 "`passt` package, or run with --network none") from None
        except subprocess.TimeoutExpired:
            _stop_from(pidfile)
            raise RuntimeFailure(f"pasta did not configure {netns} in {START_TIMEOUT:.0f} s") from None
        if done.returncode != 0:
            _stop_from(pidfile)
            if "tun" in done.stderr:  # "Failed to open tun socket in namespace": say why, as check_tun does
                check_tun()
            raise RuntimeFailure(f"pasta failed to connect {netns}: {_complaint(done.stderr)}")
        pid = _read_pid(pidfile)
        if pid is None:
            raise RuntimeFailure(f"pasta started but wrote no pid to {pidfile}")
        return pid
    finally:
        try:
            os.unlink(pidfile)
        except FileNotFoundError:
            pass


def _read_pid(pidfile: str) -> int | None:
    try:
        with open(pidfile) as f:
            text = f.read().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def _stop_from(pidfile: str) -> None:
    pid = _read_pid(pidfile)
    if pid:
        stop(pid)


def _is_pasta(pid: int) -> bool:
    """True for a live pasta (its binary is passt or passt.avx2): never signal a reused pid."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            comm = f.read().strip()
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return comm.startswith(("passt", "pasta")) and state != "Z"


def stop(pid: int) -> None:
    """End the stack (idempotent), waiting until it is gone: its listening sockets (published ports)
    are free when this returns."""
    if not _is_pasta(pid):
        return
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        os.kill(pid, signal.SIGTERM)
        poller = select.poll()
        poller.register(handle, select.POLLIN)
        if not poller.poll(STOP_TIMEOUT * 1000):
            signal.pidfd_send_signal(handle, signal.SIGKILL)
            poller.poll(STOP_TIMEOUT * 1000)
    except ProcessLookupError:
        pass
    finally:
        os.close(handle)

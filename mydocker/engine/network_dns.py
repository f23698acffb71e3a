"""The engine's side of the embedded resolver of user networks (mydocker/network/dnsserver.py).

Whenever a container joins or leaves a user network (or is renamed), the network service calls
`sync` with its lock held: each network's file (mydocker/network/dnszone.py) is written from the
records, then the root's resolver reads them again, or is started if none runs. Starting costs the
caller a spawn and no wait: the sockets are bound and the resolver's pid file is locked here and
handed to it, so a bind failure is known at once and a second start cannot race the first. The
resolver exits by itself when the last container has left (it takes this same lock to do so).

Only bridge networks other than the default one have it, as in Docker (the default bridge has
none; overlay networks resolve peers of other hosts through /etc/hosts).
"""

from __future__ import annotations

import _socket  # not `socket`: its enums cost ~3 ms on every user-network run
import fcntl
import os
import sys

from mydocker.engine.network_schema import DEFAULT_NETWORK
from mydocker.engine.network_store import NetworkStore
from mydocker.lazy import lazy_module

dnszone = lazy_module("mydocker.network.dnszone")
dnsserver = lazy_module("mydocker.network.dnsserver")
etcfiles = lazy_module("mydocker.network.etcfiles")
fs = lazy_module("mydocker.linux.fs")
jsonio = lazy_module("mydocker.jsonio")
signal = lazy_module("signal")

CONTROL = "control.sock"     # dnsserver.CONTROL, without loading it
PIDFILE = "server.pid"       # dnsserver.PIDFILE
LOG = "dns.log"              # the resolver's stderr, in the runroot
REPLY_TIMEOUT = 5.0
UNSERVED = ".unserved"       # next to a network's file while port 53 of its gateway is someone else's


def has_embedded_dns(net) -> bool:
    return net is not None and net.name != DEFAULT_NETWORK and net.driver == "bridge"


class EmbeddedDns:
    def __init__(self, store: NetworkStore, runroot: str, lock_path: str, place=None,
                 upstreams: list[str] | None = None) -> None:
        """place: the rootless netns (engine/network_rootless.py) the resolver runs in, None: the
        host's; upstreams: where it forwards other names (None: the host's resolvers)."""
        self.place = place
        self.upstreams = upstreams
        self.store = store
        self.runroot = runroot
        self.directory = os.path.join(runroot, "dns")
        self.lock_path = lock_path

    def sync(self, networks: set[str]) -> dict[str, str]:
        """Write these networks' files and have the resolver read them (call with the network lock
        held). Returns, for each network that has containers, "" when it is served, else why not."""
        changed, wait = False, False
        for name in networks:
            net = self.store.find(name)
            if not has_embedded_dns(net):
                continue
            changed = True
            doc = self.document(net)
            path = dnszone.path(self.directory, net.name)
            if doc["records"]:
                # new to the resolver, or unserved so far: whether it has port 53 now is wanted
                wait = wait or not os.path.exists(path) or os.path.exists(path + UNSERVED)
                dnszone.write(self.directory, net.name, doc)
            else:
                dnszone.remove(self.directory, net.name)
                fs.remove_file(path + UNSERVED)
        if not changed:
            return {}
        status = self._tell(wait)
        for name, problem in status.items():
            if problem:
                with open(dnszone.path(self.directory, name) + UNSERVED, "w") as f:
                    f.write(problem + "\n")
            else:
                fs.remove_file(dnszone.path(self.directory, name) + UNSERVED)
        return status

    def served(self, network: str) -> bool:
        """Whether the resolver listens on the network (as far as the last join learnt)."""
        path = dnszone.path(self.directory, network)
        return os.path.exists(path) and not os.path.exists(path + UNSERVED)

    def document(self, net) -> dict:
        records = []
        for ep in self.store.endpoints(network=net.name):
            sb = self.store.sandbox(ep.container)
            if sb is None:
                continue
            names = [sb.name, *ep.aliases, ep.container[:12], sb.hostname]
            dns = [] if net.internal else self.store.settings(ep.container).dns
            records.append({"ip": ep.ip, "id": ep.container, "names": list(dict.fromkeys(names)), "dns": dns})
        # an internal network reaches nothing outside: its names only (Docker does not forward there either)
        upstreams = [] if net.internal else (self.upstreams or host_nameservers())
        return {"gateway": net.gateway, "subnet": net.subnet, "upstreams": upstreams, "records": records}

    def _tell(self, wait: bool) -> dict[str, str]:
        """Have the resolver read the files, or start it. `wait`: a network is new to it, and
        whether it could have port 53 there is wanted; else the request is left in its backlog."""
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        pid_fd = os.open(os.path.join(self.directory, PIDFILE), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(pid_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return self._reload(wait)  # it runs
            return self._start(pid_fd)
        finally:
            os.close(pid_fd)  # a started resolver holds the lock through its own copy

    def _reload(self, wait: bool) -> dict[str, str]:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        try:
            sock.settimeout(REPLY_TIMEOUT)
            sock.connect(os.path.join(self.directory, CONTROL))
            sock.sendall(b"reload")
            if not wait:
                return {}
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
            return jsonio.loads(reply)
        except (OSError, ValueError):
            return {}  # it is slow or exiting: its state is not known, the files are right
        finally:
            sock.close()

    def _start(self, pid_fd: int) -> dict[str, str]:
        """No resolver runs: bind what the files ask for and start one with it."""
        gateways = dnszone.gateways(self.directory)
        if not gateways:  # nothing to serve (the last container left after the resolver did)
            fs.remove_file(os.path.join(self.directory, PIDFILE))  # ours while we hold its lock and the network's
            return {}
        if self.place is not None:  # bound and spawned inside the rootless netns, where the gateways are
            return self.place.run(self._serve, pid_fd, gateways)
        return self._serve(pid_fd, gateways)

    def _serve(self, pid_fd: int, gateways: dict) -> dict[str, str]:
        status, fds, specs = {}, [], []
        try:
            for name, address in gateways.items():
                try:
                    udp, tcp = dnsserver.bind(address)
                except OSError as e:
                    status[name] = dnsserver.bind_problem(address, e)
                    continue
                status[name] = ""
                fds += [udp, tcp]
                specs.append((name, udp, tcp))
            try:
                control = dnsserver.control_listener(os.path.join(self.directory, CONTROL))
                fds.append(control)
                self._spawn(pid_fd, control, specs)
            except OSError as e:  # its containers go on with the host's resolvers
                return {name: f"the resolver cannot start: {e}" for name in gateways}
        finally:
            for s in fds:
                s.close()
        return status

    def _spawn(self, pid_fd: int, control, specs: list) -> None:
        """posix_spawn (no fork of this process, no subprocess import), in a session of its own, with
        exactly these descriptors: stdin and stdout /dev/null, stderr the log, then ours from 3."""
        handed = [pid_fd, control.fileno()] + [s.fileno() for _n, udp, tcp in specs for s in (udp, tcp)]
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100) for fd in handed]  # out of the targets' way
        try:
            actions = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                       (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
                       (os.POSIX_SPAWN_OPEN, 2, os.path.join(self.runroot, LOG), os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                        0o600)]
            actions += [(os.POSIX_SPAWN_DUP2, fd, 3 + i) for i, fd in enumerate(high)]
            targets = set(range(3 + len(high)))
            for entry in os.listdir("/proc/self/fd"):  # none of the caller's (a client's pipe would stay open)
                fd = int(entry)
                if fd not in targets and fd not in high:
                    try:
                        if os.get_inheritable(fd):
                            actions.append((os.POSIX_SPAWN_CLOSE, fd))
                    except OSError:
                        pass
            networks = [f"{name}={5 + 2 * i},{6 + 2 * i}" for i, (name, _u, _t) in enumerate(specs)]
            package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            paths = list(dict.fromkeys([package_parent, *sys.path]))
            code = f"import sys; sys.path[:0] = {paths!r}; from mydocker.network.dnsserver import main; main()"
            argv = [sys.executable, "-I", "-S", "-c", code, self.directory, self.lock_path, "4", "3", *networks]
            # the caller may ignore signals (the monitor ignores SIGTERM): the resolver must not
            pid = os.posix_spawn(sys.executable, argv, os.environ, file_actions=actions, setsid=True, setsigmask=(),
                                 setsigdef=(signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE))
            os.ftruncate(pid_fd, 0)
            os.pwrite(pid_fd, f"{pid}\n".encode(), 0)
        finally:
            for fd in high:
                os.close(fd)


def host_nameservers() -> list[str]:
    """The host's resolvers as /etc/resolv.conf names them, loopback ones included: the resolver
    forwards from the host's network namespace, where they answer."""
    return etcfiles.host_nameservers(etcfiles.read_host_resolv())

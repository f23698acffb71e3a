"""The rootless default network: a per-container user-mode stack (pasta or slirp4netns, driven by
network/usermode.py) that gives the container's own network namespace outbound access and
publishes its -p ports on the host. The network service starts it once the netns is pinned (before
the container starts) and stops it when the container is detached; it also exits by itself once the
netns is gone. Its pid is kept in <state_dir>/pid, so `rm` after a crash still finds it.

One seam: network/usermode.py (owned by the user-mode networking work) is imported here alone.
"""

from __future__ import annotations

import os

from mydocker.errors import NotSupported

PID_FILE = "pid"
PORTS_FILE = "ports.json"          # what it publishes, for `mydocker port`


def _stack():
    try:
        from mydocker.network import usermode
    except ImportError:
        raise NotSupported("the rootless default network needs the user-mode network stack, which this build "
                           "lacks: use --network none or --network host") from None
    return usermode


def start(netns: str, ports: list, state_dir: str) -> int:
    """Start the stack for the pinned `netns` (we are inside its user namespace already), publishing
    `ports` ([[proto, host_ip, host_port, container_port], ...]); its pid, recorded first."""
    stack = _stack()  # its start() checks /dev/net/tun first, with the one-line message and fix
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    from mydocker import jsonio
    with open(os.path.join(state_dir, PORTS_FILE), "w") as f:
        f.write(jsonio.dumps(ports))
    pid = stack.start(netns, None, ports, state_dir)
    with open(os.path.join(state_dir, PID_FILE), "w") as f:
        f.write(f"{pid}\n")
    return pid


def stop(state_dir: str) -> None:
    """Stop the container's stack if it runs, and forget it (idempotent)."""
    path = os.path.join(state_dir, PID_FILE)
    try:
        with open(path) as f:
            pid = int(f.read().strip() or 0)
    except (FileNotFoundError, ValueError):
        pid = 0
    if pid > 0:  # waited for only when its ports must be free for the next container
        _stack().stop(pid, wait=bool(published(state_dir)))
    from mydocker.linux.fs import remove_tree
    remove_tree(state_dir)


def published(state_dir: str) -> list[tuple[str, str, int]]:
    """("80/tcp", host_ip, host_port) for each port the container's stack publishes."""
    from mydocker import jsonio
    try:
        with open(os.path.join(state_dir, PORTS_FILE)) as f:
            rows = jsonio.loads(f.read())
    except FileNotFoundError:
        return []
    return [(f"{cport}/{proto}", host_ip or "0.0.0.0", host_port) for proto, host_ip, host_port, cport in rows]


def nameserver() -> str:
    """The address a container's resolv.conf names: the stack's DNS forwarder."""
    return _stack().NAMESERVER

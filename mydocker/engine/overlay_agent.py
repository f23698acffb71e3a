"""The overlay agent: one process per engine root while it has overlay endpoints, watching the
cluster store so that this host's forwarding entries and its containers' /etc/hosts follow every
endpoint other hosts add or remove; it also renews this host's lease in the store.

`python3 -m mydocker.engine.overlay_agent <root> <runroot>`, started by the network service on the
first overlay endpoint (overlay_agent_control.py); it exits when the root has none left. It is its
own process, not a part of the monitor: the monitor forks containers (no threads, no blocking calls
allowed) and exits when idle, while the overlay needs a watcher as long as an endpoint exists; the
agent is single-threaded anyway (select on the watch socket). When etcd is away it keeps the kernel
state as it is (traffic keeps flowing) and reconnects with backoff; every (re)connection is a full
read of the endpoint records, applied, then a watch from just after that read (see `agent`).

The host side is the overlay driver's (mydocker/network/overlay.py); the records are the network
service's.
"""

from __future__ import annotations

import os
import sys
import time

from mydocker.engine.overlay_agent_control import pidfile
from mydocker.errors import RuntimeFailure
from mydocker.lazy import lazy_module

fcntl = lazy_module("fcntl")
signal = lazy_module("signal")
engine = lazy_module("mydocker.engine.engine")
cluster = lazy_module("mydocker.network.cluster")
overlay = lazy_module("mydocker.network.overlay")

CHECK = 5.0                      # seconds between the agent's checks that its watch missed nothing
BACKOFF_MAX = 5.0                # seconds at most between the agent's reconnection attempts


def local_endpoints(networks) -> list:
    """(endpoint, container name) of every overlay endpoint of this engine root."""
    out = []
    for net in networks.networks():
        if net.driver == "overlay":
            for ep in networks.endpoints(network=net.name):
                sb = networks.sandbox(ep.container)
                out.append((ep, sb.name if sb else ep.container[:12]))
    return out


def sync_all(networks, records: dict[str, list[dict]], only: set | None = None) -> bool:
    """Re-sync the overlay networks with local endpoints (those in `only`, else all) from `records`
    (network -> its endpoint records); False when no local overlay endpoint is left."""
    busy = False
    for net in networks.networks():
        if net.driver == "overlay" and networks.endpoints(network=net.name):
            busy = True
            if only is not None and net.name not in only:
                continue
            try:
                with networks.lock():
                    networks.sync_network(net, records.get(net.name, []))
            except RuntimeFailure as e:  # its last container left meanwhile, with the devices
                print(f"overlay agent: {e}", file=sys.stderr, flush=True)
    return busy


def agent(root: str, runroot: str) -> int:
    """Watch the endpoint records and keep this host's forwarding entries and hosts files current.

    (Re)connecting is always: one full read of every endpoint record, applied, then a watch from the
    revision just after that read, so nothing between the two is missed. Any failure of the watch
    (etcd gone or restarted, the stream cut, a cancel for a compacted revision, garbage) drops it and
    reconnects that way, with backoff, while the kernel state stays as it is (traffic keeps flowing).
    Every CHECK seconds a fresh read is compared with what the watch delivered: a watch that went
    silent (a gateway that accepts it and never delivers, a peer gone without closing) is dropped too.
    """
    fd = os.open(pidfile(runroot), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another agent won the race
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    networks = engine.Engine(root, runroot).networks
    driver = networks.driver("overlay")
    prefix = f"{cluster.PREFIX}endpoints/"

    def busy() -> bool:
        return any(n.driver == "overlay" and networks.endpoints(network=n.name) for n in networks.networks())

    def sync(records: dict[str, list[dict]], only: set | None = None) -> bool:
        return sync_all(networks, records, only)

    watch, state, lease = None, {}, 0
    renewed = checked = 0.0
    backoff, suspect = 0.0, False
    while True:
        try:
            if watch is None:
                kvs, revision = driver.store.etcd.get_prefix(prefix)
                state = {kv.key: kv.value for kv in kvs}
                if not sync(overlay.endpoints_by_network(state)):
                    return 0
                watch = driver.store.etcd.watch_prefix(prefix, revision + 1)
                if backoff:
                    print(f"overlay agent: watching again from revision {revision + 1}", file=sys.stderr, flush=True)
                backoff, checked, suspect = 0.0, time.monotonic(), False
            if time.monotonic() - renewed > cluster.LEASE_TTL / 3:
                lease = driver.renew(lease, lambda: local_endpoints(networks))
                renewed = time.monotonic()
            changed = overlay.apply_events(state, watch.events(1.0))
            if changed:
                if not sync(overlay.endpoints_by_network(state), changed):
                    return 0
            elif not busy():
                return 0
            elif time.monotonic() - checked > CHECK:
                checked = time.monotonic()
                fresh = {kv.key: kv.value for kv in driver.store.etcd.get_prefix(prefix)[0]}
                changed = overlay.apply_events(state, watch.events(0))  # what was in flight during the read
                if changed and not sync(overlay.endpoints_by_network(state), changed):
                    return 0
                if fresh == state:
                    suspect = False
                elif suspect:
                    raise WatchLost("the watch missed changes of the store")
                else:  # maybe just in flight (a change between the read and the drain): look again in 1 s
                    suspect, checked = True, checked - CHECK + 1.0
        except Exception as e:  # noqa: BLE001 - the agent outlives any failure; it retries
            print(f"overlay agent: {e if str(e) else type(e).__name__}; resyncing", file=sys.stderr, flush=True)
            if watch is not None:
                watch.close()
            watch = None
            backoff = min(BACKOFF_MAX, max(0.25, backoff * 2))
            time.sleep(backoff)
            try:
                if not busy():
                    return 0
            except Exception:  # noqa: BLE001 - the records unreadable for a moment: try again
                pass


class WatchLost(Exception):
    """The watch stream is alive but did not deliver every change."""


if __name__ == "__main__":
    sys.exit(agent(sys.argv[1], sys.argv[2]))

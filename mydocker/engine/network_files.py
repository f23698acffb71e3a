"""Each sandbox's /etc/hosts, /etc/hostname and /etc/resolv.conf, kept current from the records.

The files live in the container's directory, <root>/containers/<container> (containers made before
that: <root>/network/sandboxes/<container>), and are bind-mounted over the image's; the
text itself is made by mydocker/network/etcfiles.py. Peers on a user network find each other through
/etc/hosts, so a container joining or leaving rewrites the hosts file of every container that shares
a user network with it. Containers on other hosts (overlay) come from `remote_peers`.
"""

from __future__ import annotations

import os
from _collections_abc import Callable  # not collections.abc: it imports all of collections

from mydocker.engine.network_schema import DEFAULT_NETWORK, Sandbox
from mydocker.engine.network_store import NetworkStore
from mydocker.lazy import lazy_module

etcfiles = lazy_module("mydocker.network.etcfiles")

# (address, names) lines of other hosts' containers on these networks
RemotePeers = Callable[[set], list[tuple[str, list]]]


class SandboxFiles:
    def __init__(self, store: NetworkStore, files_dir: str, remote_peers: RemotePeers,
                 legacy_dir: str | None = None) -> None:
        self.store = store
        self.files_dir = files_dir
        self.legacy_dir = legacy_dir  # where sandboxes recorded before kept theirs, each in a directory of its own
        self.remote_peers = remote_peers

    def directory(self, container_id: str) -> str:
        return os.path.join(self.files_dir, container_id)

    def prepare(self, sb: Sandbox, host: bool = False, resolver: str | None = None,
                nameservers: list[str] | None = None) -> list[dict]:
        """Write the three files of a new sandbox (with --network host: the host's own hosts file;
        `resolver`: its user network's embedded DNS address; `nameservers`: the sandbox's own, a
        user-mode stack's forwarder, unless --dns names others); return the config.json mounts that put
        them over the image's."""
        os.makedirs(sb.files, mode=0o755, exist_ok=True)
        if host:
            try:
                with open("/etc/hosts") as f:
                    hosts_text = f.read()
            except OSError:
                hosts_text = etcfiles.hosts([], [])
            hosts_text += "".join(f"{ip}\t{name}\n" for name, ip in self.extra_hosts(sb))
        else:
            hosts_text = None
        etcfiles.write_in_place(os.path.join(sb.files, "hostname"), sb.hostname + "\n")
        self.write_resolv(sb, host, resolver, nameservers)
        if hosts_text is not None:
            etcfiles.write_in_place(os.path.join(sb.files, "hosts"), hosts_text)
        else:
            self.write_hosts(sb)
            self.refresh_peers(sb.container)
        return etcfiles.mounts(sb.files)

    def write_resolv(self, sb: Sandbox, host: bool = False, resolver: str | None = None,
                     nameservers: list[str] | None = None) -> None:
        """resolv.conf: the embedded resolver at `resolver` (a user network's gateway), else the
        sandbox's own `nameservers` (a user-mode stack's) or the host's resolvers, each as --dns,
        --dns-search and --dns-option ask."""
        settings = self.store.settings(sb.container)
        resolv = etcfiles.resolv_conf(etcfiles.read_host_resolv(), host_netns=host,
                                      nameservers=settings.dns or nameservers or [],
                                      search=settings.dns_search, options=settings.dns_options,
                                      embedded=resolver)
        etcfiles.write_in_place(os.path.join(sb.files, "resolv.conf"), resolv)

    def write_hosts(self, sb: Sandbox) -> None:
        own, peers = [], []
        user_nets = set()
        for ep in self.store.endpoints(container=sb.container):
            user = ep.network != DEFAULT_NETWORK
            own.append((ep.ip, [sb.hostname] + ([sb.name, *ep.aliases] if user else [])))
            if user:
                user_nets.add(ep.network)
        if not own and sb.mode == "none":
            own.append(("127.0.0.1", [sb.hostname]))
        links = self.store.settings(sb.container).links
        for network in sorted(user_nets):
            for ep in self.store.endpoints(network=network):
                other = self.store.sandbox(ep.container)
                if ep.container != sb.container and other:
                    linked = [alias for name, alias in links if name in (other.name, ep.container, ep.container[:12])]
                    peers.append((ep.ip, [other.name, *ep.aliases, ep.container[:12], *linked]))
        peers += self.remote_peers(user_nets) if user_nets else []
        etcfiles.write_in_place(os.path.join(sb.files, "hosts"), etcfiles.hosts(own, peers, self.extra_hosts(sb)))

    def extra_hosts(self, sb: Sandbox) -> list[tuple[str, str]]:
        """--add-host entries, host-gateway as the gateway of the container's first network (the
        host's address there), else of the default bridge; left out if there is neither."""
        out = []
        for name, address in self.store.settings(sb.container).extra_hosts:
            if address == "host-gateway":  # resolution.HOST_GATEWAY, without loading that module
                endpoints = self.store.endpoints(container=sb.container)
                net = self.store.find(endpoints[0].network if endpoints else DEFAULT_NETWORK)
                if net is None:
                    continue
                address = net.gateway
            out.append((name, address))
        return out

    def rewrite_hosts(self, network: str) -> None:
        """Rewrite the hosts file of every local container on the network."""
        for ep in self.store.endpoints(network=network):
            sb = self.store.sandbox(ep.container)
            if sb and sb.mode == "bridge" and os.path.isdir(sb.files):
                self.write_hosts(sb)

    def refresh_peers(self, container_id: str, networks: set | None = None) -> None:
        """Rewrite /etc/hosts of every container sharing a user network with this one."""
        if networks is None:
            networks = {e.network for e in self.store.endpoints(container=container_id)}
        done = {container_id}
        for network in networks - {DEFAULT_NETWORK}:
            for ep in self.store.endpoints(network=network):
                if ep.container in done:
                    continue
                done.add(ep.container)
                sb = self.store.sandbox(ep.container)
                if sb and sb.mode == "bridge" and os.path.isdir(sb.files):
                    try:
                        self.write_hosts(sb)
                    except FileNotFoundError:  # the peer's directory went to the trash after the check:
                        pass  # it is being removed, and its hosts file with it

    def remove(self, sb: Sandbox) -> None:
        """Delete the sandbox's files (and a directory of their own, as sandboxes recorded before the
        files moved into the container's directory have); files the service did not make for this
        container (a --network container: sandbox shares its target's) are left alone."""
        parent = os.path.dirname(sb.files)
        if os.path.basename(sb.files) != sb.container or parent not in (self.files_dir, self.legacy_dir):
            return
        for name in etcfiles.NAMES:
            try:
                os.unlink(os.path.join(sb.files, name))
            except FileNotFoundError:
                pass
        if parent == self.legacy_dir:
            try:
                os.rmdir(sb.files)
            except OSError:
                pass

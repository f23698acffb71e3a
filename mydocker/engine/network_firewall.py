"""The engine root's nft table, made from its network records: NAT, published ports, isolation.

The rules depend on the networks alone and are rebuilt when a network is made or removed; a
container's published ports are map elements added when it joins and deleted before its record
goes. So a container without -p on an existing network costs no nft process, one with -p one at
start and one at removal. The records stay the source of truth: the whole table can always be
rebuilt from them (`network reconcile`, and any element change that nft refuses).
"""

from __future__ import annotations

from mydocker.engine.network_store import NetworkStore
from mydocker.errors import RuntimeFailure
from mydocker.network.driver import Endpoint, Network
from mydocker.lazy import lazy_module

firewall = lazy_module("mydocker.network.firewall")


class Firewall:
    def __init__(self, store: NetworkStore, table: str, place=None) -> None:
        """place: the rootless netns (engine/network_rootless.py) the table lives in; None: the host's."""
        self.store = store
        self.table = table
        self.place = place

    def _absent(self) -> bool:
        """The rootless netns is down: no table to change (the next one gets it whole)."""
        if self.place is None or self.place.is_up():
            return False
        self.forget()
        return True

    def _apply(self, text: str) -> None:
        if self.place is None:
            firewall.apply(self.table, text)
        else:
            self.place.run(firewall.apply, self.table, text)

    def networks(self) -> list[Network]:
        """The networks whose rules the table holds: every one recorded. The default root keeps its
        default network and so its rules (as Docker keeps docker0's); a private root's goes with
        its last container."""
        return self.store.networks()

    def rebuild(self, force: bool = False) -> bool:
        """Replace the table with what the records say, unless the network rules applied last in this
        boot are the same (call with the root's network lock held). True if it was rebuilt."""
        if self._absent():
            return False
        nets = self.networks()
        ruleset = firewall.Ruleset(self.table, [firewall.Net(n.bridge, n.subnet, n.internal) for n in nets])
        text = _boot_id() + firewall.batch(ruleset)  # after a reboot the table is gone
        if not force and self.store.applied_ruleset(self.table) == text:
            return False
        self.forget()  # first: a crash in between makes the next change rebuild
        names = {n.name for n in nets}
        ruleset.ports = [p for ep in self.store.endpoints() if ep.network in names for p in self._ports(ep)]
        self._apply(firewall.batch(ruleset))
        self.store.set_applied_ruleset(self.table, text)
        return True

    def forget(self) -> None:
        """The table no longer matches the records: the next change rebuilds it whole."""
        self.store.set_applied_ruleset(self.table, None)

    def publish(self, ep: Endpoint) -> None:
        """A recorded endpoint's ports into the maps: the rebuild instead if its network's rules are
        not in place yet (the network was just made, or the host rebooted)."""
        if not self.rebuild() and ep.ports:
            self._change(add=self._ports(ep))

    def unpublish(self, ep: Endpoint) -> None:
        """An endpoint's ports out of the maps, while its record still says which they are;
        idempotent (after a crash they may never have been added)."""
        if ep.ports and not self._absent():
            self._change(remove=self._ports(ep))

    def _change(self, add: list | None = None, remove: list | None = None) -> None:
        try:
            self._apply(firewall.port_batch(self.table, add, remove))
        except RuntimeFailure:  # the table was deleted or changed behind our back: the records win
            self.rebuild(force=True)


    def _ports(self, ep: Endpoint) -> list:
        """The endpoint's map elements. In the rootless netns every forward arrives at the netns's own
        address (slirp4netns bound the host address), so the host address is no key there."""
        return [firewall.Port(ep.container, proto, host_port, ep.ip, cport, host_ip if self.place is None else "")
                for proto, host_ip, host_port, cport in ep.ports]


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""

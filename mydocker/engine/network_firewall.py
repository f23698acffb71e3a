"""The engine root's nft table, made from its network records: NAT, published ports, isolation."""

from __future__ import annotations

from mydocker import jsonio as json  # the C codec alone: `import json` brings re and enum
from mydocker.engine.network_store import NetworkStore
from mydocker.network.driver import Network


class Firewall:
    def __init__(self, store: NetworkStore, table: str) -> None:
        self.store = store
        self.table = table

    def active_networks(self) -> list[Network]:
        """Every network: a network's rules live as long as it does, so a container without -p
        changes no rule (no nft transaction when it starts or goes). The default root's default
        network stays (as docker0 does); a private root's goes with its last container
        (NetworkService._retire_default_bridge), its rules with it."""
        return self.store.networks()

    def rebuild(self, force: bool = False) -> None:
        """Replace the table with what the records say (call with the root's network lock held).

        Skipped when the records ask for the ruleset applied last time in this boot: a container
        without -p on an existing network changes no rule, and every nft commit that drops rules
        waits for an RCU grace period (~17 ms here). After an admin's flush, `network reconcile`
        applies it again."""
        from mydocker.network import firewall
        nets = self.active_networks()
        by_name = {n.name: n for n in nets}
        ports = []
        for ep in self.store.endpoints():
            if ep.network in by_name:
                for proto, host_ip, host_port, cport in ep.ports:
                    ports.append(firewall.Port(ep.container, proto, host_port, ep.ip, cport, host_ip))
        ruleset = firewall.Ruleset(self.table, [firewall.Net(n.bridge, n.subnet, n.internal) for n in nets], ports)
        text = _boot_id() + json.dumps(firewall.batch(ruleset))  # after a reboot the table is gone
        if not force and self.store.applied_ruleset(self.table) == text:
            return
        self.store.set_applied_ruleset(self.table, None)  # forget first: a crash in between makes the next change re-apply
        firewall.apply(ruleset)
        self.store.set_applied_ruleset(self.table, text)


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""

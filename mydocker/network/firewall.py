"""NAT, port mapping and isolation as one nftables table, written with `nft -j -f -`.

Why nftables JSON through the `nft` binary: it is what netavark and Docker 29 do, the batch is
applied atomically by the kernel, and the rules show up in `nft list ruleset` in mydocker's own
table (`ip mydocker`, chains MYDOCKER-*), never mixed with the host's or Docker's rules.

The whole table is rebuilt from the engine's records in one batch (flush the table, then add
everything): a container's rules appear or vanish atomically, and `network reconcile` after a
reboot or a flush is the same operation. The caller serialises rebuilds (records transaction).

Published ports from the host itself (127.0.0.1 and the host's own addresses) are DNATed in the
OUTPUT hook; a loopback source routed to a bridge needs `route_localnet` on that bridge (set by
links.ensure_bridge) and a masquerade so the container's reply comes back to the gateway.
"""

from __future__ import annotations

from mydocker.errors import RuntimeFailure
from mydocker.record import factory, record


@record
class Net:
    bridge: str
    subnet: str            # 10.77.0.0/24
    internal: bool = False


@record
class Port:
    container: str         # id: the rule's comment, so a sysadmin can tell whose rule it is
    proto: str             # tcp | udp
    host_port: int
    ip: str                # container address
    port: int              # container port
    host_ip: str = ""      # "" = every host address


@record
class Ruleset:
    table: str
    nets: list[Net] = factory(list)
    ports: list[Port] = factory(list)


def _chain(table: str, name: str, hook: str | None = None, kind: str = "nat", prio: int = 0) -> dict:
    chain = {"family": "ip", "table": table, "name": name}
    if hook:
        chain.update(type=kind, hook=hook, prio=prio, policy="accept")
    return {"add": {"chain": chain}}


def _rule(table: str, chain: str, *expr: dict, comment: str | None = None) -> dict:
    rule = {"family": "ip", "table": table, "chain": chain, "expr": list(expr)}
    if comment:
        rule["comment"] = comment
    return {"add": {"rule": rule}}


def _match(left: dict, right, op: str = "==") -> dict:
    return {"match": {"op": op, "left": left, "right": right}}


def _meta(key: str) -> dict:
    return {"meta": {"key": key}}


def _payload(protocol: str, field: str) -> dict:
    return {"payload": {"protocol": protocol, "field": field}}


def _prefix(cidr: str) -> dict:
    addr, _, length = cidr.partition("/")
    return {"prefix": {"addr": addr, "len": int(length)}}


def batch(rs: Ruleset) -> list[dict]:
    """The nft JSON commands that replace table `rs.table` with exactly `rs` (or remove it)."""
    t = rs.table
    table = {"table": {"family": "ip", "name": t}}
    if not rs.nets:
        return [{"add": table}, {"delete": table}]
    # flush rather than delete: deleting a table waits for an RCU grace period (~17 ms here);
    # the chains are always the same five, and "add chain" of an existing one changes nothing
    out: list[dict] = [{"add": table},
            _chain(t, "MYDOCKER-PREROUTING", "prerouting", prio=-100),
            _chain(t, "MYDOCKER-OUTPUT", "output", prio=-100),
            _chain(t, "MYDOCKER-POSTROUTING", "postrouting", prio=100),
            _chain(t, "MYDOCKER-FORWARD", "forward", kind="filter", prio=0),
            _chain(t, "MYDOCKER-DNAT"),
            {"flush": table}]
    local = _match({"fib": {"result": "type", "flags": ["daddr"]}}, "local")
    out.append(_rule(t, "MYDOCKER-PREROUTING", local, {"jump": {"target": "MYDOCKER-DNAT"}}))
    out.append(_rule(t, "MYDOCKER-OUTPUT", local, {"jump": {"target": "MYDOCKER-DNAT"}}))
    for n in rs.nets:
        if not n.internal:  # egress: the subnet leaves with the host's address
            out.append(_rule(t, "MYDOCKER-POSTROUTING", _match(_payload("ip", "saddr"), _prefix(n.subnet)),
                             _match(_meta("oifname"), n.bridge, "!="), {"masquerade": None}))
        # hairpin: a container reaching a published port (its own too) through a host address;
        # without the masquerade its peer would answer it directly, bypassing the reverse DNAT
        out.append(_rule(t, "MYDOCKER-POSTROUTING", _match(_payload("ip", "saddr"), _prefix(n.subnet)),
                         _match(_meta("oifname"), n.bridge), _match({"ct": {"key": "status"}}, "dnat", "in"),
                         {"masquerade": None}))
        # host-local clients (127.0.0.1 after OUTPUT DNAT): the reply must come back to us
        out.append(_rule(t, "MYDOCKER-POSTROUTING", _match(_payload("ip", "saddr"), _prefix("127.0.0.0/8")),
                         _match(_meta("oifname"), n.bridge), {"masquerade": None}))
        # into a network: replies, published ports (DNATed) and its own members; nothing else,
        # so other mydocker networks (isolation) and routed outsiders cannot reach a container
        into = _match(_meta("oifname"), n.bridge)
        out.append(_rule(t, "MYDOCKER-FORWARD", into, _match({"ct": {"key": "state"}}, ["established", "related"], "in"),
                         {"accept": None}))
        out.append(_rule(t, "MYDOCKER-FORWARD", into, _match({"ct": {"key": "status"}}, "dnat", "in"), {"accept": None}))
        out.append(_rule(t, "MYDOCKER-FORWARD", into, _match(_meta("iifname"), n.bridge), {"accept": None}))
        out.append(_rule(t, "MYDOCKER-FORWARD", into, {"drop": None}))
        if n.internal:  # and nothing out of an internal one
            out.append(_rule(t, "MYDOCKER-FORWARD", _match(_meta("iifname"), n.bridge), {"drop": None}))
    for p in rs.ports:
        expr = []
        if p.host_ip and p.host_ip not in ("0.0.0.0",):
            expr.append(_match(_payload("ip", "daddr"), p.host_ip))
        expr.append(_match(_payload(p.proto, "dport"), p.host_port))
        expr.append({"dnat": {"addr": p.ip, "port": p.port}})
        out.append(_rule(t, "MYDOCKER-DNAT", *expr, comment=p.container[:12]))
    return out


def apply(rs: Ruleset) -> None:
    # imported here: `batch` runs on every bridge `run` (to see whether anything changed), `apply`
    # only when something did; shutil and subprocess cost ~10 ms of start-up (bz2, lzma, selectors)
    import json
    import shutil
    import subprocess
    nft = shutil.which("nft") or "/usr/sbin/nft"
    text = json.dumps({"nftables": batch(rs)})
    try:
        proc = subprocess.run([nft, "-j", "-f", "-"], input=text, capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise RuntimeFailure("bridge networking needs nftables: install the nftables package "
                             "(apt-get install nftables), or use --network none|host") from None
    if proc.returncode != 0:
        detail = " ".join(proc.stderr.split())[:300]
        raise RuntimeFailure(f"nft refused mydocker's rules for table ip {rs.table}: {detail}; "
                             "check `nft list ruleset`, then run `mydocker network reconcile`")

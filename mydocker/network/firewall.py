"""NAT, port mapping and isolation as one nftables table, written with `nft -f -`.

Why nftables through the `nft` binary: it is what netavark and Docker 29 do, a batch is applied
atomically by the kernel, and the rules show up in `nft list ruleset` in mydocker's own table
(`ip mydocker`, chains and maps MYDOCKER-*), never mixed with the host's or Docker's rules. The
batches are nft's text syntax: nft 1.0.6 (Debian 12) cannot read a map with a concatenated value
(address . port) in JSON.

Two kinds of batch, each one nft process and one kernel transaction:
- `batch`: the whole table from the records (flush it, then add everything), when a network is made
  or removed, after a reboot, in `network reconcile`, and whenever a smaller change is refused (an
  admin deleted the table). A table without networks is deleted.
- `port_batch`: a container's published ports as elements of two DNAT maps, added when it starts
  and deleted when it stops; the rules themselves never change then. A container without -p needs
  neither.

Published ports from the host itself (127.0.0.1 and the host's own addresses) are DNATed in the
OUTPUT hook; a loopback source routed to a bridge needs `route_localnet` on that bridge (set by
links.ensure_bridge) and a masquerade so the container's reply comes back to the gateway.
"""

from __future__ import annotations

import os

from mydocker.errors import RuntimeFailure
from mydocker.recordclass import factory, record
from mydocker.lazy import lazy_module

# lazy: `batch` runs on every bridge `run` (to see whether anything changed), `apply` only when
# something did; shutil and subprocess cost ~10 ms of start-up (bz2, lzma, selectors)
shutil = lazy_module("shutil")
subprocess = lazy_module("subprocess")

PORTS = "MYDOCKER-PORTS"            # proto . host port : address . port, on every host address
HOST_PORTS = "MYDOCKER-HOSTPORTS"   # host address . proto . host port : address . port


@record
class Net:
    bridge: str
    subnet: str            # 10.77.0.0/24
    internal: bool = False


@record
class Port:
    container: str         # id: the element's comment, so a sysadmin can tell whose mapping it is
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


def batch(rs: Ruleset) -> str:
    """The nft commands that replace table `rs.table` with exactly `rs` (or remove it)."""
    t = f"ip {rs.table}"
    if not rs.nets:
        return f"add table {t}\ndelete table {t}\n"
    # flush rather than delete: deleting a table waits for an RCU grace period (~17 ms here);
    # the chains and maps are always the same, and adding an existing one changes nothing
    out = [f"add table {t}",
           f"add chain {t} MYDOCKER-PREROUTING {{ type nat hook prerouting priority -100; policy accept; }}",
           f"add chain {t} MYDOCKER-OUTPUT {{ type nat hook output priority -100; policy accept; }}",
           f"add chain {t} MYDOCKER-POSTROUTING {{ type nat hook postrouting priority 100; policy accept; }}",
           f"add chain {t} MYDOCKER-FORWARD {{ type filter hook forward priority 0; policy accept; }}",
           f"add chain {t} MYDOCKER-DNAT",
           f"add map {t} {PORTS} {{ type inet_proto . inet_service : ipv4_addr . inet_service; }}",
           f"add map {t} {HOST_PORTS} {{ type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }}",
           f"flush table {t}", f"flush map {t} {PORTS}", f"flush map {t} {HOST_PORTS}",  # a table flush keeps elements
           f"add rule {t} MYDOCKER-PREROUTING fib daddr type local jump MYDOCKER-DNAT",
           f"add rule {t} MYDOCKER-OUTPUT fib daddr type local jump MYDOCKER-DNAT",
           # the published ports: a miss in a map goes on to the next rule
           f"add rule {t} MYDOCKER-DNAT dnat ip to ip daddr . meta l4proto . th dport map @{HOST_PORTS}",
           f"add rule {t} MYDOCKER-DNAT dnat ip to meta l4proto . th dport map @{PORTS}"]
    for n in rs.nets:
        post, fwd = f"add rule {t} MYDOCKER-POSTROUTING", f"add rule {t} MYDOCKER-FORWARD"
        if not n.internal:  # egress: the subnet leaves with the host's address
            out.append(f'{post} ip saddr {n.subnet} oifname != "{n.bridge}" masquerade')
        # hairpin: a container reaching a published port (its own too) through a host address;
        # without the masquerade its peer would answer it directly, bypassing the reverse DNAT
        out.append(f'{post} ip saddr {n.subnet} oifname "{n.bridge}" ct status dnat masquerade')
        # host-local clients (127.0.0.1 after OUTPUT DNAT): the reply must come back to us
        out.append(f'{post} ip saddr 127.0.0.0/8 oifname "{n.bridge}" masquerade')
        # into a network: replies, published ports (DNATed) and its own members; nothing else,
        # so other mydocker networks (isolation) and routed outsiders cannot reach a container
        out += [f'{fwd} oifname "{n.bridge}" ct state established,related accept',
                f'{fwd} oifname "{n.bridge}" ct status dnat accept',
                f'{fwd} oifname "{n.bridge}" iifname "{n.bridge}" accept',
                f'{fwd} oifname "{n.bridge}" drop']
        if n.internal:  # and nothing out of an internal one
            out.append(f'{fwd} iifname "{n.bridge}" drop')
    if rs.ports:
        out.append(port_batch(rs.table, add=rs.ports).rstrip("\n"))
    return "\n".join(out) + "\n"


def port_batch(table: str, add: list[Port] | None = None, remove: list[Port] | None = None) -> str:
    """Map elements in, or out. Removing adds each element first, so that the batch succeeds
    whether or not it is there (after a crash it may never have been added)."""
    out = []
    for p in add or []:
        out.append(f"add element ip {table} {_map(p)} "
                   f"{{ {_key(p)} comment \"{p.container[:12]}\" : {p.ip} . {p.port} }}")
    for p in remove or []:
        out.append(f"add element ip {table} {_map(p)} {{ {_key(p)} : {p.ip} . {p.port} }}")
        out.append(f"delete element ip {table} {_map(p)} {{ {_key(p)} }}")
    return "".join(line + "\n" for line in out)


def _map(p: Port) -> str:
    return HOST_PORTS if _host_ip(p) else PORTS


def _host_ip(p: Port) -> str:
    return "" if p.host_ip in ("", "0.0.0.0") else p.host_ip


def _key(p: Port) -> str:
    key = f"{p.proto} . {p.host_port}"
    return f"{_host_ip(p)} . {key}" if _host_ip(p) else key


_exiting: list = []   # (nft process, pty fd): committed, still in its ~11 ms exit (see apply)


def apply(table: str, text: str) -> None:
    """One nft transaction: all of `text` or, when nft refuses it, none of it (RuntimeFailure).

    Returns once the kernel has committed, before nft exits: closing nft's netlink socket after a
    transaction that deleted anything waits for an RCU grace period (~11 ms here). With --echo nft
    prints "# new generation" when the commit is acknowledged; through a pty (line-buffered, unlike
    a pipe) that line arrives before the close, and the exit goes on without us."""
    for proc, fd in [e for e in _exiting if e[0].poll() is not None]:
        _exiting.remove((proc, fd))
        os.close(fd)
    nft = shutil.which("nft") or "/usr/sbin/nft"
    try:
        master, slave = os.openpty()
    except OSError:  # no ptys here: a pipe reports at nft's exit, later but as surely
        master, slave = os.pipe()
    try:
        proc = subprocess.Popen([nft, "--echo", "-f", "-"], stdin=subprocess.PIPE, stdout=slave, stderr=slave)
    except FileNotFoundError:
        os.close(master)
        raise RuntimeFailure("bridge networking needs nftables: install the nftables package "
                             "(apt-get install nftables), or use --network none|host") from None
    finally:
        os.close(slave)
    try:
        with proc.stdin:
            proc.stdin.write(text.encode())
    except BrokenPipeError:
        pass  # nft stopped reading: what it says comes below
    output = b""
    while b"# new generation" not in output:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every copy of the pty's other end is closed, nft has exited
            chunk = b""
        if not chunk:
            break
        output += chunk
    if b"# new generation" in output:
        _exiting.append((proc, master))
        return
    proc.wait(timeout=30)
    os.close(master)
    if proc.returncode == 0:  # a batch that changed nothing has no new generation
        return
    detail = " ".join(output.decode(errors="replace").split())[:300]
    raise RuntimeFailure(f"nft refused mydocker's rules for table ip {table} (exit status {proc.returncode}): "
                         f"{detail}; check `nft list ruleset`, then run `mydocker network reconcile`")

"""/etc/hosts, /etc/hostname and /etc/resolv.conf for a container, bind-mounted over the image's.

Peers on a user network resolve each other through /etc/hosts: the files are rewritten in place
(same inode, so the bind mount sees the change) whenever a container joins or leaves.
"""

from __future__ import annotations

import os

_LOCALHOST = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
              "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
# Docker's fallback when the host only has loopback resolvers (systemd-resolved, dnsmasq)
FALLBACK_NAMESERVERS = ("8.8.8.8", "8.8.4.4")
NAMES = ("hosts", "hostname", "resolv.conf")


def hosts(own: list[tuple[str, list[str]]], peers: list[tuple[str, list[str]]],
          extra: list[tuple[str, str]] = ()) -> str:
    """`own`: (address, names) of the container itself; `peers`: of the containers it can reach;
    `extra`: (name, address) of --add-host, after localhost as Docker writes them."""
    lines = [_LOCALHOST]
    lines += [f"{ip}\t{name}\n" for name, ip in extra]
    lines += [f"{ip}\t{' '.join(dict.fromkeys(names))}\n" for ip, names in own + peers if names]
    return "".join(lines)


def resolv_conf(host_text: str, host_netns: bool = False, nameservers: list[str] = (), search: list[str] = (),
                options: list[str] = (), embedded: str | None = None) -> str:
    """The host's resolv.conf minus loopback nameservers, which mean nothing in another netns.
    `nameservers`, `search`, `options` (--dns, --dns-search, --dns-option) each replace the host's
    lines of that kind, as Docker does; a search of "." alone means no search domains.
    `embedded`: the user network's resolver is the only nameserver, and, as Docker writes them,
    ndots:0 unless an ndots option is given and a comment naming the servers it forwards to."""
    forwards_to = []
    if embedded:
        options = list(options) or [word for line in host_text.splitlines() if line.split()[:1] == ["options"]
                                    for word in line.split()[1:]]
        if not any(o.startswith("ndots:") for o in options):
            options.append("ndots:0")
        forwards_to = list(nameservers) or host_nameservers(host_text)
        nameservers = [embedded]
    out, servers = [], 0
    for line in host_text.splitlines():
        words = line.split()
        kind = words[0] if words else ""
        if (kind == "nameserver" and nameservers) or (kind in ("search", "domain") and search) or \
                (kind == "options" and options):
            continue
        if kind == "nameserver" and len(words) > 1:
            if not host_netns and (words[1].startswith("127.") or words[1] == "::1"):
                continue
            servers += 1
        out.append(line)
    if nameservers:
        out += [f"nameserver {ns}" for ns in nameservers]
    elif not servers:
        out += [f"nameserver {ns}" for ns in FALLBACK_NAMESERVERS]
    domains = [d for d in search if d != "."]
    if domains:
        out.append("search " + " ".join(domains))
    if options:
        out.append("options " + " ".join(options))
    if embedded:
        out.append(f"# ExtServers: [{' '.join(forwards_to)}]")
    return "\n".join(out).strip("\n") + "\n"


def host_nameservers(host_text: str) -> list[str]:
    """The nameserver addresses of a resolv.conf, loopback ones included (without a %zone)."""
    return [words[1].split("%")[0] for words in map(str.split, host_text.splitlines())
            if len(words) > 1 and words[0] == "nameserver"]


def read_host_resolv(path: str = "/etc/resolv.conf") -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def write_in_place(path: str, text: str) -> None:
    """Replace the content without replacing the inode (a running container has it bind-mounted)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        data = text.encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
    finally:
        os.close(fd)


def mounts(directory: str) -> list[dict]:
    """config.json mounts that put the generated files over the image's."""
    return [{"destination": f"/etc/{name}", "type": "bind", "source": os.path.join(directory, name),
             "options": ["rbind", "rprivate"]} for name in NAMES]

"""A container's name-resolution options checked as Docker checks them: --add-host, --dns,
--dns-search, --dns-option and --network-alias, into the SandboxSettings the network service keeps."""

from __future__ import annotations

from mydocker.engine.network_schema import SandboxSettings
from mydocker.errors import InvalidArgument
from mydocker.lazy import lazy_module

ipaddress = lazy_module("ipaddress")

HOST_GATEWAY = "host-gateway"   # --add-host NAME:host-gateway: the address of the host on the bridge


def settings_from_options(opts) -> SandboxSettings:
    """RunOptions.extra_hosts ("name:ip", "name=ip"), dns, dns_search, dns_options, network_aliases."""
    extra = [_extra_host(e) for e in getattr(opts, "extra_hosts", None) or []]
    dns = [_address(a, "--dns", f"invalid --dns {a!r}: give the IP address of a nameserver")
           for a in getattr(opts, "dns", None) or []]
    search = []
    for domain in getattr(opts, "dns_search", None) or []:
        if domain != "." and (not domain or len(domain) > 255 or any(c.isspace() for c in domain)
                              or domain.startswith(".") or ".." in domain):
            raise InvalidArgument(f"invalid --dns-search {domain!r}: give a domain name such as example.com, "
                                  "or . for none")
        search.append(domain)
    options = []
    for option in getattr(opts, "dns_options", None) or []:
        if not option or any(c.isspace() for c in option):
            raise InvalidArgument(f"invalid --dns-option {option!r}: give one resolv.conf option, e.g. ndots:2")
        options.append(option)
    aliases = []
    for alias in getattr(opts, "network_aliases", None) or []:
        if not alias or any(c.isspace() for c in alias):
            raise InvalidArgument(f"invalid --network-alias {alias!r}: give a name without spaces")
        aliases.append(alias)
    links = []
    for link in getattr(opts, "links", None) or []:
        name, _, alias = link.partition(":")
        name = name.lstrip("/")
        if not name or any(c.isspace() for c in link):
            raise InvalidArgument(f"invalid --link {link!r}: use NAME[:ALIAS]")
        links.append([name, alias.lstrip("/").rpartition("/")[2] or name])  # the API's /web:/app/db form too
    return SandboxSettings(extra, dns, search, options, aliases, links)


def _extra_host(entry: str) -> list[str]:
    """"name:ip" or "name=ip" (Docker 25+); the address may be IPv6 or host-gateway."""
    sep = "=" if "=" in entry else ":"
    name, eq, address = entry.partition(sep)
    address = address.strip()
    if address.startswith("[") and address.endswith("]"):
        address = address[1:-1]
    if not eq or not name or any(c.isspace() for c in name):
        raise InvalidArgument(f"invalid argument {entry!r} for \"--add-host\" flag: use NAME:IP "
                              "(or NAME:host-gateway)")
    if address != HOST_GATEWAY:
        address = _address(address, "--add-host",
                           f"invalid argument {entry!r} for \"--add-host\" flag: invalid IP address in add-host: "
                           f"{address!r}")
    return [name, address]


def _address(text: str, flag: str, message: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise InvalidArgument(message) from None

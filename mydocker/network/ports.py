"""`-p/--publish [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp]`, as Docker reads it."""

from __future__ import annotations

from mydocker.errors import InvalidArgument
from mydocker.recordclass import record
from mydocker.lazy import lazy_module

socket = lazy_module("socket")
ipaddress = lazy_module("ipaddress")


@record
class PortMapping:
    container_port: int
    proto: str = "tcp"
    host_port: int = 0      # 0: pick a free one when the container starts
    host_ip: str = ""       # "": every host address

    def __str__(self) -> str:
        host = f"{self.host_ip or '0.0.0.0'}:{self.host_port}"
        return f"{self.container_port}/{self.proto} -> {host}"


def _port(text: str, spec: str, what: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise InvalidArgument(f"invalid {what} {text!r} in -p {spec}: give a number from 1 to 65535 "
                              "(ranges are not supported)")
    return int(text)


def parse(spec: str) -> PortMapping:
    body, _, proto = spec.partition("/")
    proto = proto or "tcp"
    if proto not in ("tcp", "udp"):
        raise InvalidArgument(f"invalid protocol {proto!r} in -p {spec}: use tcp or udp")
    if body.startswith("["):
        raise InvalidArgument(f"-p {spec}: IPv6 host addresses are not supported; use an IPv4 address")
    parts = body.split(":")
    if len(parts) > 3 or not parts[-1]:
        raise InvalidArgument(f"invalid -p {spec!r}: use [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp]")
    container_port = _port(parts[-1], spec, "container port")
    host_port = _port(parts[-2], spec, "host port") if len(parts) >= 2 and parts[-2] else 0
    host_ip = parts[0] if len(parts) == 3 else ""
    if host_ip:
        try:
            ipaddress.IPv4Address(host_ip)
        except ValueError:
            raise InvalidArgument(f"invalid host IP {host_ip!r} in -p {spec}: give an IPv4 address") from None
    return PortMapping(container_port, proto, host_port, "" if host_ip == "0.0.0.0" else host_ip)


def parse_exposed(spec: str) -> list[tuple[int, str]]:
    """`--expose PORT[/PROTO]`, `START-END[/PROTO]` or an image's ExposedPorts key: (port, proto) each."""
    body, _, proto = spec.partition("/")
    proto = (proto or "tcp").lower()
    start, dash, end = body.partition("-")
    if proto not in ("tcp", "udp", "sctp") or not start.isdigit() or (dash and not end.isdigit()):
        raise InvalidArgument(f"invalid port {spec!r}: use PORT[/tcp|udp] or START-END[/tcp|udp], e.g. 80 or 8000-8010")
    first, last = int(start), int(end if dash else start)
    if not 0 < first <= last < 65536:
        raise InvalidArgument(f"invalid port {spec!r}: ports go from 1 to 65535, the range's start first")
    return [(port, proto) for port in range(first, last + 1)]


def free_port(proto: str, host_ip: str = "") -> int:
    """An ephemeral port nobody listens on now, for `-p CONTAINER_PORT` without a host port."""
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host_ip or "0.0.0.0", 0))
        return s.getsockname()[1]

"""IP address management: the book's bitmap allocator over one IPv4 subnet.

One byte per address, as the book's string of "0"/"1" (0 free, 1 taken), so the first free
address is a C-speed `bytearray.find`. Network, gateway and broadcast are reserved at creation.
The bitmap is plain bytes: the engine stores it in its SQLite records and changes it inside a
`BEGIN IMMEDIATE` transaction, which is what keeps concurrent `run`s from sharing an address.
"""

from __future__ import annotations

from mydocker.errors import Conflict, InvalidArgument
from mydocker.lazy import lazy_module

# with functools and collections ~2 ms: for subnets checked when a network is made, not for the
# addresses `run` allocates and releases (ip_int, ip_text)
ipaddress = lazy_module("ipaddress")

FREE, TAKEN = 0, 1
# where networks without --subnet get theirs: the default network a /16, user networks a /24
DEFAULT_SUBNETS = [f"172.{n}.0.0/16" for n in range(17, 32)] + [f"10.{n}.0.0/16" for n in range(200, 255)]


def ip_int(address: str) -> int | None:
    """An IPv4 address in dotted-quad form as an integer; None if it is not one (what ipaddress
    refuses: not four decimal parts from 0 to 255, or a part with a leading zero)."""
    parts = address.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for part in parts:
        if not (part.isascii() and part.isdigit()) or len(part) > 3 or (len(part) > 1 and part[0] == "0"):
            return None
        octet = int(part)
        if octet > 255:
            return None
        value = value << 8 | octet
    return value


def ip_text(value: int) -> str:
    return f"{value >> 24}.{value >> 16 & 255}.{value >> 8 & 255}.{value & 255}"


def parse_subnet(text: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.IPv4Network(text, strict=False)
    except ValueError:
        raise InvalidArgument(f"invalid subnet {text!r}: give an IPv4 network such as 10.77.0.0/24") from None
    if "/" not in text or net.network_address != ipaddress.IPv4Address(text.split("/")[0]):
        raise InvalidArgument(f"invalid subnet {text!r}: give the network address and prefix, e.g. {net}")
    if not 8 <= net.prefixlen <= 30:
        raise InvalidArgument(f"subnet {text} has an unusable size: use a prefix from /8 to /30 "
                              "(network, gateway and broadcast are reserved)")
    return net


class Bitmap:
    """Addresses of one subnet; offsets are address - network address."""

    def __init__(self, subnet: str, gateway: str | None = None, bits: bytes | None = None) -> None:
        if bits is not None:  # a recorded network's: its subnet was checked when the network was made
            address, _, prefix = subnet.partition("/")
            self.base, size = ip_int(address), 1 << (32 - int(prefix))
            if self.base is None or self.base % size:
                raise ValueError(f"recorded subnet {subnet} is not a network address and prefix")
            if len(bits) != size:
                raise ValueError(f"bitmap for {subnet} has {len(bits)} entries, not {size}")
            self.bits = bytearray(bits)
        else:
            net = parse_subnet(subnet)
            self.base, size = int(net.network_address), net.num_addresses
        self.subnet = f"{ip_text(self.base)}/{33 - size.bit_length()}"
        if bits is None:
            self.bits = bytearray(size)
            self.bits[0] = self.bits[-1] = TAKEN        # network and broadcast
            self.bits[self.offset(gateway or self.default_gateway())] = TAKEN
        self._hint = 1

    def default_gateway(self) -> str:
        return ip_text(self.base + 1)

    def offset(self, address: str) -> int:
        ip = ip_int(address)
        if ip is None:
            raise InvalidArgument(f"invalid IP address {address!r}: give an IPv4 address such as 10.77.0.5")
        if not self.base <= ip < self.base + len(self.bits):
            raise InvalidArgument(f"IP address {address} is not in the network's subnet {self.subnet}: "
                                  "choose an address inside it")
        return ip - self.base

    def allocate(self, address: str | None = None) -> str:
        """The first free address, or `address` if it is free."""
        if address is not None:
            i = self.offset(address)
            if self.bits[i] == TAKEN:
                raise Conflict(f"IP address {address} is already in use on {self.subnet} (or reserved): "
                               "choose another --ip or leave it out")
        else:
            i = self.bits.find(FREE, self._hint)
            if i < 0:
                i = self.bits.find(FREE, 1)
            if i < 0:
                raise Conflict(f"no free IP address left in subnet {self.subnet}: remove containers from the "
                               "network or create a network with a larger --subnet")
            self._hint = i + 1
        self.bits[i] = TAKEN
        return ip_text(self.base + i)

    def release(self, address: str) -> None:
        i = self.offset(address)
        if i in (0, len(self.bits) - 1):
            return  # never free the reserved ends
        self.bits[i] = FREE
        self._hint = min(self._hint, i)

    def taken(self, address: str) -> bool:
        return self.bits[self.offset(address)] == TAKEN

    def free_count(self) -> int:
        return self.bits.count(FREE)

    def to_bytes(self) -> bytes:
        return bytes(self.bits)


def check_free(subnet: str, networks: list[tuple[str, str]], routes: list[ipaddress.IPv4Network]) -> None:
    """Refuse a subnet that overlaps one of the (name, subnet) networks or a host route."""
    wanted = parse_subnet(subnet)
    for name, other in networks:
        if wanted.overlaps(ipaddress.IPv4Network(other)):
            raise Conflict(f"subnet {subnet} overlaps network {name!r} ({other}): choose another --subnet")
    for route in routes:
        if wanted.overlaps(route):
            raise Conflict(f"subnet {subnet} overlaps the host route to {route}: choose another --subnet")


def pick_subnet(default: bool, used: list[ipaddress.IPv4Network]) -> str:
    """A private subnet that overlaps nothing in `used`: for the default network the first free /16
    of DEFAULT_SUBNETS, for a user network a /24 inside the first /16 nobody routes, like Docker's pools."""
    for candidate in DEFAULT_SUBNETS:
        net = ipaddress.IPv4Network(candidate)
        if not default:
            for sub in net.subnets(new_prefix=24):
                if not any(sub.overlaps(u) for u in used):
                    return str(sub)
            continue
        if not any(net.overlaps(u) for u in used):
            return candidate
    raise Conflict("no free private subnet left for a new network: give one with --subnet")

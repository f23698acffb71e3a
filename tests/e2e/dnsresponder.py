"""A tiny DNS responder for tests: `python dnsresponder.py ADDRESS NAME=IPV4...`.

Listens on ADDRESS:53/udp (run it inside a network namespace the test made), answers A queries for
the names given, NOERROR with no answer for other types of those names, NXDOMAIN for the rest. It
prints "ready" once bound and logs each query as "NAME TYPE" on stdout.
"""

from __future__ import annotations

import socket
import struct
import sys


def answer(query: bytes, names: dict[str, str]) -> tuple[bytes, str, int]:
    labels, i = [], 12
    while query[i]:
        labels.append(query[i + 1:i + 1 + query[i]].decode())
        i += 1 + query[i]
    qtype = struct.unpack(">H", query[i + 1:i + 3])[0]
    name = ".".join(labels).lower()
    record = b""
    if name in names and qtype == 1:  # A: one record, name compressed to the question's offset
        record = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton(names[name])
    flags = 0x8180 | (0 if name in names else 3)  # response, recursion desired+available; NXDOMAIN
    header = struct.pack(">HHHHHH", struct.unpack(">H", query[:2])[0], flags, 1, 1 if record else 0, 0, 0)
    return header + query[12:i + 5] + record, name, qtype


def main() -> None:
    names = dict(arg.lower().split("=", 1) for arg in sys.argv[2:])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((sys.argv[1], 53))
    print("ready", flush=True)
    while True:
        query, peer = sock.recvfrom(512)
        reply, name, qtype = answer(query, names)
        print(name, qtype, flush=True)
        sock.sendto(reply, peer)


if __name__ == "__main__":
    main()

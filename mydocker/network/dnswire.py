"""The DNS wire format, as much of it as the embedded resolver needs (RFC 1035): a query's question
read, and the replies built. Input comes from the network: every length is checked against the
message and against RFC 1035's bounds, and anything else is refused with None (or a FORMERR).
"""

from __future__ import annotations

import struct

from mydocker.recordclass import record

MAX_UDP = 512           # a reply over UDP larger than this needs EDNS0, which the resolver does not do
MAX_MESSAGE = 65535     # a TCP message's 2-byte length
MAX_NAME = 255          # octets of a name on the wire (RFC 1035 2.3.4)
MAX_LABEL = 63

A, AAAA, ANY = 1, 28, 255
IN = 1
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
_HEADER = struct.Struct(">HHHHHH")
QR, TC, RD, RA = 0x8000, 0x0200, 0x0100, 0x0080


@record
class Question:
    id: int
    flags: int              # the query's: RD is echoed in the reply
    name: str               # lower case, without the trailing dot ("" for the root)
    qtype: int
    qclass: int
    question: bytes         # the question section as it came, echoed in the reply


def header_id(message: bytes) -> int | None:
    return struct.unpack_from(">H", message)[0] if len(message) >= 2 else None


def parse_query(message: bytes) -> Question | None:
    """The one question of a standard query; None for anything else (a reply, more or fewer than one
    question, a compressed or overlong name, a message cut short)."""
    if len(message) < _HEADER.size or len(message) > MAX_MESSAGE:
        return None
    qid, flags, qdcount, _an, _ns, _ar = _HEADER.unpack_from(message)
    if flags & QR or qdcount != 1:
        return None
    labels, i = [], _HEADER.size
    while True:
        if i >= len(message):
            return None
        length = message[i]
        if length == 0:
            i += 1
            break
        if length > MAX_LABEL or i + 1 + length > len(message):  # > 63: a pointer (0xc0) or a reserved kind
            return None
        labels.append(message[i + 1:i + 1 + length])
        i += 1 + length
        if i - _HEADER.size > MAX_NAME:
            return None
    if i + 4 > len(message):
        return None
    qtype, qclass = struct.unpack_from(">HH", message, i)
    try:
        name = b".".join(labels).decode("ascii").lower()
    except UnicodeDecodeError:
        return None
    return Question(qid, flags, name, qtype, qclass, message[_HEADER.size:i + 4])


def opcode(flags: int) -> int:
    return (flags >> 11) & 0xF


def reply(q: Question, rcode: int = NOERROR, addresses: list[bytes] = (), ttl: int = 600,
          authoritative: bool = True, rtype: int | None = None) -> bytes:
    """The answer to `q`: `addresses` (4 bytes each for A, 16 for AAAA) as records of the question's
    name and of type `rtype` (the question's by default), at most as many as fit in a UDP message."""
    flags = QR | (q.flags & RD) | RA | (0x0400 if authoritative else 0) | (rcode & 0xF)
    records = []
    size = _HEADER.size + len(q.question)
    for address in addresses:
        # the name: a pointer to the question's
        rr = b"\xc0\x0c" + struct.pack(">HHIH", rtype or q.qtype, IN, ttl, len(address)) + address
        if size + len(rr) > MAX_UDP:
            break
        records.append(rr)
        size += len(rr)
    return _HEADER.pack(q.id, flags, 1, len(records), 0, 0) + q.question + b"".join(records)


def error_reply(message: bytes, rcode: int) -> bytes | None:
    """A header-only reply with `rcode` to a message that could not be read as a query (FORMERR), or
    that asks what is not done (NOTIMP); None when there is no header to answer, or it is a reply."""
    if len(message) < _HEADER.size:
        return None
    qid, flags = struct.unpack_from(">HH", message)
    if flags & QR:
        return None  # never answer a reply: two resolvers would bounce messages forever
    return _HEADER.pack(qid, QR | (flags & (RD | 0x7800)) | RA | (rcode & 0xF), 0, 0, 0, 0)


def with_id(message: bytes, qid: int) -> bytes:
    """The same message under another id (forwarding: the upstream sees ours, the client its own)."""
    return struct.pack(">H", qid) + message[2:]


def is_reply_to(message: bytes, qid: int) -> bool:
    if len(message) < _HEADER.size:
        return False
    rid, flags = struct.unpack_from(">HH", message)
    return rid == qid and bool(flags & QR)

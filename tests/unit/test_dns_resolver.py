"""The embedded resolver's pure parts: the wire format (fuzzed: its input comes from containers), the
zones' lookup rules (a network's names for its own containers only) and the answers the server
gives, without sockets to upstreams."""

from __future__ import annotations

import socket
import struct

from hypothesis import given, settings, strategies as st

from mydocker.network import dnswire, dnszone
from mydocker.network.dnsserver import Server
from mydocker.network.etcfiles import resolv_conf


def make_query(name: str, qtype: int = 1, qid: int = 0x4242, flags: int = 0x0100) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p)
    return struct.pack(">HHHHHH", qid, flags, 1, 0, 0, 0) + labels + b"\0" + struct.pack(">HH", qtype, 1)


def read_reply(message: bytes) -> tuple[int, int, list[str]]:
    """(id, rcode, A addresses) of a reply with one question (an independent reading of the format)."""
    qid, flags, qd, an = struct.unpack(">HHHH", message[:8])
    assert flags & 0x8000 and qd == 1
    i = 12
    while message[i]:
        i += 1 + message[i]
    i += 5
    out = []
    for _ in range(an):
        assert message[i:i + 2] == b"\xc0\x0c"
        rtype, _cls, _ttl, length = struct.unpack(">HHIH", message[i + 2:i + 12])
        if rtype == 1:
            out.append(socket.inet_ntoa(message[i + 12:i + 12 + length]))
        i += 12 + length
    assert i == len(message)
    return qid, flags & 0xF, out


def test_a_query_is_read_and_answered():
    q = dnswire.parse_query(make_query("Web.Example"))
    assert (q.id, q.name, q.qtype, q.qclass) == (0x4242, "web.example", 1, 1)
    reply = dnswire.reply(q, dnswire.NOERROR, [socket.inet_aton("10.0.0.2"), socket.inet_aton("10.0.0.3")])
    assert read_reply(reply) == (0x4242, 0, ["10.0.0.2", "10.0.0.3"])
    assert struct.unpack(">H", reply[2:4])[0] & dnswire.RD  # recursion desired: echoed


def test_what_is_not_one_plain_question_is_refused():
    good = make_query("web")
    assert dnswire.parse_query(good[:11]) is None                        # header cut short
    assert dnswire.parse_query(good[:-1]) is None                        # type and class cut short
    assert dnswire.parse_query(good[:2] + b"\x81\x00" + good[4:]) is None  # a reply
    assert dnswire.parse_query(good[:4] + b"\x00\x02" + good[6:]) is None  # two questions
    pointer = good[:12] + b"\xc0\x0c" + good[-4:]
    assert dnswire.parse_query(pointer) is None                          # a compression pointer as the name
    long_name = ".".join(["a" * 63] * 5)
    assert dnswire.parse_query(make_query(long_name)) is None           # longer than 255 octets
    assert dnswire.error_reply(good[:2] + b"\x81\x00" + good[4:], dnswire.FORMERR) is None  # never answer a reply
    qid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", dnswire.error_reply(good, dnswire.FORMERR))
    assert (qid, flags & 0x800F, qd, an, ns, ar) == (0x4242, 0x8000 | dnswire.FORMERR, 0, 0, 0, 0)


def test_answers_never_exceed_a_udp_message():
    q = dnswire.parse_query(make_query("many"))
    reply = dnswire.reply(q, addresses=[socket.inet_aton(f"10.0.{i // 256}.{i % 256}") for i in range(200)])
    assert len(reply) <= dnswire.MAX_UDP
    assert len(read_reply(reply)[2]) == (dnswire.MAX_UDP - len(reply[:12 + len(q.question)])) // 16


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=600))
def test_the_parser_takes_any_bytes(data):
    q = dnswire.parse_query(data)
    if q is not None:
        assert len(q.name) <= dnswire.MAX_NAME and q.question == data[12:12 + len(q.question)]
        reply = dnswire.reply(q, dnswire.NOERROR, [b"\x01\x02\x03\x04"])
        assert len(reply) <= max(dnswire.MAX_UDP, 12 + len(q.question))
    out = dnswire.error_reply(data, dnswire.FORMERR)
    assert out is None or len(out) == 12


@settings(max_examples=1000, deadline=None)
@given(st.binary(min_size=12, max_size=40), st.binary(max_size=300))
def test_the_parser_takes_any_bytes_after_a_plausible_header(header_noise, body):
    data = struct.pack(">HHHHHH", 1, 0, 1, 0, 0, 0) + body
    dnswire.parse_query(data)
    dnswire.parse_query(header_noise[:12] + body)


ZONES = {
    "a": {"gateway": "10.1.0.1", "subnet": "10.1.0.0/24", "upstreams": [],
          "records": [{"ip": "10.1.0.2", "id": "c1" * 32, "names": ["web", "www", "c1c1c1c1c1c1"], "dns": []},
                      {"ip": "10.1.0.3", "id": "c3" * 32, "names": ["both"], "dns": ["192.0.2.53"]}]},
    "b": {"gateway": "10.2.0.1", "subnet": "10.2.0.0/24", "upstreams": ["192.0.2.1"],
          "records": [{"ip": "10.2.0.2", "id": "c2" * 32, "names": ["db"], "dns": []},
                      {"ip": "10.2.0.3", "id": "c3" * 32, "names": ["both"], "dns": ["192.0.2.53"]}]},
}


def zones() -> dict:
    return {name: dnszone.parse(name, doc) for name, doc in ZONES.items()}


def test_names_are_for_the_networks_of_the_asker_only():
    z = zones()
    assert dnszone.lookup(z, "a", "10.1.0.3", "www") == ["10.1.0.2"]
    assert dnszone.lookup(z, "a", "10.1.0.2", "db") is None      # only on b
    assert dnszone.lookup(z, "a", "10.1.0.3", "db") == ["10.2.0.2"]  # the asker is on b as well
    assert dnszone.lookup(z, "b", "10.2.0.3", "both") == ["10.2.0.3"]  # the queried network's own first
    assert dnszone.accepts(z, "a", "10.1.0.9") and not dnszone.accepts(z, "a", "10.2.0.2")
    assert not dnszone.accepts(z, "a", "10.1.0.1") and not dnszone.accepts(z, "c", "10.1.0.2")
    assert dnszone.upstreams(z, "b", "10.2.0.2") == ["192.0.2.1"]
    assert dnszone.upstreams(z, "b", "10.2.0.3") == ["192.0.2.53"]   # its --dns


def server() -> Server:
    control, _other = socket.socketpair()
    s = Server("/nonexistent", "/nonexistent.lock", control)
    s.zones = zones()
    return s


def ask(s: Server, network: str, source: str, message: bytes) -> list[bytes]:
    replies = []
    s.answer(network, source, message, replies.append)
    return replies


def test_the_server_answers_its_names_and_refuses_outsiders():
    s = server()
    [r] = ask(s, "a", "10.1.0.2", make_query("WWW"))
    assert read_reply(r) == (0x4242, dnswire.NOERROR, ["10.1.0.2"])
    [r] = ask(s, "a", "10.1.0.2", make_query("web", qtype=dnswire.AAAA))
    assert read_reply(r) == (0x4242, dnswire.NOERROR, [])
    [r] = ask(s, "a", "10.2.0.2", make_query("web"))  # from network b's container to a's gateway
    assert read_reply(r)[1] == dnswire.REFUSED
    [r] = ask(s, "a", "10.1.0.2", make_query("elsewhere.test"))  # no upstream on a: SERVFAIL, not a hang
    assert read_reply(r)[1] == dnswire.SERVFAIL
    [r] = ask(s, "a", "10.1.0.2", make_query("web", flags=0x2800))  # opcode 5 (update)
    assert read_reply(r)[1] == dnswire.NOTIMP
    assert ask(s, "a", "10.1.0.2", b"\x00\x01\x80\x00" + b"\0" * 8) == []  # a reply: silence


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["a", "b", "c"]), st.sampled_from(["10.1.0.2", "10.2.0.3", "x"]))
def test_the_server_takes_any_message(data, network, source):
    s = server()
    for zone in s.zones.values():  # nothing may leave this test
        zone.upstreams = []
        zone.by_ip = {ip: (cid, []) for ip, (cid, _dns) in zone.by_ip.items()}
    for r in ask(s, network, source, data):
        assert len(r) >= 12 and r[:2] == data[:2]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=63), min_size=1, max_size=4),
       st.sampled_from([1, 28, 16, 255, 5]))
def test_every_well_formed_question_gets_one_reply(labels, qtype):
    s = server()
    s.zones["a"].upstreams = []
    [r] = ask(s, "a", "10.1.0.2", make_query(".".join(labels), qtype=qtype))
    qid, rcode, addresses = read_reply(r)
    assert qid == 0x4242 and rcode in (dnswire.NOERROR, dnswire.SERVFAIL)


def test_resolv_conf_names_the_embedded_resolver_alone():
    host = "search corp.example\nnameserver 127.0.0.53\nnameserver 192.0.2.1\noptions edns0\n"
    out = resolv_conf(host, embedded="10.1.0.1")
    assert out == ("search corp.example\nnameserver 10.1.0.1\noptions edns0 ndots:0\n"
                   "# ExtServers: [127.0.0.53 192.0.2.1]\n")
    out = resolv_conf(host, nameservers=["192.0.2.9"], options=["ndots:2"], embedded="10.1.0.1")
    assert "nameserver 192.0.2.9" not in out and "# ExtServers: [192.0.2.9]\n" in out
    assert "nameserver 10.1.0.1\n" in out and "options ndots:2\n" in out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=6), st.booleans())
def test_tcp_framing_takes_any_stream(chunks, with_query):
    """Bytes as a TCP client sends them, cut anywhere: each whole message gets one framed reply
    (or none, for a reply sent to us), and nothing raises."""
    import selectors
    from mydocker.network.dnsserver import _TcpClient
    s = server()
    s.zones["a"].upstreams = []
    ours, theirs = socket.socketpair()
    client = _TcpClient(ours, "a", "10.1.0.2")
    s.clients[ours.fileno()] = client
    s.sel.register(ours, selectors.EVENT_READ, lambda: s._tcp_read(client))
    stream = b"".join(chunks)
    if with_query:
        q = make_query("www")
        stream = len(q).to_bytes(2, "big") + q + stream
    theirs.sendall(stream)
    theirs.shutdown(socket.SHUT_WR)
    ours.setblocking(False)
    while ours.fileno() >= 0:
        s._tcp_read(client)
    theirs.settimeout(1)
    out = b""
    while chunk := theirs.recv(65536):
        out += chunk
    if with_query:
        length = int.from_bytes(out[:2], "big")
        assert read_reply(out[2:2 + length]) == (0x4242, dnswire.NOERROR, ["10.1.0.2"])
    theirs.close()

"""Docker's detach keys (parsing, the escape scanner) and its event filters, as pure logic."""

from __future__ import annotations

import pytest

from mydocker.engine import events
from mydocker.engine.container_input import DetachScanner, parse_detach_keys
from mydocker.errors import InvalidArgument


def test_detach_keys_parse_as_docker_does():
    assert parse_detach_keys(None) == parse_detach_keys("") == b"\x10\x11"  # ctrl-p,ctrl-q
    assert parse_detach_keys("ctrl-x,x") == b"\x18x"
    assert parse_detach_keys("a,ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_,CTRL-A") == b"a\x00\x1b\x1c\x1d\x1e\x1f\x01"
    for bad in ("ctrl-1", "ctrl-", "ab", "ctrl-p,,x"):
        with pytest.raises(InvalidArgument, match=r"Invalid detach keys"):
            parse_detach_keys(bad)


@pytest.mark.parametrize("chunks, passed, detached", [
    ([b"ab\x10c"], b"ab\x10c", False),            # a prefix, then something else: it all passes
    ([b"ab\x10", b"\x11zz"], b"ab", True),         # across reads; nothing after the keys passes
    ([b"\x10\x10\x11"], b"\x10", True),            # a prefix again restarts the match
    ([b"x\x10"], b"x", False),                     # held back until the next read tells
    ([b"\x11\x10x"], b"\x11\x10x", False),
])
def test_the_scanner_holds_back_only_what_may_be_the_keys(chunks, passed, detached):
    scanner = DetachScanner(b"\x10\x11")
    out, done = b"", False
    for chunk in chunks:
        data, done = scanner.feed(chunk)
        out += data
        if done:
            break
    assert (out, done) == (passed, detached)


def _doc(kind: str, actor: str, **attrs) -> dict:
    return {"Type": kind, "Action": "x", "Actor": {"ID": actor, "Attributes": attrs}, "scope": "local"}


def test_event_filters_match_as_dockers():
    tag = _doc("image", "sha256:abc", name="busybox:mine", team="a")
    pull = _doc("image", "docker.io/library/busybox:latest", name="busybox")
    run = _doc("container", "c0ffee", name="web", image="busybox")
    net = _doc("network", "n123", name="webnet", type="bridge", container="c0ffee")
    vol = _doc("volume", "data", driver="local")
    assert [events.matches(d, {"image": ["busybox"]}) for d in (tag, pull, run, net)] == [True, True, True, False]
    assert events.matches(tag, {"image": ["sha256:abc"]}) and not events.matches(tag, {"image": ["busy"]})
    assert events.matches(tag, {"label": ["team=a"]}) and not events.matches(tag, {"label": ["team=b"]})
    assert [events.matches(d, {"network": ["web"]}) for d in (run, net, vol)] == [True, True, False]  # any type
    assert events.matches(net, {"network": ["n1"], "type": ["network"]})
    assert not events.matches(run, {"type": ["network"]})
    assert events.matches(vol, {"volume": ["da"]}) and not events.matches(vol, {"volume": ["x"]})
    assert events.matches(vol, {"scope": ["local"]}) and not events.matches(vol, {"scope": ["swarm"]})

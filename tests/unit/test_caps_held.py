"""`create` refuses capabilities the runtime does not hold itself (runtime/caps.check_held), as runc
does, reading the bounding set for the capabilities asked for only."""

from __future__ import annotations

import pytest

from mydocker.errors import InvalidArgument
from mydocker.runtime import caps

LAST = 40


@pytest.fixture
def held(monkeypatch):
    """The runtime's own capabilities: permitted and bounding sets to play with; the bounding reads seen."""
    state = {"permitted": (1 << (LAST + 1)) - 1, "bounding": (1 << (LAST + 1)) - 1, "read": []}

    def prctl(option, arg2=0, *rest):
        assert option == caps.sc.PR_CAPBSET_READ
        state["read"].append(arg2)
        return 1 if state["bounding"] & (1 << arg2) else 0
    monkeypatch.setattr(caps.sc, "prctl", prctl)
    monkeypatch.setattr(caps.sc, "capget", lambda: (state["permitted"], state["permitted"], 0))
    return state


def _masks(*names: str) -> dict:
    return caps.to_masks({kind: list(names) for kind in ("effective", "permitted", "bounding")}, LAST)


def test_capabilities_held_pass_and_only_those_asked_for_are_read(held):
    caps.check_held(_masks("CAP_CHOWN", "CAP_KILL"), LAST)
    assert sorted(held["read"]) == [caps.NUMBERS["CAP_CHOWN"], caps.NUMBERS["CAP_KILL"]]


@pytest.mark.parametrize("missing_from", ["bounding", "permitted"])
def test_a_capability_missing_from_our_bounding_or_permitted_set_is_refused_by_name(held, missing_from):
    held[missing_from] &= ~(1 << caps.NUMBERS["CAP_SYS_ADMIN"])
    with pytest.raises(InvalidArgument, match="CAP_SYS_ADMIN, which the runtime itself does not hold"):
        caps.check_held(_masks("CAP_CHOWN", "CAP_SYS_ADMIN"), LAST)

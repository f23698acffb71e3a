"""Signal names and numbers: the runtime's `kill ID 0` (runc's "is it there") and the engine's refusal
of 0 (Docker's)."""

import pytest

from mydocker.errors import InvalidArgument
from mydocker.runtime.kill import parse_signal


@pytest.mark.parametrize("text, number", [("9", 9), ("KILL", 9), ("sigterm", 15), ("SIGUSR1", 10)])
def test_names_and_numbers(text, number):
    assert parse_signal(text) == number


def test_zero_only_where_allowed():
    assert parse_signal("0", allow_zero=True) == 0
    with pytest.raises(InvalidArgument, match="invalid signal '0'"):
        parse_signal("0")
    with pytest.raises(InvalidArgument):
        parse_signal("65", allow_zero=True)

"""Docker's size and CPU-count parsing, and the v1 -> v2 value conversions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mydocker.engine.units import INT64_MAX, parse_cpus, ram_in_bytes
from mydocker.errors import InvalidArgument
from mydocker.runtime.cgroups import shares_to_weight
from mydocker.runtime.cgroups.convert import blkio_weight_to_io_weight, swap_to_v2

MULTIPLIERS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


@pytest.mark.parametrize(("text", "expected"), [
    ("64m", 67108864), ("64mb", 67108864), ("64MB", 67108864), ("64M", 67108864), ("64MiB", 67108864),
    ("1.5g", 1610612736), ("1.5G", 1610612736), ("512 k", 524288), ("100", 100), ("100b", 100),
    ("0", 0), ("1t", 1024**4), ("0.5k", 512), ("0.1k", 102),  # truncated, as dockerd's int64(float)
])
def test_known_sizes(text: str, expected: int) -> None:
    assert ram_in_bytes(text) == expected


@pytest.mark.parametrize("text", ["12x", "-1m", "", "m", "1.", ".5m", "1.2.3m", "1  m", " 1m", "1m ", "1bb",
                                  "1e3", "١٢m", "64 mb b", "9223372036854775808"])
def test_bad_sizes_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        ram_in_bytes(text)


def test_size_too_large() -> None:
    assert ram_in_bytes(str(INT64_MAX)) == INT64_MAX
    with pytest.raises(ValueError, match="too large"):
        ram_in_bytes("8192p")


spellings = st.sampled_from(list(MULTIPLIERS)).flatmap(
    lambda unit: st.tuples(st.just(unit), st.sampled_from(
        [unit, unit + "b", unit + "ib"] if unit else ["", "b"]), st.booleans(), st.booleans()))


@given(n=st.integers(0, 2**40), spelling=spellings)
def test_whole_sizes_round_trip(n: int, spelling: tuple[str, str, bool, bool]) -> None:
    unit, suffix, upper, space = spelling
    text = f"{n}{' ' if space and suffix else ''}{suffix.upper() if upper else suffix}"
    if n * MULTIPLIERS[unit] > INT64_MAX:
        with pytest.raises(ValueError, match="too large"):
            ram_in_bytes(text)
    else:
        assert ram_in_bytes(text) == n * MULTIPLIERS[unit]


@given(whole=st.integers(0, 10**6), fraction=st.text("0123456789", min_size=1, max_size=6),
       unit=st.sampled_from(["k", "m", "g"]))
def test_fractions_truncate_exactly(whole: int, fraction: str, unit: str) -> None:
    mult = MULTIPLIERS[unit]
    expected = (whole * 10 ** len(fraction) + int(fraction)) * mult // 10 ** len(fraction)
    assert ram_in_bytes(f"{whole}.{fraction}{unit}") == expected


@pytest.mark.parametrize(("text", "nano"), [
    ("1", 10**9), ("1.5", 1_500_000_000), ("0.01", 10**7), (".5", 5 * 10**8), ("2.000000000000", 2 * 10**9),
    ("0.000000001", 1),
])
def test_cpus(text: str, nano: int) -> None:
    assert parse_cpus(text) == nano


@pytest.mark.parametrize("text", ["", "-1", "1,5", "one", "1e2", "0.0000000001"])
def test_bad_cpus_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_cpus(text)


@given(nano=st.integers(0, 10**12))
def test_cpus_round_trip(nano: int) -> None:
    assert parse_cpus(f"{nano // 10**9}.{nano % 10**9:09d}") == nano


# Expected values of opencontainers/cgroups v0.0.5 utils_test.go (runc >= 1.3.2) and crun >= 1.23.
@pytest.mark.parametrize(("shares", "weight"), [
    (0, 0), (1, 1), (2, 1), (3, 2), (512, 59), (1024, 100), (2048, 174), (262143, 10000), (262144, 10000),
    (262145, 10000),
])
def test_shares_to_weight(shares: int, weight: int) -> None:
    assert shares_to_weight(shares) == weight


@given(a=st.integers(2, 262144), b=st.integers(2, 262144))
def test_shares_to_weight_is_monotonic_and_in_range(a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert 1 <= shares_to_weight(low) <= shares_to_weight(high) <= 10000


def test_blkio_weight_to_io_weight() -> None:
    assert [blkio_weight_to_io_weight(w) for w in (10, 500, 1000)] == [1, 4950, 10000]


@pytest.mark.parametrize(("swap", "limit", "expected"), [
    (-1, 100, -1), (100, 100, 0), (500, 200, 300), (300, -1, 300), (-1, None, -1),
])
def test_swap_to_v2(swap: int, limit: int | None, expected: int) -> None:
    assert swap_to_v2(swap, limit) == expected


@pytest.mark.parametrize(("swap", "limit"), [(100, 200), (100, None), (100, 0)])
def test_swap_to_v2_refuses(swap: int, limit: int | None) -> None:
    with pytest.raises(InvalidArgument, match="memory.swap"):
        swap_to_v2(swap, limit)

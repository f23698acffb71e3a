"""Docker's human numbers: sizes such as `-m 64m` (go-units RAMInBytes) and CPU counts such as
`--cpus 1.5` (docker/cli opts.NanoCPUs). Parsers raise ValueError; callers name the flag."""

from __future__ import annotations

INT64_MAX = 2**63 - 1
NANO = 10**9

# Binary multiples, as RAMInBytes: "k" is KiB whether written k, kb, kib, K, KB or KiB.
_MULTIPLIERS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def _split_decimal(text: str) -> tuple[int, str]:
    """"12.5" -> (12, "5"); ValueError unless digits with at most one fractional part."""
    whole, dot, fraction = text.partition(".")
    if not (whole.isascii() and whole.isdigit()) or (dot and not (fraction.isascii() and fraction.isdigit())):
        raise ValueError(text)
    return int(whole), fraction


def ram_in_bytes(text: str) -> int:
    """Bytes in `text`: a number, an optional space, an optional unit k/m/g/t/p, an optional "i"
    and "b", all case-insensitive ("64m", "1.5g", "64mb", "512 KiB"). Fractions truncate, as in
    Docker (which multiplies a float64; this is exact)."""
    rest = text.lower()
    for suffix in ("b", "i"):
        rest = rest.removesuffix(suffix)
    unit = rest[-1:] if rest[-1:] in _MULTIPLIERS else ""
    number = rest[: len(rest) - len(unit)].removesuffix(" ")
    try:
        whole, fraction = _split_decimal(number)
    except ValueError:
        raise ValueError(f"invalid size {text!r}: use a number with an optional unit b, k, m, g or t, "
                         "such as 512m or 1.5g") from None
    multiplier = _MULTIPLIERS[unit]
    value = whole * multiplier + int(fraction or "0") * multiplier // 10 ** len(fraction)
    if value > INT64_MAX:
        raise ValueError(f"size {text!r} is too large")
    return value


def parse_cpus(text: str) -> int:
    """Nano-CPUs in a decimal CPU count: "1.5" -> 1_500_000_000. Docker refuses more than nine
    decimals ("too precise") because the daemon keeps nano-CPUs."""
    try:
        whole, fraction = _split_decimal(text if not text.startswith(".") else "0" + text)
    except ValueError:
        raise ValueError(f"invalid number of CPUs {text!r}: use a decimal number such as 1.5") from None
    if len(fraction.rstrip("0")) > 9:
        raise ValueError(f"number of CPUs {text!r} is too precise: use at most nine decimals")
    return whole * NANO + int((fraction[:9] or "0").ljust(9, "0"))

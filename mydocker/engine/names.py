"""Container names: validated user names, or Docker-style generated ones (adjective_surname)."""

from __future__ import annotations

import re
import os

from mydocker.errors import InvalidArgument

_VALID = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
_ADJECTIVES = ("admiring", "brave", "clever", "dazzling", "eager", "focused", "gallant", "happy",
               "jolly", "keen", "lucid", "modest", "nifty", "optimistic", "quirky", "serene",
               "trusting", "upbeat", "vibrant", "wizardly", "zealous")
_SURNAMES = ("babbage", "curie", "dijkstra", "engelbart", "feynman", "goldberg", "hopper", "kare",
             "lamport", "lovelace", "mccarthy", "noether", "pike", "ritchie", "shannon", "thompson",
             "torvalds", "turing", "wozniak", "yonath")


def check_name(name: str) -> str:
    if not _VALID.match(name):
        raise InvalidArgument(f"invalid container name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, "
                              "at least two characters")
    return name.lstrip("/")


def generate_name() -> str:
    a, b = os.urandom(2)
    return f"{_ADJECTIVES[a % len(_ADJECTIVES)]}_{_SURNAMES[b % len(_SURNAMES)]}_{os.urandom(2).hex()}"

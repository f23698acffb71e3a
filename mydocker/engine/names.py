"""Container names: validated user names, or Docker-style generated ones (adjective_surname)."""

from __future__ import annotations

import os

from mydocker.errors import InvalidArgument

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_ADJECTIVES = ("admiring", "brave", "clever", "dazzling", "eager", "focused", "gallant", "happy",
               "jolly", "keen", "lucid", "modest", "nifty", "optimistic", "quirky", "serene",
               "trusting", "upbeat", "vibrant", "wizardly", "zealous")
_SURNAMES = ("babbage", "curie", "dijkstra", "engelbart", "feynman", "goldberg", "hopper", "kare",
             "lamport", "lovelace", "mccarthy", "noether", "pike", "ritchie", "shannon", "thompson",
             "torvalds", "turing", "wozniak", "yonath")


def valid_name(name: str) -> bool:
    """Docker's [a-zA-Z0-9][a-zA-Z0-9_.-]+ for containers, networks and volumes, without `re`
    (which, with enum, is 2 ms of every command that names something)."""
    return len(name) >= 2 and name[0].isascii() and name[0].isalnum() and _NAME_CHARS.issuperset(name)


def check_name(name: str) -> str:
    if not valid_name(name[1:] if name.startswith("/") else name):
        raise InvalidArgument(f"invalid container name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, "
                              "at least two characters")
    return name.lstrip("/")


def generate_name() -> str:
    a, b = os.urandom(2)
    return f"{_ADJECTIVES[a % len(_ADJECTIVES)]}_{_SURNAMES[b % len(_SURNAMES)]}_{os.urandom(2).hex()}"

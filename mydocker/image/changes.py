"""Dockerfile-style config edits for `commit -c` and `import -c`: CMD, ENTRYPOINT, ENV, WORKDIR, USER,
LABEL, EXPOSE, VOLUME, STOPSIGNAL."""

from __future__ import annotations

import json
import shlex

from mydocker.errors import InvalidArgument

SUPPORTED = ("CMD", "ENTRYPOINT", "ENV", "WORKDIR", "USER", "LABEL", "EXPOSE", "VOLUME", "STOPSIGNAL")


def _command(value: str) -> list[str]:
    """JSON (exec) form `["a","b"]`, or shell form run by /bin/sh -c."""
    if value.startswith("["):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(a, str) for a in parsed):
            return parsed
    return ["/bin/sh", "-c", value]


def _pairs(value: str, instruction: str) -> list[tuple[str, str]]:
    """`K=V K2="v 2"`, or the legacy single `K V`."""
    if "=" not in value.split(None, 1)[0]:
        key, _, rest = value.partition(" ")
        return [(key, rest.strip())]
    out = []
    for word in shlex.split(value):
        key, eq, val = word.partition("=")
        if not eq or not key:
            raise InvalidArgument(f"{instruction} {value!r}: each entry needs NAME=value")
        out.append((key, val))
    return out


def apply(config: dict, change: str) -> None:
    """Apply one change line to the image config's "config" section (in place)."""
    instruction, _, value = change.strip().partition(" ")
    instruction, value = instruction.upper(), value.strip()
    if instruction not in SUPPORTED:
        raise InvalidArgument(f"{instruction or change!r} is not a change this command supports: "
                              f"use one of {', '.join(SUPPORTED)}")
    if not value:
        raise InvalidArgument(f"{instruction} needs a value, e.g. -c '{instruction} ...'")
    if instruction in ("CMD", "ENTRYPOINT"):
        config["Cmd" if instruction == "CMD" else "Entrypoint"] = _command(value)
        if instruction == "ENTRYPOINT":
            config.pop("Cmd", None)  # as in a Dockerfile: a new entrypoint resets the inherited CMD
    elif instruction == "ENV":
        env = {e.partition("=")[0]: e.partition("=")[2] for e in config.get("Env") or []}
        env.update(_pairs(value, instruction))
        config["Env"] = [f"{k}={v}" for k, v in env.items()]
    elif instruction == "LABEL":
        config.setdefault("Labels", {}).update(_pairs(value, instruction))
    elif instruction == "WORKDIR":
        config["WorkingDir"] = value
    elif instruction == "USER":
        config["User"] = value
    elif instruction == "STOPSIGNAL":
        config["StopSignal"] = value
    elif instruction == "EXPOSE":
        for port in value.split():
            config.setdefault("ExposedPorts", {})[port if "/" in port else f"{port}/tcp"] = {}
    elif instruction == "VOLUME":
        paths = _command(value) if value.startswith("[") else value.split()
        for path in paths:
            config.setdefault("Volumes", {})[path] = {}


def apply_all(image_config: dict, changes: list[str]) -> None:
    section = image_config.setdefault("config", {})
    for change in changes:
        apply(section, change)

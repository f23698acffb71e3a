"""Registry authentication: WWW-Authenticate challenges, Bearer tokens, Basic, and stored credentials.

Credentials live where Docker keeps them, so `docker login` and `mydocker login` share them:
$REGISTRY_AUTH_FILE, else $DOCKER_CONFIG/config.json, else ~/.docker/config.json, under "auths" as
{"<registry>": {"auth": base64("user:password")}} (Docker Hub's key is https://index.docker.io/v1/).
Credential helpers (credsStore, credHelpers) are not supported yet.
"""

from __future__ import annotations

import base64
import json
import os
import re

from mydocker.errors import InvalidArgument
from mydocker.linux import fs

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """'Bearer realm="https://auth",service="x",scope="a"' -> ("bearer", {...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
              for m in _PARAM.finditer(rest)}
    return scheme.lower(), params


def basic_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def auth_file() -> str:
    if os.environ.get("REGISTRY_AUTH_FILE"):
        return os.environ["REGISTRY_AUTH_FILE"]
    config_dir = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(config_dir, "config.json")


def _key(registry: str) -> str:
    return DOCKER_HUB_KEY if registry in ("docker.io", "index.docker.io", "registry-1.docker.io") else registry


def _load(path: str) -> dict:
    try:
        with open(path, "rb") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    except ValueError as e:
        raise InvalidArgument(f"credentials file {path} is not valid JSON ({e}): fix or remove it") from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"credentials file {path} does not hold a JSON object: fix or remove it")
    return data


def credentials(registry: str) -> tuple[str, str] | None:
    """(user, password) stored for a registry, or None."""
    auths = _load(auth_file()).get("auths") or {}
    key = _key(registry)
    entry = auths.get(key) or auths.get(f"https://{key}") or auths.get(f"http://{key}")
    if not entry:
        return None
    if entry.get("username") and entry.get("password"):
        return entry["username"], entry["password"]
    try:
        user, sep, password = base64.b64decode(entry.get("auth", "")).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        sep = ""
    if not sep:
        raise InvalidArgument(f"the stored credentials for {registry} in {auth_file()} are malformed: "
                              f"run 'mydocker login {registry}' again")
    return user, password


def store(registry: str, user: str, password: str) -> str:
    """Save credentials (keeping everything else in the file); return the file's path."""
    path = auth_file()
    data = _load(path)
    data.setdefault("auths", {})[_key(registry)] = {
        "auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
    _write_private(path, data)
    return path


def erase(registry: str) -> bool:
    path = auth_file()
    data = _load(path)
    auths = data.get("auths") or {}
    key = _key(registry)
    found = [k for k in (key, f"https://{key}", f"http://{key}") if k in auths]
    for k in found:
        del auths[k]
    if found:
        _write_private(path, data)
    return bool(found)


def _write_private(path: str, data: dict) -> None:
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    fs.write_atomic(path, json.dumps(data, indent="\t") + "\n", mode=0o600)

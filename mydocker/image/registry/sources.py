"""Which repositories hold a blob, so a push can ask for a cross-repository mount instead of uploading.

A hint cache, as Docker's "v2 metadata": `<store>/registry-sources.json` maps a digest to
"<registry>/<repository>" names it was pulled from or pushed to. Losing an entry only costs an upload.
"""

from __future__ import annotations

import json
import os

from mydocker.linux import fs

_FILE = "registry-sources.json"
_KEEP = 5   # names per blob


def _path(store) -> str:
    return os.path.join(store.root, _FILE)


def load(store) -> dict[str, list[str]]:
    try:
        with open(_path(store), "rb") as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (FileNotFoundError, ValueError):
        return {}


def remember(store, digests: list[str], repository: str) -> None:
    data = load(store)
    for digest in digests:
        names = [n for n in data.get(digest, []) if n != repository]
        data[digest] = ([repository] + names)[:_KEEP]
    fs.write_atomic(_path(store), json.dumps(data))


def mount_source(store, digest: str, domain: str, repository: str) -> str | None:
    """A repository on the same registry (other than the target) that holds the blob, or None."""
    for name in load(store).get(digest, []):
        other_domain, _, path = name.partition("/")
        if other_domain == domain and path != repository:
            return path
    return None

"""The build cache: which image a build step made before, keyed by what the step saw.

Table (created here on the shared connection):
    build_cache(key, manifest)   step key -> the manifest of the image the step made

A key hashes the parent image, the instruction's text, the config the step ran with and what else
the step depends on (file checksums for COPY/ADD, declared ARGs for RUN). A hit counts only while
its image is still in the store.
"""

from __future__ import annotations

import hashlib
import json

_SCHEMA = "CREATE TABLE IF NOT EXISTS build_cache (key TEXT PRIMARY KEY, manifest TEXT NOT NULL)"


def step_key(parent: str | None, instruction: str, config: dict, extra: object = None) -> str:
    """The key of a step: `parent` manifest (None: scratch), the instruction as written, the image
    config it ran with (a metadata step of a scratch stage has no parent to tell it apart otherwise)
    and `extra` (anything JSON can hold)."""
    data = json.dumps([parent, instruction, config, extra], sort_keys=True)
    return "sha256:" + hashlib.sha256(data.encode()).hexdigest()


class BuildCache:
    def __init__(self, records, store, enabled: bool = True) -> None:
        """`records`: the engine's Records (its connection holds the table); `store`: the
        ImageStore; `enabled` False (--no-cache): every lookup misses, steps are still remembered."""
        self.records = records
        self.db = records.db
        self.store = store
        self.enabled = enabled
        self.db.execute(_SCHEMA)

    def lookup(self, key: str) -> str | None:
        """The manifest the step with `key` made, if the cache is on and the image still exists."""
        if not self.enabled:
            return None
        row = self.db.execute("SELECT manifest FROM build_cache WHERE key=?", (key,)).fetchone()
        if not row:
            return None
        exists = self.db.execute("SELECT 1 FROM images WHERE manifest=?", (row[0],)).fetchone()
        if not exists or not self.store.has_blob(row[0]):
            return None
        return row[0]

    def remember(self, key: str, manifest: str) -> None:
        with self.records.transaction():
            self.db.execute("INSERT OR REPLACE INTO build_cache VALUES (?,?)", (key, manifest))

    def forget_all(self) -> list[str]:
        """Forget every step (`docker builder prune`): the next builds run them again. The images
        the steps made stay: they are images (`image prune` removes the unused ones)."""
        with self.records.transaction():
            keys = [row[0] for row in self.db.execute("SELECT key FROM build_cache").fetchall()]
            self.db.execute("DELETE FROM build_cache")
        return keys

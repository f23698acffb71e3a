"""The engine's records in one SQLite database (WAL, short transactions).

Concurrent `run`s can never share a name: the UNIQUE constraint decides, inside the database.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from mydocker.record import asdict, factory, fields, record
from collections.abc import Iterator

from mydocker.errors import Conflict, InvalidArgument, NotFound

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, image TEXT NOT NULL, image_id TEXT NOT NULL,
    created TEXT NOT NULL, status TEXT NOT NULL, pid INTEGER NOT NULL DEFAULT 0,
    exit_code INTEGER, started_at TEXT, finished_at TEXT, config TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS image_tags (
    name TEXT PRIMARY KEY, manifest TEXT NOT NULL, created TEXT NOT NULL);
"""


@record
class ContainerRecord:
    id: str
    name: str
    image: str           # as the user named it
    image_id: str        # the image's manifest digest
    created: str
    status: str          # created | running | exited
    pid: int = 0
    exit_code: int | None = None
    started_at: str | None = None
    finished_at: str | None = None
    config: dict = factory(dict)


_COLUMNS = list(fields(ContainerRecord))


class Records:
    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, timeout=60, isolation_level=None)
        if self.db.execute("PRAGMA user_version").fetchone()[0] < _SCHEMA_VERSION:
            self.db.execute("PRAGMA journal_mode=WAL")
            with self.transaction():
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        self.db.execute("PRAGMA synchronous=NORMAL")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # containers

    def add_container(self, record: ContainerRecord) -> None:
        row = asdict(record)
        row["config"] = json.dumps(record.config)
        try:
            with self.transaction():
                self.db.execute(f"INSERT INTO containers ({','.join(_COLUMNS)}) VALUES "
                                f"({','.join('?' * len(_COLUMNS))})", [row[c] for c in _COLUMNS])
        except sqlite3.IntegrityError:
            raise Conflict(f'the container name "{record.name}" is already in use: '
                           "remove that container or choose another --name") from None

    def update_container(self, container_id: str, **values) -> None:
        if "config" in values:
            values["config"] = json.dumps(values["config"])
        assignments = ",".join(f"{k}=?" for k in values)
        with self.transaction():
            self.db.execute(f"UPDATE containers SET {assignments} WHERE id=?", [*values.values(), container_id])

    def remove_container(self, container_id: str) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM containers WHERE id=?", (container_id,))

    def find_container(self, ref: str) -> ContainerRecord:
        """By full id, unique id prefix, or name."""
        rows = self.db.execute(f"SELECT {','.join(_COLUMNS)} FROM containers WHERE name=? OR id=?",
                               (ref, ref)).fetchall()
        if not rows and len(ref) >= 1 and all(c in "0123456789abcdef" for c in ref):
            rows = self.db.execute(f"SELECT {','.join(_COLUMNS)} FROM containers WHERE id LIKE ?",
                                   (ref + "%",)).fetchall()
            if len(rows) > 1:
                raise InvalidArgument(f"container id prefix {ref} is ambiguous: give more characters")
        if not rows:
            raise NotFound(f"no such container: {ref}")
        return _container(rows[0])

    def containers(self) -> list[ContainerRecord]:
        rows = self.db.execute(f"SELECT {','.join(_COLUMNS)} FROM containers ORDER BY created DESC").fetchall()
        return [_container(r) for r in rows]

    # image tags

    def tag_image(self, name: str, manifest: str, created: str) -> None:
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO image_tags VALUES (?,?,?)", (name, manifest, created))

    def image_for(self, name: str) -> str | None:
        row = self.db.execute("SELECT manifest FROM image_tags WHERE name=?", (name,)).fetchone()
        return row[0] if row else None

    def image_tags(self) -> list[tuple[str, str, str]]:
        return self.db.execute("SELECT name, manifest, created FROM image_tags ORDER BY name").fetchall()


def _container(row: tuple) -> ContainerRecord:
    values = dict(zip(_COLUMNS, row))
    values["config"] = json.loads(values["config"])
    return ContainerRecord(**values)

"""The engine's records in one SQLite database (WAL, short transactions).

Concurrent `run`s can never share a name: the UNIQUE constraint decides, inside the database.
"""

from __future__ import annotations

import os
import time
# the C module, without functools: the sqlite3 package adds only datetime adapters (1.5 ms)
from mydocker.sqlite import sqlite3
from mydocker.recordclass import asdict, factory, fields, record

from mydocker.errors import Conflict, InvalidArgument, NotFound
from mydocker import jsonio  # the C codec alone: `import json` brings re and enum

_SCHEMA_VERSION = 4
_SCHEMA = """
CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, image TEXT NOT NULL, image_id TEXT NOT NULL,
    created TEXT NOT NULL, status TEXT NOT NULL, pid INTEGER NOT NULL DEFAULT 0,
    exit_code INTEGER, started_at TEXT, finished_at TEXT, config TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS image_tags (
    name TEXT PRIMARY KEY, manifest TEXT NOT NULL, created TEXT NOT NULL);
"""
# Columns added after version 1; a version-1 database gets them by ALTER TABLE.
_ADDED_COLUMNS = {
    "oom_killed": "INTEGER NOT NULL DEFAULT 0",
    "error": "TEXT NOT NULL DEFAULT ''",
    "restart_count": "INTEGER NOT NULL DEFAULT 0",
    "monitor": "TEXT NOT NULL DEFAULT ''",          # "pid:starttime" of the process that reaps it
    "host_config": "TEXT NOT NULL DEFAULT '{}'",
    "manually_stopped": "INTEGER NOT NULL DEFAULT 0",   # `stop`: no restart policy brings it back
    "health": "TEXT NOT NULL DEFAULT '{}'",          # State.Health (engine/health.py), {} without a healthcheck
    "mounts": "TEXT NOT NULL DEFAULT ''",            # Docker's Mounts, '' for a record made before the column
}
_JSON_COLUMNS = ("config", "host_config", "health")


@record
class ContainerRecord:
    id: str
    name: str
    image: str           # as the user named it
    image_id: str        # the image's manifest digest
    created: str
    status: str          # created | running | exited | removing
    pid: int = 0
    exit_code: int | None = None
    started_at: str | None = None
    finished_at: str | None = None
    config: dict = factory(dict)        # Docker's Config: Cmd, Entrypoint, Env, Tty, StopSignal, ...
    oom_killed: bool = False
    error: str = ""
    restart_count: int = 0
    monitor: str = ""
    host_config: dict = factory(dict)   # Docker's HostConfig: RestartPolicy, LogConfig, AutoRemove, ...
    manually_stopped: bool = False
    health: dict = factory(dict)        # Docker's State.Health: Status, FailingStreak, Log (engine/health.py)
    # Docker's Mounts (volumes.docker_mounts), fixed at create: the container list shows them without
    # reading each config.json. None: a record older than the column (its config.json has them)
    mounts: list | None = None


_COLUMNS = list(fields(ContainerRecord))


def now() -> str:
    """An RFC 3339 UTC time with microseconds, as the records store times (without datetime's import)."""
    seconds, ns = divmod(time.time_ns(), 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ns // 1000:06d}Z"


# Every command is a new process whose first statement rebuilds SQLite's WAL index from the WAL
# file (no other connection keeps it): 0.2 ms plus ~1.8 us per frame, 1.8 ms with SQLite's default
# of 1000 frames between checkpoints. A run writes 18-27 frames. Measured per run (docs/startup.md):
# 100 frames made it worse (a checkpoint, with its fsyncs, every few runs), 300 better.
WAL_CHECKPOINT_PAGES = 300


class Records:
    def __init__(self, path: str) -> None:
        # private before SQLite makes it (its -wal and -shm files copy the database's mode): it
        # holds containers' environments, where people put passwords
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
        self.db = sqlite3.connect(path, timeout=60, isolation_level=None)
        if self.db.execute("PRAGMA user_version").fetchone()[0] < _SCHEMA_VERSION:
            self._use_wal()
            with self.transaction():
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    self.db.execute(statement)
                have = {row[1] for row in self.db.execute("PRAGMA table_info(containers)")}
                for column, kind in _ADDED_COLUMNS.items():
                    if column not in have:
                        self.db.execute(f"ALTER TABLE containers ADD COLUMN {column} {kind}")
                self.db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")

    def _use_wal(self) -> None:
        """The switch to WAL waits on no busy handler: a new database opened by parallel commands
        (`run`s on a new root) got "database is locked" at once; retried here as the timeout would."""
        deadline = time.monotonic() + 60
        while True:
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.002)

    def transaction(self) -> "_Transaction":
        """`with records.transaction() as db:` BEGIN IMMEDIATE, then COMMIT, or ROLLBACK on any exception."""
        return _Transaction(self.db)

    # containers

    def add_container(self, record: ContainerRecord) -> None:
        row = asdict(record)
        for column in _JSON_COLUMNS:
            row[column] = jsonio.dumps(row[column])
        row["mounts"] = _mounts_text(row["mounts"])
        try:
            with self.transaction():
                self.db.execute(f"INSERT INTO containers ({','.join(_COLUMNS)}) VALUES "
                                f"({','.join('?' * len(_COLUMNS))})", [row[c] for c in _COLUMNS])
        except sqlite3.IntegrityError:
            raise Conflict(f'the container name "{record.name}" is already in use: '
                           "remove that container or choose another --name") from None

    def update_container(self, container_id: str, unless_status: tuple[str, ...] = (), **values) -> bool:
        """Set `values`; with `unless_status`, only if the status is none of those. True if a row changed."""
        for column in _JSON_COLUMNS:
            if column in values:
                values[column] = jsonio.dumps(values[column])
        if "mounts" in values:
            values["mounts"] = _mounts_text(values["mounts"])
        assignments = ",".join(f"{k}=?" for k in values)
        condition = f" AND status NOT IN ({','.join('?' * len(unless_status))})" if unless_status else ""
        with self.transaction():
            cursor = self.db.execute(f"UPDATE containers SET {assignments} WHERE id=?{condition}",
                                     [*values.values(), container_id, *unless_status])
        return cursor.rowcount > 0

    def remove_container(self, container_id: str) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM containers WHERE id=?", (container_id,))

    def find_container(self, ref: str) -> ContainerRecord:
        """By name, full id, or unique id prefix (Docker's order)."""
        rows = self.db.execute(f"SELECT {','.join(_COLUMNS)} FROM containers WHERE name=? OR id=?",
                               (ref.lstrip("/"), ref)).fetchall()
        if not rows and ref and all(c in "0123456789abcdef" for c in ref):
            rows = self.db.execute(f"SELECT {','.join(_COLUMNS)} FROM containers WHERE id LIKE ? LIMIT 2",
                                   (ref + "%",)).fetchall()
            if len(rows) > 1:
                raise InvalidArgument(f"container id prefix {ref} is ambiguous: it matches more than one "
                                      "container; give more characters or the name")
        if not rows:
            raise NotFound(f"no such container: {ref} (`mydocker ps -a` lists them)")
        return _container(rows[0])

    def get_container(self, container_id: str) -> ContainerRecord | None:
        row = self.db.execute(f"SELECT {','.join(_COLUMNS)} FROM containers WHERE id=?",
                              (container_id,)).fetchone()
        return _container(row) if row else None

    def rename_container(self, container_id: str, name: str) -> None:
        try:
            with self.transaction():
                self.db.execute("UPDATE containers SET name=? WHERE id=?", (name, container_id))
        except sqlite3.IntegrityError:
            raise Conflict(f'the container name "{name}" is already in use: '
                           "remove that container or choose another name") from None

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
    for column in _JSON_COLUMNS:
        values[column] = jsonio.loads(values[column])
    values["mounts"] = jsonio.loads(values["mounts"]) if values["mounts"] else None
    values["oom_killed"] = bool(values["oom_killed"])
    values["manually_stopped"] = bool(values["manually_stopped"])
    return ContainerRecord(**values)


def _mounts_text(mounts: list | None) -> str:
    return "" if mounts is None else jsonio.dumps(mounts)


class _Transaction:
    """What @contextmanager would make of transaction(), without contextlib (and functools) loading."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind, value, traceback) -> bool:
        self.db.execute("ROLLBACK" if kind else "COMMIT")
        return False

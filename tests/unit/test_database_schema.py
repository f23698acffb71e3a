"""A records database made by an older mydocker opens in this one: the columns added since are added."""

from __future__ import annotations

import sqlite3

from mydocker.engine.database import ContainerRecord, Records


def test_a_version_3_database_gets_the_mounts_column_and_its_records_have_none_recorded(tmp_path):
    path = str(tmp_path / "mydocker.db")
    old = sqlite3.connect(path)
    old.executescript("""
        CREATE TABLE containers (id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, image TEXT NOT NULL,
            image_id TEXT NOT NULL, created TEXT NOT NULL, status TEXT NOT NULL, pid INTEGER NOT NULL DEFAULT 0,
            exit_code INTEGER, started_at TEXT, finished_at TEXT, config TEXT NOT NULL DEFAULT '{}',
            oom_killed INTEGER NOT NULL DEFAULT 0, error TEXT NOT NULL DEFAULT '',
            restart_count INTEGER NOT NULL DEFAULT 0,
            monitor TEXT NOT NULL DEFAULT '', host_config TEXT NOT NULL DEFAULT '{}',
            manually_stopped INTEGER NOT NULL DEFAULT 0, health TEXT NOT NULL DEFAULT '{}');
        INSERT INTO containers (id, name, image, image_id, created, status)
            VALUES ('a1', 'old', 'busybox', 'sha256:x', 't', 'exited');
        PRAGMA user_version=3;
    """)
    old.close()
    records = Records(path)
    assert records.get_container("a1").mounts is None  # the list reads its config.json then
    mounts = [{"Type": "volume", "Name": "v", "Destination": "/data"}]
    records.add_container(ContainerRecord(id="b2", name="new", image="busybox", image_id="sha256:x", created="t",
                                          status="created", mounts=mounts))
    assert records.get_container("b2").mounts == mounts
    records.update_container("a1", mounts=[])
    assert records.get_container("a1").mounts == []  # none: not the same as not recorded

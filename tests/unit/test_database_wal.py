"""The records' SQLite WAL stays short: every command is a new process that reads all of it back."""

from __future__ import annotations

import os

from mydocker.engine.database import WAL_CHECKPOINT_PAGES, Records

FRAME = 4096 + 24  # a page and its frame header


def test_the_wal_is_checkpointed_every_few_hundred_frames_not_sqlites_thousand(tmp_path):
    """Issue 20: a command's first statement rebuilds the WAL index from every frame in the WAL
    (1.8 ms at SQLite's default of 1000); with a checkpoint every WAL_CHECKPOINT_PAGES frames the
    file, which is reused from its start after each, never holds many more."""
    path = str(tmp_path / "records.db")
    records = Records(path)
    records.db.execute("CREATE TABLE filler (k INTEGER PRIMARY KEY, v BLOB)")
    for i in range(700):  # ~700 frames: one page changed per transaction, and the table's growth
        with records.transaction():
            records.db.execute("INSERT OR REPLACE INTO filler VALUES (?, ?)", (i, os.urandom(3000)))
    assert WAL_CHECKPOINT_PAGES <= 300
    assert os.path.getsize(path + "-wal") < (WAL_CHECKPOINT_PAGES + 50) * FRAME

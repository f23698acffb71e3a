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


def _opened_at_once(path: str, processes: int) -> list[int]:
    """`processes` forked children open a new database at the same moment; their exit codes."""
    gate_r, gate_w = os.pipe()
    pids = []
    for _ in range(processes):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(gate_w)
                os.read(gate_r, 1)
                Records(path)
                code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    os.close(gate_r)
    os.write(gate_w, b"x" * processes)
    os.close(gate_w)
    return [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]


def test_concurrent_first_opens_of_a_new_database_all_succeed(tmp_path):
    """Parallel `run`s on a new root each make the records: SQLite's switch to WAL waits on no busy
    handler, and one of them got "database is locked" (seen under load in tests/e2e/test_races.py)."""
    codes = [code for n in range(100) for code in _opened_at_once(str(tmp_path / f"records{n}.db"), 6)]
    assert codes.count(0) == len(codes), f"{len(codes) - codes.count(0)} of {len(codes)} opens failed"

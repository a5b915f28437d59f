"""SQLite's WAL is checkpointed by kuzet.common.db's own thread, never inside a writer's commit."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import text

from kuzet.common.db import CHECKPOINT_INTERVAL_S, Database


def _fill(database: Database, megabytes: int) -> None:
    with database.engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS blobs (id INTEGER PRIMARY KEY, data BLOB)")
    for _ in range(megabytes * 4):
        with database.engine.begin() as connection:
            connection.execute(text("INSERT INTO blobs (data) VALUES (randomblob(262144))"))


def test_commits_do_not_checkpoint(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        with database.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    finally:
        database.dispose()


def test_the_checkpointer_thread_copies_the_wal_into_the_database(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    database = Database(f"sqlite:///{path}")
    try:
        _fill(database, 4)
        # Commits leave it in the WAL (test above); the thread moves it into the file.
        deadline = time.monotonic() + 5 * CHECKPOINT_INTERVAL_S + 5
        while path.stat().st_size < 4_000_000:
            assert time.monotonic() < deadline, "the WAL was never checkpointed"
            time.sleep(0.1)
    finally:
        database.dispose()


def test_a_disposed_database_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    database = Database(f"sqlite:///{path}")
    _fill(database, 1)
    database.dispose()
    path.unlink()
    Path(f"{path}-wal").unlink(missing_ok=True)
    time.sleep(2 * CHECKPOINT_INTERVAL_S + 0.5)
    assert not path.exists(), "a checkpoint must not create the database file again"

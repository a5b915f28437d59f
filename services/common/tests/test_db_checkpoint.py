"""A database that owns its checkpoints: SQLite commits never checkpoint its WAL, checkpoint() does."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from kuzet.common.db import Database


def _fill(database: Database, megabytes: int) -> None:
    with database.engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS blobs (id INTEGER PRIMARY KEY, data BLOB)")
    for _ in range(megabytes * 4):
        with database.engine.begin() as connection:
            connection.execute(text("INSERT INTO blobs (data) VALUES (randomblob(262144))"))


def test_commits_checkpoint_only_where_sqlite_does_it(tmp_path: Path) -> None:
    for own, expected in ((True, 0), (False, 1000)):
        database = Database(f"sqlite:///{tmp_path / f'{own}.db'}", own_checkpoints=own)
        try:
            assert database.own_checkpoints is own
            with database.engine.connect() as connection:
                assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == expected
        finally:
            database.dispose()


def test_checkpoint_copies_the_wal_into_the_database(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    database = Database(f"sqlite:///{path}", own_checkpoints=True)
    try:
        _fill(database, 4)
        assert path.stat().st_size < 1_000_000, "a commit checkpointed"
        database.checkpoint()
        assert path.stat().st_size > 4_000_000
    finally:
        database.dispose()


def test_checkpoint_leaves_a_removed_database_removed(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    database = Database(f"sqlite:///{path}", own_checkpoints=True)
    try:
        _fill(database, 1)
        database.engine.dispose()
        path.unlink()
        Path(f"{path}-wal").unlink(missing_ok=True)
        database.checkpoint()
        assert not path.exists()
    finally:
        database.dispose()

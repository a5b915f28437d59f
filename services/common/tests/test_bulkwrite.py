"""Bulk inserts, upserts and updates give the same rows on SQLite (executemany) and PostgreSQL
(one unnest statement), NULLs, bytes and timestamps included."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import BigInteger, LargeBinary, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kuzet.common.bulkwrite import bulk_insert, bulk_update, bulk_upsert
from kuzet.common.db import Database


class Base(DeclarativeBase):
    pass


class Row(Base):
    __tablename__ = "bulk_rows"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    seen: Mapped[datetime | None] = mapped_column(nullable=True)


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    Base.metadata.create_all(database.engine)
    try:
        yield database
    finally:
        database.dispose()


def rows_of(database: Database) -> list[tuple[object, ...]]:
    with database.engine.connect() as connection:
        result = connection.execute(
            select(Row.key, Row.owner, Row.count, Row.data).order_by(Row.key, Row.owner)
        )
        return [tuple(row) for row in result]


def test_insert_skips_conflicts_and_keeps_nulls_and_bytes(database: Database) -> None:
    insert = bulk_insert(database, Row, ("key", "owner", "count", "data"), on_conflict="DO NOTHING")
    with database.engine.begin() as connection:
        insert.execute(connection, [("a", "x", 1, b"\x00\xff"), ("b", "x", 2, None)])
        insert.execute(connection, [("a", "x", 9, b"new"), ("c", "y", 3, b"")])
        insert.execute(connection, [])
    assert rows_of(database) == [("a", "x", 1, b"\x00\xff"), ("b", "x", 2, None), ("c", "y", 3, b"")]


def test_upsert_replaces_the_other_columns(database: Database) -> None:
    upsert = bulk_upsert(database, Row, ("key", "owner", "count", "seen"), key=("key", "owner"))
    when = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    with database.engine.begin() as connection:
        upsert.execute(connection, [("a", "x", 1, when), ("b", "x", 2, None)])
        upsert.execute(connection, [("a", "x", 5, None), ("b", "x", 6, when)])
    assert [row[:3] for row in rows_of(database)] == [("a", "x", 5), ("b", "x", 6)]


def test_update_matches_every_named_column(database: Database) -> None:
    insert = bulk_insert(database, Row, ("key", "owner", "count"))
    update = bulk_update(database, Row, assign=("count",), match=("key", "owner"))
    with database.engine.begin() as connection:
        insert.execute(connection, [("a", "x", 1), ("a", "y", 1), ("b", "x", 1)])
        update.execute(connection, [(7, "a", "x"), (8, "b", "x"), (9, "zz", "x")])
    assert [row[:3] for row in rows_of(database)] == [("a", "x", 7), ("a", "y", 1), ("b", "x", 8)]

"""One statement over many rows, in the form each engine runs fastest.

SQLite runs in the process, so the driver's executemany (the statement once per row) costs no
round trips. psycopg's executemany also sends the statement once per row, pipelined: at 10,000
rows a second that was the largest cost in the badge service's profile. On PostgreSQL the rows
therefore travel as one typed array per column, and ``unnest`` turns them back into rows: one
statement per batch, whatever its size.

Rows are tuples in the order of the columns named; values go to the driver as they are (no
SQLAlchemy type processing: bind them first where a column type converts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase

from kuzet.common.db import Database


@dataclass(frozen=True, slots=True)
class BulkWrite:
    sql: str
    # PostgreSQL: parameters are the columns (arrays), not the rows.
    columnar: bool

    def execute(self, connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self.columnar:
            connection.exec_driver_sql(self.sql, tuple(list(column) for column in zip(*rows, strict=True)))
        else:
            connection.exec_driver_sql(self.sql, list(rows))


def _table(model: type[DeclarativeBase]) -> Table:
    return cast(Table, model.__table__)


def _rows_source(database: Database, model: type[DeclarativeBase], columns: Sequence[str]) -> str:
    """What the rows are selected from: placeholders per row (SQLite), or one unnest of arrays."""
    table = _table(model)
    if database.is_sqlite:
        return f"VALUES ({', '.join('?' * len(columns))})"
    dialect = database.engine.dialect
    arrays = ", ".join(f"%s::{table.c[name].type.compile(dialect=dialect)}[]" for name in columns)
    return f"SELECT * FROM unnest({arrays})"


def bulk_insert(
    database: Database, model: type[DeclarativeBase], columns: Sequence[str], *, on_conflict: str = ""
) -> BulkWrite:
    """INSERT of rows; ``on_conflict`` is the clause after ON CONFLICT (e.g. "DO NOTHING")."""
    sql = f"INSERT INTO {_table(model).name} ({', '.join(columns)}) {_rows_source(database, model, columns)}"
    if on_conflict:
        sql += f" ON CONFLICT {on_conflict}"
    return BulkWrite(sql, columnar=not database.is_sqlite)


def bulk_upsert(
    database: Database, model: type[DeclarativeBase], columns: Sequence[str], key: Sequence[str]
) -> BulkWrite:
    """INSERT of rows, replacing the other columns of a row whose ``key`` exists. A key may come
    once per call (PostgreSQL refuses to update one row twice in a statement)."""
    updates = ", ".join(f"{name} = excluded.{name}" for name in columns if name not in key)
    return bulk_insert(database, model, columns, on_conflict=f"({', '.join(key)}) DO UPDATE SET {updates}")


def bulk_update(
    database: Database, model: type[DeclarativeBase], assign: Sequence[str], match: Sequence[str]
) -> BulkWrite:
    """UPDATE of the rows matching ``match``'s values, setting ``assign``'s: rows are the assigned
    values followed by the matched ones."""
    table = _table(model)
    if database.is_sqlite:
        sets = ", ".join(f"{name} = ?" for name in assign)
        where = " AND ".join(f"{name} = ?" for name in match)
        return BulkWrite(f"UPDATE {table.name} SET {sets} WHERE {where}", columnar=False)
    columns = [*assign, *match]
    sets = ", ".join(f"{name} = v.{name}" for name in assign)
    where = " AND ".join(f"{table.name}.{name} = v.{name}" for name in match)
    source = _rows_source(database, model, columns).removeprefix("SELECT * FROM ")
    return BulkWrite(
        f"UPDATE {table.name} SET {sets} FROM {source} AS v({', '.join(columns)}) WHERE {where}",
        columnar=True,
    )

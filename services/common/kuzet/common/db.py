"""SQLAlchemy 2 database access shared by the services: SQLite embedded, PostgreSQL in production.

Services keep sync SQLAlchemy (one code path for both engines and for Alembic) and run database
work off the event loop with ``Database.run``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import BigInteger, Integer, MetaData, create_engine, event, pool, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")

log = logging.getLogger(__name__)


# A 64-bit autoincrement key: SQLite only autoincrements an INTEGER PRIMARY KEY, PostgreSQL
# needs 64 bits for logs that grow by thousands of rows a minute.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Database:
    def __init__(self, url: str, *, pool_size: int = 10, own_checkpoints: bool = False) -> None:
        """``own_checkpoints``: on SQLite, commits never checkpoint the WAL; the owner calls
        ``checkpoint()`` (SQLite's automatic one runs inside the commit that crosses 1,000 WAL
        pages, fsyncs included: at 10,000 badge reports a second, a 100-200 ms commit every few
        seconds, every acknowledgement waiting behind it)."""
        self.url = normalise_url(url)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.own_checkpoints = own_checkpoints and self.is_sqlite
        self._file: Path | None = None
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                self.url,
                connect_args={"check_same_thread": False, "timeout": 30},
                poolclass=pool.QueuePool
                if parsed.database not in (None, "", ":memory:")
                else pool.StaticPool,
            )
            event.listen(
                self.engine,
                "connect",
                _sqlite_pragmas_own_checkpoints if own_checkpoints else _sqlite_pragmas,
            )
            event.listen(self.engine, "begin", _begin_immediate)
            if parsed.database not in (None, "", ":memory:"):
                self._file = Path(parsed.database)
        else:
            self.engine = create_engine(
                self.url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        with self._sessions.begin() as session:
            yield session

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(session, *args)`` in a transaction on a worker thread."""

        def work() -> T:
            with self.session() as session:
                return fn(session, *args)

        return await asyncio.to_thread(work)

    def checkpoint(self) -> None:
        """Copy the SQLite WAL into the database file (PASSIVE: writers go on meanwhile)."""
        if self._file is None or not self._file.exists():
            return  # gone with its test's directory; connecting would create it again
        raw = self.engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # type: ignore[union-attr]
        finally:
            raw.close()

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own deferred BEGIN is switched off: _begin_immediate starts transactions.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the single writer; NORMAL sync is durable at commit in WAL mode.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_pragmas_own_checkpoints(dbapi_connection: Any, record: Any) -> None:
    _sqlite_pragmas(dbapi_connection, record)
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")


def _begin_immediate(connection: Any) -> None:
    # A deferred transaction that reads then writes (every audit append) fails at once with
    # "database is locked" when another connection committed in between, whatever the busy
    # timeout; taking the write lock up front makes concurrent writers wait instead
    # (SQLAlchemy's documented pysqlite recipe).
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def migrate(
    database: Database, migrations_package: str, *, version_table: str | None = None, revision: str = "head"
) -> None:
    """Upgrade ``database`` to ``revision`` (the newest) of a service's Alembic migrations package.

    ``migrations_package`` is e.g. ``kuzet.alerting.migrations`` (a folder with env.py and
    versions/). Each service keeps its own version table so services may share a database.
    """
    from alembic import command
    from alembic.config import Config

    location = resources.files(migrations_package)
    cfg = Config()
    cfg.set_main_option("script_location", str(location))
    cfg.set_main_option("sqlalchemy.url", database.url.replace("%", "%%"))
    table = version_table or f"alembic_version_{migrations_package.split('.')[1]}"
    cfg.attributes["version_table"] = table
    with database.engine.begin() as connection:
        if not database.is_sqlite:
            # Replicas of a service start together and migrate the same database: one at a time
            # (SQLite's BEGIN IMMEDIATE already serialises them), the others then find it current.
            key = int.from_bytes(hashlib.blake2b(table.encode(), digest_size=8).digest(), "big", signed=True)
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def run_alembic_env(target_metadata: MetaData) -> None:
    """The body of every service's migrations/env.py (online mode, connection from migrate())."""
    from alembic import context

    config = context.config
    version_table = config.attributes.get("version_table", "alembic_version")
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(normalise_url(config.get_main_option("sqlalchemy.url") or ""))
        with engine.begin() as conn:
            _configure_and_run(context, conn, target_metadata, version_table)
        return
    _configure_and_run(context, connection, target_metadata, version_table)


def _configure_and_run(context: Any, connection: Any, metadata: MetaData, version_table: str) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=version_table,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()

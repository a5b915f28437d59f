"""The migrations build exactly the tables the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from kuzet.common.db import Database, migrate
from kuzet.traffic.models import Base


def test_migrations_match_the_models(db_url: str) -> None:
    database = Database(db_url)
    try:
        migrate(database, "kuzet.traffic.migrations")
        with database.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            ours = [d for d in compare_metadata(context, Base.metadata) if "traffic_" in repr(d)]
        assert ours == []
    finally:
        database.dispose()

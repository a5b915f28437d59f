"""The migrations build exactly the tables the models describe, on SQLite and PostgreSQL, and
fill what a new column copies from the rows already there."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from kuzet.common.db import Database, migrate
from kuzet.traffic.models import Base
from kuzet.traffic.v1 import traffic_pb2


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


def test_cameras_configured_before_sites_get_their_site(db_url: str) -> None:
    # Without the copy a site-limited caller would not see a camera configured before 0003.
    database = Database(db_url)
    try:
        migrate(database, "kuzet.traffic.migrations", revision="0002")
        profile = traffic_pb2.TrafficCamera(camera_id="cam-1", agency_id="police", site_id="almaty")
        with database.engine.begin() as connection:
            connection.execute(
                text("INSERT INTO traffic_cameras (camera_id, agency_id, data) VALUES (:c, :a, :d)"),
                {"c": "cam-1", "a": "police", "d": profile.SerializeToString()},
            )
        migrate(database, "kuzet.traffic.migrations")
        with database.engine.connect() as connection:
            site = connection.execute(text("SELECT site_id FROM traffic_cameras")).scalar_one()
        assert site == "almaty"
    finally:
        database.dispose()

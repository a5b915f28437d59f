"""Schema migrations keep what is stored: telemetry re-keyed by device time (0002)."""

from __future__ import annotations

from sqlalchemy import text

from kuzet.common.db import Database, migrate

ROWS = [
    ("B-1", 1, 3_000_000, 3_100_000, b"r1"),
    ("B-1", 2, 2_000_000, 3_200_000, b"r2"),
    ("B-2", 1, 1, 2, b"x"),
]


def test_telemetry_survives_the_new_key_and_duplicates_still_store_once(db_url: str) -> None:
    database = Database(db_url)
    migrate(database, "kuzet.badge.migrations", revision="0001")
    insert = text(
        "INSERT INTO badge_telemetry (badge_id, seq, device_time_us, received_at_us, payload) "
        "VALUES (:b, :s, :t, :r, :p)"
    )
    with database.engine.begin() as connection:
        for b, s, t, r, p in ROWS:
            connection.execute(insert, {"b": b, "s": s, "t": t, "r": r, "p": p})
    migrate(database, "kuzet.badge.migrations")
    mark = "?" if database.is_sqlite else "%s"
    with database.engine.begin() as connection:
        # The service's own insert: a re-sent report (same seq and device time) is ignored.
        connection.exec_driver_sql(
            "INSERT INTO badge_telemetry (badge_id, seq, device_time_us, received_at_us, payload) "
            f"VALUES ({', '.join([mark] * 5)}) ON CONFLICT DO NOTHING",
            [ROWS[0], ("B-1", 3, 4_000_000, 4_100_000, b"r3")],
        )
        stored = connection.execute(
            text(
                "SELECT seq, payload FROM badge_telemetry WHERE badge_id = 'B-1' ORDER BY device_time_us, seq"
            )
        ).all()
    assert [(seq, bytes(payload)) for seq, payload in stored] == [(2, b"r2"), (1, b"r1"), (3, b"r3")]
    database.dispose()

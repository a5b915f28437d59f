"""Schema migrations keep what is stored: telemetry re-keyed by device time (0002), citations
given a life cycle (0005)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from kuzet.badge.v1 import badge_pb2
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


def test_citations_stored_before_the_life_cycle_become_issued_and_pending_export(db_url: str) -> None:
    database = Database(db_url)
    migrate(database, "kuzet.badge.migrations", revision="0004")
    when = datetime(2026, 3, 1, 9, tzinfo=UTC)
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO badges (badge_id, agency_id, unit_id, serial_number, firmware_version, status, "
                "officer_id, registered_at, updated_at, device_credential_hash) "
                "VALUES ('C-9', 'police', 'traffic-east', '', '', 1, '', :t, :t, '')"
            ),
            {"t": when},
        )
        for citation_id, badge_id in (("cit-1", "C-9"), ("cit-2", "")):
            payload = badge_pb2.Citation(citation_id=citation_id, badge_id=badge_id, offence_code="TR-201")
            connection.execute(
                text(
                    "INSERT INTO citations (citation_id, agency_id, officer_id, offence_code, vehicle_plate, "
                    "occurred_at, payload) VALUES (:c, 'police', 'off-1', 'TR-201', '', :t, :p)"
                ),
                {"c": citation_id, "t": when, "p": payload.SerializeToString()},
            )
    migrate(database, "kuzet.badge.migrations")
    with database.engine.begin() as connection:
        rows = connection.execute(
            text(
                "SELECT citation_id, unit_id, status, version, export_pending, exported_version, payload "
                "FROM citations ORDER BY citation_id"
            )
        ).all()
        history = connection.execute(
            text(
                "SELECT citation_id, seq, unit_id, offence_code, from_status, to_status, actor "
                "FROM citation_history ORDER BY citation_id"
            )
        ).all()
    assert [tuple(r[:6]) for r in rows] == [
        ("cit-1", "traffic-east", badge_pb2.CITATION_STATUS_ISSUED, 1, True, 0),
        ("cit-2", "", badge_pb2.CITATION_STATUS_ISSUED, 1, True, 0),
    ]
    assert badge_pb2.Citation.FromString(bytes(rows[0][6])).badge_id == "C-9"
    assert [tuple(h) for h in history] == [
        ("cit-1", 1, "traffic-east", "TR-201", 0, badge_pb2.CITATION_STATUS_ISSUED, "off-1"),
        ("cit-2", 1, "", "TR-201", 0, badge_pb2.CITATION_STATUS_ISSUED, "off-1"),
    ]
    database.dispose()

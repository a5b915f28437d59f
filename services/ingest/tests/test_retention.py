"""Retention of snapshots and clips in a real object store (local directory, SeaweedFS S3) with
holds in a real database (SQLite, PostgreSQL): old objects go, held ones and other keys stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kuzet.common.audit import AuditLog
from kuzet.common.caller import Caller
from kuzet.common.db import Database
from kuzet.common.holds import Holds
from kuzet.common.objectstore import ObjectStore
from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.common.v1 import holds_pb2
from kuzet.ingest.config import IngestSettings
from kuzet.ingest.retention import HOLD_KIND, HOLD_KINDS, build_retention, parse_key

INVESTIGATOR = Caller("inv-1", "prison", frozenset({"investigator"}))


def _key(kind: str, agency: str, camera: str, at: datetime, seq: int) -> str:
    ext = "jpg" if kind == "snapshots" else "mp4"
    return f"{kind}/{agency}/{camera}/{at:%Y/%m/%d/%H%M%S}-{seq}-person.{ext}"


def test_keys_are_read_as_written() -> None:
    at = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    parsed = parse_key(_key("clips", "prison", "cam-1", at, 9))
    assert parsed is not None and (parsed.agency, parsed.camera, parsed.at) == ("prison", "cam-1", at)
    for other in (
        "evidence/prison/e-1",
        "snapshots/prison/cam-1/latest.jpg",
        "snapshots/p/c/2026/13/40/999999-1-x.jpg",
    ):
        assert parse_key(other) is None


async def test_old_snapshots_and_clips_go_held_ones_stay(db_url: str, object_store: ObjectStore) -> None:
    database = Database(db_url)
    audit = AuditLog(database)
    holds = Holds(database, audit, HOLD_KINDS)
    settings = IngestSettings(
        retention_object_days=30,
        retention_object_agency_days={"police": 7},
        retention_batch=2,
        replica_id="ingest-a",
    )
    retention = build_retention(settings, database, audit, object_store, holds)
    now = utcnow().replace(microsecond=0)
    keys = {
        "fresh": _key("snapshots", "prison", "cam-1", now - timedelta(days=3), 1),
        "old_snap": _key("snapshots", "prison", "cam-1", now - timedelta(days=40), 2),
        "old_clip": _key("clips", "prison", "cam-1", now - timedelta(days=40), 3),
        "held_key": _key("snapshots", "prison", "cam-1", now - timedelta(days=50), 4),
        "held_window": _key("clips", "prison", "cam-2", now - timedelta(days=60), 5),
        "outside_window": _key("clips", "prison", "cam-2", now - timedelta(days=90), 6),
        "police_week": _key("snapshots", "police", "p-cam", now - timedelta(days=10), 7),
        "not_ingest": "evidence/prison/e-1",
    }
    for key in keys.values():
        await object_store.put(key, b"bytes", "application/octet-stream")
    await holds.place(
        INVESTIGATOR, holds_pb2.PlaceHoldRequest(kind=HOLD_KIND, item_id=keys["held_key"], reason="appeal")
    )
    window = now - timedelta(days=60)
    await holds.place(
        INVESTIGATOR,
        holds_pb2.PlaceHoldRequest(
            kind=HOLD_KIND,
            source_id="cam-2",
            from_time=to_timestamp(window - timedelta(hours=1)),
            to_time=to_timestamp(window + timedelta(hours=1)),
            reason="fight in block C",
        ),
    )
    assert await retention.lock.try_acquire_or_renew()
    assert await retention.run_once() == {HOLD_KIND: 4}
    left = set(await object_store.list(""))
    assert left == {keys[k] for k in ("fresh", "held_key", "held_window", "not_ingest")}
    (run,) = retention.to_proto()
    assert (run.deleted, run.kept_by_hold, run.error) == (4, 2, "")
    counts = {e.agency: e.details for e in audit.list(action_prefix="retention.delete")}
    assert counts["prison"] == {"deleted": 3, "kept_by_hold": 2, "as_of": counts["prison"]["as_of"]}
    assert counts["police"]["deleted"] == 1
    assert await retention.run_once() == {HOLD_KIND: 0}
    database.dispose()

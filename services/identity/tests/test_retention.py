"""Retention of match records and probe images: real database (SQLite, PostgreSQL) and object
store (local directory, SeaweedFS S3); legal holds keep what they cover."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from kuzet.common.audit import AuditLog
from kuzet.common.caller import Caller
from kuzet.common.db import Database, migrate
from kuzet.common.errors import NotFound
from kuzet.common.holds import Holds
from kuzet.common.objectstore import ObjectStore
from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.common.v1 import holds_pb2
from kuzet.identity.config import IdentitySettings
from kuzet.identity.models import MatchRow, ReviewRow
from kuzet.identity.retention import HOLD_KIND, HOLD_KINDS, build_retention

INVESTIGATOR = Caller("inv-1", "prison", frozenset({"investigator"}))
ADMIN = Caller("admin-1", "prison", frozenset({"admin"}))


def _match(agency: str, age_days: float, probe_key: str, **fields: object) -> MatchRow:
    created = utcnow() - timedelta(days=age_days)
    values: dict[str, object] = {
        "match_id": str(uuid.uuid4()),
        "agency_id": agency,
        "gallery_id": "g1",
        "person_id": "p1",
        "external_id": "x1",
        "display_name": "Someone",
        "image_id": "i1",
        "score": 0.8,
        "threshold": 0.45,
        "state": 1,
        "required_reviewers": 2,
        "probe_key": probe_key,
        "probe_sha256": "0" * 64 if probe_key else "",
        "probe_size": 3 if probe_key else 0,
        "probe_content_type": "image/jpeg" if probe_key else "",
        "source_id": "cam-1",
        "occurred_at": created,
        "created_at": created,
        "created_by": "service:ingest",
        **fields,
    }
    return MatchRow(**values)


async def _exists(store: ObjectStore, key: str) -> bool:
    try:
        await store.stat(key)
    except NotFound:
        return False
    return True


async def test_probes_then_matches_expire_holds_keep_them(db_url: str, object_store: ObjectStore) -> None:
    database = Database(db_url)
    migrate(database, "kuzet.identity.migrations")
    audit = AuditLog(database)
    holds = Holds(database, audit, HOLD_KINDS)
    settings = IdentitySettings(
        retention_probe_days=30,
        retention_match_days=365,
        retention_match_agency_days={"police": 60},
        retention_batch=2,
    )
    retention = build_retention(settings, database, audit, object_store, holds, identity="identity-a")

    keys = {name: f"identity/prison/probes/{name}" for name in ("fresh", "month", "shared", "held", "old")}
    for key in keys.values():
        await object_store.put(key, b"jpg", "image/jpeg")
    fresh = _match("prison", 2, keys["fresh"])
    month = _match("prison", 40, keys["month"])
    # One search, two candidates: one probe image; the second candidate is held.
    shared_a = _match("prison", 40, keys["shared"])
    shared_b = _match("prison", 40, keys["shared"], event_id="event-7")
    held_case = _match("prison", 400, keys["held"], event_id="event-7")
    old = _match("prison", 400, keys["old"])
    police = _match("police", 90, "")
    in_window = _match("prison", 500, "", source_id="cam-9")
    rows = [fresh, month, shared_a, shared_b, held_case, old, police, in_window]
    with database.session() as s:
        s.add_all(rows)
        s.flush()
        s.add(
            ReviewRow(match_id=old.match_id, reviewer="rev-1", decision=1, reason="r", reviewed_at=utcnow())
        )

    await holds.place(
        INVESTIGATOR, holds_pb2.PlaceHoldRequest(kind=HOLD_KIND, case_id="event-7", reason="appeal")
    )
    seen = in_window.occurred_at
    await holds.place(
        ADMIN,
        holds_pb2.PlaceHoldRequest(
            kind=HOLD_KIND,
            source_id="cam-9",
            from_time=to_timestamp(seen - timedelta(hours=1)),
            to_time=to_timestamp(seen + timedelta(hours=1)),
            reason="incident on cam-9",
        ),
    )
    assert await retention.lock.try_acquire_or_renew()
    done = await retention.run_once()
    # probes: month, shared_a (object kept: shared_b still uses it), old ; matches: old, police
    assert done == {"identity.probe": 3, "identity.match": 2}

    with database.session() as s:
        left = {m.match_id: m for m in s.scalars(select(MatchRow))}
        reviews = list(s.scalars(select(ReviewRow)))
    assert set(left) == {
        fresh.match_id,
        month.match_id,
        shared_a.match_id,
        shared_b.match_id,
        held_case.match_id,
        in_window.match_id,
    }
    assert left[month.match_id].probe_key == "" and left[shared_a.match_id].probe_key == ""
    assert left[fresh.match_id].probe_key == keys["fresh"]
    assert (
        left[shared_b.match_id].probe_key == keys["shared"]
        and left[held_case.match_id].probe_key == keys["held"]
    )
    assert reviews == []
    present = {name: await _exists(object_store, key) for name, key in keys.items()}
    assert present == {"fresh": True, "month": False, "shared": True, "held": True, "old": False}

    status = {r.kind: r for r in retention.to_proto()}
    assert status["identity.match"].kept_by_hold == 2 and status["identity.probe"].kept_by_hold == 2
    counts = {
        (e.target, e.agency): e.details["deleted"] for e in audit.list(action_prefix="retention.delete")
    }
    assert counts[("identity.match", "prison")] == 1 and counts[("identity.match", "police")] == 1
    assert counts[("identity.probe", "prison")] == 3
    assert audit.verify().ok
    database.dispose()

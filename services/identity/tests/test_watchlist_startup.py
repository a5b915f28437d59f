"""Watchlists stored before the rules existed are brought under them when identity starts, and
every change is audited; galleries of other kinds and compliant watchlists are left alone."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from kuzet.common.timeutil import as_utc, to_timestamp, utcnow
from kuzet.common.v1 import audit_pb2
from kuzet.identity.models import GalleryRow
from kuzet.identity.v1 import identity_pb2 as pb
from kuzet.identity.watchlists import ACTION

from .conftest import AUDITOR, Running, md, start_identity

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _stop(running: Running) -> None:
    await running.channel.close()
    await running.server.stop(0)


async def test_existing_watchlists_get_an_expiry_and_two_reviewers_at_start(
    db_url: str, tmp_path: Path, inference_address: str
) -> None:
    running = await start_identity(db_url, tmp_path, inference_address, watchlist_max_days=100)
    try:
        in_rule = to_timestamp(utcnow() + timedelta(days=30))
        legacy = await running.gallery(name="legacy", expires_at=in_rule)
        far = await running.gallery(name="far", expires_at=in_rule)
        fine = await running.gallery(name="fine", expires_at=in_rule, required_reviewers=3)
        staff = await running.gallery(kind=pb.GALLERY_KIND_STAFF, required_reviewers=1)
    finally:
        await _stop(running)
    # As rows written before the rules (or by hand) would be.
    with running.app.database.session() as s:
        s.execute(
            update(GalleryRow)
            .where(GalleryRow.gallery_id == legacy.gallery_id)
            .values(expires_at=None, required_reviewers=1)
        )
        s.execute(
            update(GalleryRow)
            .where(GalleryRow.gallery_id == far.gallery_id)
            .values(expires_at=utcnow() + timedelta(days=5 * 365))
        )

    before = utcnow()
    running = await start_identity(db_url, tmp_path, inference_address, watchlist_max_days=100)
    try:
        with running.app.database.session() as s:
            rows = {
                g.gallery_id: (g.expires_at and as_utc(g.expires_at), g.required_reviewers)
                for g in s.query(GalleryRow)
            }
        latest = before + timedelta(days=100)
        for fixed in (legacy, far):
            expires, reviewers = rows[fixed.gallery_id]
            assert expires is not None and latest <= expires <= utcnow() + timedelta(days=100)
            assert reviewers == 2
        assert rows[fine.gallery_id][1] == 3 and rows[fine.gallery_id][0] < before + timedelta(days=31)
        assert rows[staff.gallery_id] == (None, 1)

        trail = await running.audit_stub.ListAudit(
            audit_pb2.ListAuditRequest(action_prefix=ACTION), metadata=md(AUDITOR)
        )
        by_target = {r.target: r for r in trail.records}
        assert set(by_target) == {legacy.gallery_id, far.gallery_id}
        record = by_target[legacy.gallery_id]
        assert record.actor == "service:identity" and record.agency_id == "prison"
        assert record.details["before"]["expires_at"] is None
        assert record.details["before"]["required_reviewers"] == 1
        assert record.details["after"]["required_reviewers"] == 2
    finally:
        await _stop(running)

    # Idempotent: a restart finds nothing left to change and records nothing more.
    running = await start_identity(db_url, tmp_path, inference_address, watchlist_max_days=100)
    try:
        again = await running.audit_stub.ListAudit(
            audit_pb2.ListAuditRequest(action_prefix=ACTION), metadata=md(AUDITOR)
        )
        assert len(again.records) == 2
    finally:
        await _stop(running)

"""Watchlists made before the rules (expiry at most KUZET_IDENTITY_WATCHLIST_MAX_DAYS ahead, at
least two reviewers) are brought under them when the service starts, and each change is audited.

CreateGallery and UpdateGallery refuse a watchlist that breaks the rules; rows written before
those checks existed (or by hand) would otherwise keep matching forever on one reviewer's word.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kuzet.common.audit import AuditLog
from kuzet.common.db import Database
from kuzet.common.timeutil import as_utc
from kuzet.identity.models import GalleryRow
from kuzet.identity.v1 import identity_pb2 as pb

MIN_WATCHLIST_REVIEWERS = 2
ACTION = "identity.gallery.enforce_rules"


def enforce_watchlist_rules(database: Database, audit: AuditLog, max_days: int, now: datetime) -> list[str]:
    """Give every watchlist without an expiry (or one beyond ``max_days``) the expiry now +
    ``max_days``, and raise its required reviewers to at least two; returns the changed ids.

    Idempotent, and safe when replicas start together: rows are locked and re-read, so a row
    another replica already fixed is left alone."""
    latest = now + timedelta(days=max_days)

    def fix(s: Session) -> list[str]:
        rows = s.scalars(
            select(GalleryRow)
            .where(
                GalleryRow.kind == pb.GALLERY_KIND_WATCHLIST,
                or_(
                    GalleryRow.expires_at.is_(None),
                    GalleryRow.expires_at > latest,
                    GalleryRow.required_reviewers < MIN_WATCHLIST_REVIEWERS,
                ),
            )
            .order_by(GalleryRow.gallery_id)
            .with_for_update()
        ).all()
        changed = []
        for row in rows:
            before: dict[str, Any] = {
                "expires_at": as_utc(row.expires_at).isoformat() if row.expires_at else None,
                "required_reviewers": row.required_reviewers,
            }
            if row.expires_at is None or as_utc(row.expires_at) > latest:
                row.expires_at = latest
            row.required_reviewers = max(row.required_reviewers, MIN_WATCHLIST_REVIEWERS)
            audit.append(
                ACTION,
                row.gallery_id,
                details={
                    "reason": f"watchlists end within {max_days} days and need "
                    f"{MIN_WATCHLIST_REVIEWERS} reviewers",
                    "before": before,
                    "after": {
                        "expires_at": as_utc(row.expires_at).isoformat(),
                        "required_reviewers": row.required_reviewers,
                    },
                },
                agency=row.agency_id,
                actor="service:identity",
                session=s,
            )
            changed.append(row.gallery_id)
        return changed

    with database.session() as s:
        return fix(s)

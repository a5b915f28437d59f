"""Registry and incident changes made on other replicas, for this replica's in-memory mirror.

Each replica mirrors the badges table in its hub. What another replica changed (a registration,
an officer's shift, an incident assignment, the live state of a badge streaming to it) is read
back by time: rows changed since the last read, less a margin for the clocks of the replicas
that wrote them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kuzet.badge.models import BadgeRow, BadgeStateRow, IncidentBadgeRow, IncidentRow, StreamHolderRow
from kuzet.common.timeutil import as_utc

CLOCK_MARGIN = timedelta(seconds=5)


@dataclass
class Changes:
    badges: list[BadgeRow] = field(default_factory=list)
    # (badge_id, incident_id): the badge no longer works that incident.
    released: list[tuple[str, str]] = field(default_factory=list)
    # (badge_id, incident_id, assigned at in epoch seconds)
    assigned: list[tuple[str, str, float]] = field(default_factory=list)
    # Latest states written since (by the replica holding each badge's stream).
    states: list[BadgeStateRow] = field(default_factory=list)


def read_changes(session: Session, since: datetime, replica_id: str) -> Changes:
    after = since - CLOCK_MARGIN
    # The states of the badges streaming here are this replica's own writes: left in the database,
    # not loaded back every poll (at 10,000 badges on one replica that was 10,000 rows a second).
    held_here = select(StreamHolderRow.badge_id).where(
        StreamHolderRow.replica_id == replica_id,
        StreamHolderRow.expires_at_us > int(time.time() * 1_000_000),
    )
    changes = Changes(
        badges=list(session.scalars(select(BadgeRow).where(BadgeRow.updated_at >= after))),
        states=list(
            session.scalars(
                select(BadgeStateRow).where(
                    BadgeStateRow.last_seen >= after, BadgeStateRow.badge_id.not_in(held_here)
                )
            )
        ),
    )
    rows = session.execute(
        select(
            IncidentBadgeRow.badge_id,
            IncidentBadgeRow.incident_id,
            IncidentBadgeRow.assigned_at,
            IncidentBadgeRow.released_at,
            IncidentRow.active,
        )
        .join(IncidentRow, IncidentRow.incident_id == IncidentBadgeRow.incident_id)
        .where(
            or_(
                IncidentBadgeRow.assigned_at >= after,
                IncidentBadgeRow.released_at >= after,
                IncidentRow.closed_at >= after,
            )
        )
    )
    for badge_id, incident_id, assigned_at, released_at, active in rows:
        if released_at is None and active:
            changes.assigned.append((badge_id, incident_id, as_utc(assigned_at).timestamp()))
        else:
            changes.released.append((badge_id, incident_id))
    return changes

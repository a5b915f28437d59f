"""The site limit of a caller (Caller.sites) as the badge service applies it.

A badge's site is its police unit (``unit_id``); a citation carries the unit of the badge that
issued it, and an evidence item belongs to the unit of the badge that recorded it. A caller
limited to some units sees its agency's data of those units only: anything else is answered as
missing (its existence is not confirmed) and left out of lists, and a write that would place
something in another unit is refused (``Caller.site_limit``, ``sees_site``, ``require_site``);
this module adds what is the badge service's own: evidence belongs to its recording badge's unit.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from kuzet.badge.models import BadgeRow, EvidenceRow
from kuzet.common.caller import Caller


def evidence_in(allowed: frozenset[str], agency: str) -> ColumnElement[bool]:
    """A filter on EvidenceRow: items recorded by the agency's badges of the ``allowed`` units."""
    recorders = select(BadgeRow.badge_id).where(BadgeRow.agency_id == agency, BadgeRow.unit_id.in_(allowed))
    return EvidenceRow.badge_id.in_(recorders)


def evidence_unit(session: Session, row: EvidenceRow) -> str:
    badge = session.get(BadgeRow, row.badge_id)
    return badge.unit_id if badge is not None else ""


def sees_evidence(session: Session, caller: Caller, row: EvidenceRow) -> bool:
    if caller.site_limit(row.agency_id) is None:
        return True  # most callers have no limit: spare them reading the badge
    return caller.sees_site(row.agency_id, evidence_unit(session, row))

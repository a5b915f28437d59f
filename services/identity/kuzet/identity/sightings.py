"""Repeat sightings: a person's pending match at a camera collects that camera's later tracks.

A tracker gives a person a new track each time they re-enter the picture (a looping demo clip,
a daily walk past the same gate), and each track used to open a review of its own: a reviewer
met the same pending decision dozens of times, and operators as many alerts. While a match of
the person at that camera waits for review, a new track of them is a sighting of it instead: no
second review is opened, and its event carries the pending match's alert subject, so alerting
folds it into the one alert (its count and latest snapshot). Nothing about the safeguard
changes: the match stays unconfirmed until reviewers confirm it, each track's search is still
audited (with the match it was filed under), and once the match is decided a new track opens a
new review.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.common.v1 import common_pb2
from kuzet.identity.models import GalleryRow, MatchRow
from kuzet.identity.registry import Hit
from kuzet.identity.v1 import identity_pb2 as pb

# (agency of the gallery, gallery, person): whom a match is about, at one camera.
SightingKey = tuple[str, str, str]


def sighting_key(gallery: GalleryRow, hit: Hit) -> SightingKey:
    return (gallery.agency_id, gallery.gallery_id, hit.person.person_id)


def pending_at_camera(
    s: Session, source: common_pb2.Source, hits: Iterable[tuple[GalleryRow, Hit]]
) -> dict[SightingKey, str]:
    """The oldest pending match of each hit's person at this camera, by sighting key (match ids).

    Two tracks matched at once on two replicas may both find none and open one each; the
    console groups such cards, and the next track joins the oldest."""
    wanted = {sighting_key(g, h) for g, h in hits}
    if not wanted:
        return {}
    rows = s.execute(
        select(MatchRow.agency_id, MatchRow.gallery_id, MatchRow.person_id, MatchRow.match_id)
        .where(
            MatchRow.agency_id.in_(sorted({agency for agency, _, _ in wanted})),
            MatchRow.state == pb.MATCH_STATE_PENDING,
            MatchRow.source_kind == source.kind,
            MatchRow.source_id == source.id,
            MatchRow.person_id.in_(sorted({person for _, _, person in wanted})),
        )
        .order_by(MatchRow.created_at.desc())
    )
    found: dict[SightingKey, str] = {}
    for agency, gallery, person, match_id in rows:
        key = (agency, gallery, person)
        if key in wanted:
            found[key] = match_id  # ordered newest first: the oldest is written last
    return found

"""Staff galleries: recognising a staff member is not a review case.

No action is taken against staff on a match, so a hit in a gallery of kind STAFF opens no review
and raises no face-match alert; it is reported as a sighting so that ingest knows staff are in
view (the oversight rules: violence with staff present, staff alone with a detainee). Every other
kind keeps the review gate. Staff are enrolled only with their recorded consent
(``GalleryRpcs.EnrolPerson``), on the gallery's legal basis.
"""

from __future__ import annotations

from collections.abc import Sequence

from kuzet.identity.models import GalleryRow
from kuzet.identity.registry import Hit
from kuzet.identity.v1 import identity_pb2 as pb

GalleryHit = tuple[GalleryRow, Hit]


def split_staff(hits: Sequence[GalleryHit]) -> tuple[list[pb.StaffSighting], list[GalleryHit]]:
    """Staff sightings, and the hits that stay review candidates (in the same order)."""
    staff = [sighting(g, h) for g, h in hits if g.kind == pb.GALLERY_KIND_STAFF]
    return staff, [(g, h) for g, h in hits if g.kind != pb.GALLERY_KIND_STAFF]


def sighting(g: GalleryRow, hit: Hit) -> pb.StaffSighting:
    return pb.StaffSighting(
        person_id=hit.person.person_id,
        gallery_id=g.gallery_id,
        external_id=hit.person.external_id,
        score=hit.score,
        threshold=g.threshold,
    )

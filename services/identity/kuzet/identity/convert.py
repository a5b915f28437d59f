"""Database rows to protobuf messages."""

from __future__ import annotations

from kuzet.common.timeutil import to_timestamp
from kuzet.common.v1 import common_pb2
from kuzet.identity.models import GalleryRow, MatchRow, PersonRow, ReviewRow
from kuzet.identity.v1 import identity_pb2 as pb


def gallery_pb(
    row: GalleryRow, *, person_count: int, shared_with: list[str], show_shares: bool
) -> pb.Gallery:
    msg = pb.Gallery(
        gallery_id=row.gallery_id,
        agency_id=row.agency_id,
        name=row.name,
        kind=row.kind,
        purpose=row.purpose,
        legal_basis=row.legal_basis,
        owner=row.owner,
        threshold=row.threshold,
        required_reviewers=row.required_reviewers,
        created_at=to_timestamp(row.created_at),
        shared_with=sorted(shared_with) if show_shares else [],
        person_count=person_count,
        model=row.model,
    )
    if row.expires_at is not None:
        msg.expires_at.CopyFrom(to_timestamp(row.expires_at))
    return msg


def person_pb(row: PersonRow, image_count: int) -> pb.Person:
    msg = pb.Person(
        person_id=row.person_id,
        gallery_id=row.gallery_id,
        external_id=row.external_id,
        display_name=row.display_name,
        image_count=image_count,
        enrolled_at=to_timestamp(row.enrolled_at),
        consent=row.consent,
    )
    if row.expires_at is not None:
        msg.expires_at.CopyFrom(to_timestamp(row.expires_at))
    return msg


def _ref(key: str, sha256: str, size: int, content_type: str) -> common_pb2.ObjectRef | None:
    if not key:
        return None
    return common_pb2.ObjectRef(key=key, sha256=sha256, size_bytes=size, content_type=content_type)


def match_pb(row: MatchRow, reviews: list[ReviewRow], enrolled: common_pb2.ObjectRef | None) -> pb.Match:
    msg = pb.Match(
        match_id=row.match_id,
        agency_id=row.agency_id,
        state=row.state,
        candidate=pb.Candidate(
            person_id=row.person_id,
            gallery_id=row.gallery_id,
            external_id=row.external_id,
            display_name=row.display_name,
            score=row.score,
            threshold=row.threshold,
            above_threshold=row.score >= row.threshold,
            image_id=row.image_id,
            match_id=row.match_id,
        ),
        required_reviewers=row.required_reviewers,
        reviews=[
            pb.Review(
                reviewer=r.reviewer,
                decision=r.decision,
                reason=r.reason,
                reviewed_at=to_timestamp(r.reviewed_at),
            )
            for r in reviews
        ],
        source=common_pb2.Source(
            kind=row.source_kind,
            id=row.source_id,
            site_id=row.source_site,
            name=row.source_name,
        ),
        track_id=row.track_id,
        zone_id=row.zone_id,
        occurred_at=to_timestamp(row.occurred_at),
        created_at=to_timestamp(row.created_at),
        event_id=row.event_id,
    )
    probe = _ref(row.probe_key, row.probe_sha256, row.probe_size, row.probe_content_type)
    if probe is not None:
        msg.probe_image.CopyFrom(probe)
    snap = _ref(row.snapshot_key, row.snapshot_sha256, row.snapshot_size, row.snapshot_content_type)
    if snap is not None:
        msg.snapshot.CopyFrom(snap)
    if enrolled is not None:
        msg.enrolled_image.CopyFrom(enrolled)
    return msg


def match_subject(match_id: str) -> str:
    """The alert subject of a match, for its candidate and its confirmation alike: alerting links
    the two by it, and it names nobody."""
    return f"match:{match_id}"


def unconfirmed(candidate: pb.Candidate) -> pb.Candidate:
    """What a searcher or an alert may learn of an unreviewed candidate: the review to open
    (match_id, a random UUID, not derived from the person) and the score; not who matched."""
    return pb.Candidate(
        match_id=candidate.match_id,
        score=candidate.score,
        threshold=candidate.threshold,
        above_threshold=candidate.above_threshold,
    )

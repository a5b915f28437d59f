"""Oversight against abuse on hand-made tracks: staff recognised by identity (a STAFF gallery
sighting on the face hand-off), a staff member alone with a detainee, violence with staff
present, a camera obscured while staff were in view (issue #19 item 3)."""

from __future__ import annotations

import pytest

from kuzet.common.errors import InvalidArgument
from kuzet.ingest.cameras import to_config
from kuzet.ingest.rulebase import RuleCfg, RuleHit
from kuzet.ingest.rules import RuleEngine
from kuzet.ingest.staff import Staff
from kuzet.ingest.v1 import ingest_pb2 as pb

from .test_rules import T0, camera, person

FACES = pb.Rule(id="faces", type=pb.RULE_TYPE_FACE_OF_INTEREST, zone_id="z")
ALONE = pb.Rule(id="alone", type=pb.RULE_TYPE_STAFF_ALONE, zone_id="z", dwell_seconds=3, cooldown_seconds=60)


def run(engine: RuleEngine, frames: list[tuple[float, list[tuple[int, float, float]]]]) -> list[RuleHit]:
    hits: list[RuleHit] = []
    for t, people in frames:
        found, _ = engine.evaluate(T0 + t, [person(tid, x, y) for tid, x, y in people])
        hits += found
    return hits


def test_a_staff_member_alone_with_a_detainee_for_the_dwell_is_one_oversight_event() -> None:
    engine = RuleEngine(to_config(camera(FACES, ALONE), "", ""))
    engine.face_sent(1, ["officer-17"], T0)  # identity: track 1 is staff
    engine.face_sent(2)  # track 2's face went to identity: no staff gallery hit
    two = [(1, 150.0, 250.0), (2, 250.0, 250.0)]
    hits = run(engine, [(t / 2, two) for t in range(12)])
    assert [h.event_type for h in hits] == ["staff_alone_with_detainee"]
    hit = hits[0]
    assert {tr.track_id for tr in hit.tracks} == {1, 2}
    assert hit.attributes["staff_external_ids"] == ["officer-17"] and hit.attributes["staff_source"] == "face"
    assert hit.attributes["staff_track_ids"] == [1] and hit.attributes["detainee_track_ids"] == [2]
    assert 3.0 <= float(hit.attributes["duration_s"]) < 3.6  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "people",
    [
        [(1, 150.0, 250.0), (2, 250.0, 250.0), (3, 200.0, 250.0)],  # a third person: not alone
        [(2, 150.0, 250.0), (3, 250.0, 250.0)],  # two detainees, no staff
        [(1, 150.0, 250.0), (4, 250.0, 250.0)],  # two staff members
        [(1, 150.0, 250.0), (2, 500.0, 250.0)],  # the other person outside the cell
    ],
)
def test_no_event_unless_exactly_one_staff_member_and_one_other_share_the_zone(
    people: list[tuple[int, float, float]],
) -> None:
    engine = RuleEngine(to_config(camera(FACES, ALONE), "", ""))
    engine.face_sent(1, ["officer-17"], T0)
    engine.face_sent(4, ["officer-9"], T0)
    assert run(engine, [(t / 2, people) for t in range(12)]) == []


def test_being_interrupted_restarts_the_dwell() -> None:
    engine = RuleEngine(to_config(camera(FACES, ALONE), "", ""))
    engine.face_sent(1, ["officer-17"], T0)
    two, three = (
        [(1, 150.0, 250.0), (2, 250.0, 250.0)],
        [(1, 150.0, 250.0), (2, 250.0, 250.0), (3, 200.0, 250.0)],
    )
    frames = [(0.0, two), (1.0, two), (2.0, three), (3.0, two), (4.0, two), (5.0, two)]
    assert run(engine, frames) == []  # 2 s alone, then 2 s: never 3 in a row


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ((ALONE,), "needs a face_of_interest rule"),
        (
            (FACES, pb.Rule(id="alone", type=pb.RULE_TYPE_STAFF_ALONE, dwell_seconds=3)),
            "is not a zone of this camera",
        ),
        ((FACES, pb.Rule(id="alone", type=pb.RULE_TYPE_STAFF_ALONE, zone_id="z")), "dwell_seconds"),
    ],
)
def test_a_staff_alone_rule_it_cannot_run_is_refused_clearly(
    rules: tuple[pb.Rule, ...], message: str
) -> None:
    with pytest.raises(InvalidArgument) as err:
        to_config(camera(*rules), "", "")
    assert message in str(err.value)


def _violence(*track_ids: int) -> RuleHit:
    cfg = RuleCfg("fight", pb.RULE_TYPE_VIOLENCE, "", "", (), 30.0, 0)
    tracks = tuple(person(t, 100.0 * t, 200.0) for t in track_ids)
    subject = "tracks:" + "+".join(map(str, track_ids))
    return RuleHit(cfg, "violence", subject, tracks, {"held_s": 2.0}, "violence in view")


def test_violence_with_staff_present_is_also_an_oversight_event() -> None:
    staff = Staff()
    staff.seen(7, ["officer-3"], T0)
    plain = list(staff.with_staff([_violence(5, 6)], T0 + 1))
    assert [h.event_type for h in plain] == ["violence"]
    both = list(staff.with_staff([_violence(5, 7)], T0 + 2))
    assert [h.event_type for h in both] == ["violence", "staff_violence"]
    oversight = both[1]
    assert oversight.subject == "staff:tracks:5+7" and oversight.attributes["staff_external_ids"] == [
        "officer-3"
    ]
    assert oversight.attributes["staff_track_ids"] == [7] and oversight.attributes["detainee_track_ids"] == [
        5
    ]
    assert oversight.attributes["held_s"] == 2.0 and oversight.tracks == both[0].tracks


def test_a_camera_obscured_soon_after_staff_or_violence_were_in_view_is_an_oversight_event() -> None:
    staff = Staff(window_s=300)
    assert staff.obscured("covered", T0) is None  # nothing seen: an ordinary fault
    staff.seen(7, ["officer-3"], T0)
    assert staff.obscured("covered", T0 + 60) == {
        "fault": "covered",
        "window_s": 300,
        "staff_seen_at": T0,
    }
    assert staff.obscured("blurred", T0 + 60) is None  # a blur hides nothing on purpose
    assert staff.obscured("moved", T0 + 301) is None  # too long ago
    list(staff.with_staff([_violence(5, 6)], T0 + 400))
    assert staff.obscured("offline", T0 + 500) == {
        "fault": "offline",
        "window_s": 300,
        "violence_seen_at": T0 + 400,
    }


def test_the_engine_marks_staff_from_the_face_hand_off_and_forgets_them_with_the_track() -> None:
    engine = RuleEngine(to_config(camera(FACES, ALONE), "", ""), forget_after_s=5)
    engine.face_sent(1, ["officer-17"], T0)
    run(engine, [(0.0, [(1, 150.0, 250.0)])])
    assert engine.obscured("covered", T0 + 10) == {
        "fault": "covered",
        "window_s": 300.0,
        "staff_seen_at": T0,
    }
    run(engine, [(10.0, [(2, 150.0, 250.0)])])  # track 1 forgotten
    assert engine.obscured("covered", T0 + 11) is not None  # but staff were in view 11 s ago

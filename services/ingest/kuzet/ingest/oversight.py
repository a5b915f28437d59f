"""Oversight against abuse (issue #19 item 3): what ingest sees of staff with detainees.

Staff are recognised by face: a camera's face-of-interest rule sends each tracked person's face to
identity once, and identity answers with the STAFF galleries' hits as sightings (no review, no
alert: no action is taken against staff). ``Staff`` keeps, per camera, which tracks are staff and
when staff or violence were last seen. From that:

- ``staff_violence``: a violence hit with a staff member among its people is also published as
  ``staff_violence`` (the prison's operators still get the violence alert to respond to it);
- ``staff_alone_with_detainee`` (rule type STAFF_ALONE): exactly two people in the zone, one of
  them staff and one not, for ``dwell_seconds`` within the rule's active windows (configured as
  the hours when staff must not be alone with a detainee);
- ``camera_obscured_with_staff``: the camera is covered, turned away or offline while staff
  were in view within ``window_s`` (5 minutes), or within ``window_s`` of a violence event.

``Staff`` (staff.py) is the per-camera memory; this module is the rule type.

These event types go to the oversight agency (kuzet.common.events.OVERSIGHT_TYPES): the
prison's operators can neither see nor close them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kuzet.common.errors import InvalidArgument
from kuzet.ingest.cameras import CameraCfg
from kuzet.ingest.rulebase import Rule, RuleCfg, RuleContext, RuleFrame, RuleHit
from kuzet.ingest.v1 import ingest_pb2

RuleType = ingest_pb2.RuleType


@dataclass(frozen=True)
class AloneSettings:
    dwell_s: float


class StaffAlone(Rule[AloneSettings]):
    """A staff member alone with one other person in the zone (a cell) for dwell_seconds, during
    the rule's active windows: staff_alone_with_detainee, to the oversight agency. Staff are
    recognised by the camera's face-of-interest rule (a STAFF gallery hit), which it needs."""

    type = RuleType.RULE_TYPE_STAFF_ALONE
    name = "staff_alone"
    event_type = "staff_alone_with_detainee"

    @classmethod
    def parse(cls, msg: ingest_pb2.Rule) -> AloneSettings:
        if msg.dwell_seconds <= 0:
            raise ValueError("dwell_seconds must be > 0")
        return AloneSettings(msg.dwell_seconds)

    @classmethod
    def check(cls, cfg: RuleCfg, camera: CameraCfg) -> None:
        if not any(r.type == RuleType.RULE_TYPE_FACE_OF_INTEREST for r in camera.rules):
            raise InvalidArgument(
                f"rule {cfg.id}: staff_alone needs a face_of_interest rule on the camera "
                "(staff are recognised by face)"
            )

    def __init__(self, cfg: RuleCfg, context: RuleContext) -> None:
        super().__init__(cfg, context)
        self._since: dict[tuple[int, int], float] = {}  # (staff track, other track) -> since
        self._fired: set[tuple[int, int]] = set()

    def evaluate(self, frame: RuleFrame) -> Iterator[RuleHit]:
        staff = self.context.staff
        pair: tuple[int, int] | None = None
        if len(frame.in_zone) == 2:
            a, b = frame.in_zone
            if (a.track_id in staff.tracks) != (b.track_id in staff.tracks):
                s, o = (a, b) if a.track_id in staff.tracks else (b, a)
                pair = (s.track_id, o.track_id)
        self._since = {pair: self._since.get(pair, frame.t)} if pair else {}
        if pair is None or pair in self._fired:
            return
        alone_s = frame.t - self._since[pair]
        subject = f"tracks:{pair[0]}+{pair[1]}"
        if alone_s >= self.settings.dwell_s and self.fire(subject, frame.t):
            self._fired.add(pair)
            yield self.hit(
                subject,
                list(frame.in_zone),
                {"zone": self.cfg.zone_id, "duration_s": round(alone_s, 1), **staff.involved(pair)},
                f"staff alone with a detainee in zone {self.cfg.zone_id} for {alone_s:.0f}s",
            )

    def forget(self, track_id: int) -> None:
        self._fired = {p for p in self._fired if track_id not in p}

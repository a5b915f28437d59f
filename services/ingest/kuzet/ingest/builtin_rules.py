"""The rule types ingest ships: zone and line rules over tracked people.

Each is registered by entry point in services/ingest/pyproject.toml (group kuzet.ingest.rules),
the way a rule type from another distribution is.

Person down is a pose rule (the fall behaviour, pose_rules.py), with motionless, self-harm risk,
climbing and violence.

Dwell-based rules (loitering, post unattended) keep counting on a still scene: the engine feeds
them the last tracks again when the motion gate skips a frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kuzet.ingest.geometry import anchor, crossing
from kuzet.ingest.rulebase import FaceRequest, Rule, RuleCfg, RuleContext, RuleFrame, RuleHit
from kuzet.ingest.v1 import ingest_pb2

RuleType = ingest_pb2.RuleType
LineDirection = ingest_pb2.LineDirection

_DIRECTIONS: dict[int, str] = {
    LineDirection.LINE_DIRECTION_LEFT_TO_RIGHT: "left_to_right",
    LineDirection.LINE_DIRECTION_RIGHT_TO_LEFT: "right_to_left",
}


@dataclass(frozen=True)
class Dwell:
    dwell_s: float


def _required_dwell(msg: ingest_pb2.Rule) -> Dwell:
    if msg.dwell_seconds <= 0:
        raise ValueError("dwell_seconds must be > 0")
    return Dwell(msg.dwell_seconds)


class Intrusion(Rule[None]):
    """A person inside a restricted zone: fires once per track entering the zone."""

    type = RuleType.RULE_TYPE_INTRUSION
    name = "intrusion"
    event_type = "zone_intrusion"

    def __init__(self, cfg: RuleCfg, context: RuleContext) -> None:
        super().__init__(cfg, context)
        # Whether each track was in the zone on the last frame it was seen.
        self._inside: dict[int, bool] = {}

    def evaluate(self, frame: RuleFrame) -> Iterator[RuleHit]:
        for tr in frame.in_zone:
            subject = f"track:{tr.track_id}"
            if not self._inside.get(tr.track_id, False) and self.fire(subject, frame.t):
                yield self.hit(
                    subject, [tr], {"zone": self.cfg.zone_id}, f"person in restricted zone {self.cfg.zone_id}"
                )
        ids = {tr.track_id for tr in frame.in_zone}
        for tr in frame.tracks:
            self._inside[tr.track_id] = tr.track_id in ids

    def forget(self, track_id: int) -> None:
        self._inside.pop(track_id, None)


@dataclass(frozen=True)
class LineSettings:
    # "left_to_right" or "right_to_left" (walking the line from a to b); None: both.
    direction: str | None


class LineCrossing(Rule[LineSettings]):
    """A person crossing a line in the watched direction (both ways by default)."""

    type = RuleType.RULE_TYPE_LINE_CROSSING
    name = "line_crossing"
    event_type = "line_crossing"
    target = "line"

    @classmethod
    def parse(cls, msg: ingest_pb2.Rule) -> LineSettings:
        return LineSettings(_DIRECTIONS.get(msg.direction))

    def evaluate(self, frame: RuleFrame) -> Iterator[RuleHit]:
        if not frame.moved:  # a repeat of the last tracks: nobody crossed anything
            return
        line = self.context.camera.lines[self.cfg.line_id]
        wanted = self.settings.direction
        for tr in frame.tracks:
            before = frame.previous.get(tr.track_id)
            if before is None:
                continue
            way = crossing(before, anchor(tr.box), line.a, line.b)
            subject = f"track:{tr.track_id}"
            if way and (wanted is None or way == wanted) and self.fire(subject, frame.t):
                yield self.hit(
                    subject,
                    [tr],
                    {"line": line.id, "direction": way},
                    f"line {line.id} crossed {way.replace('_', ' ')}",
                )


class Loitering(Rule[Dwell]):
    """A person staying in a zone longer than dwell_seconds: once per stay."""

    type = RuleType.RULE_TYPE_LOITERING
    name = "loitering"
    event_type = "loitering"

    @classmethod
    def parse(cls, msg: ingest_pb2.Rule) -> Dwell:
        return _required_dwell(msg)

    def __init__(self, cfg: RuleCfg, context: RuleContext) -> None:
        super().__init__(cfg, context)
        self._since: dict[int, float] = {}  # track id -> when it entered the zone
        self._fired: set[str] = set()  # subjects whose current stay has fired

    def evaluate(self, frame: RuleFrame) -> Iterator[RuleHit]:
        t = frame.t
        for tr in frame.in_zone:
            dwell = t - self._since.setdefault(tr.track_id, t)
            subject = f"track:{tr.track_id}"
            if dwell >= self.settings.dwell_s and subject not in self._fired and self.fire(subject, t):
                self._fired.add(subject)
                yield self.hit(
                    subject,
                    [tr],
                    {"zone": self.cfg.zone_id, "dwell_s": round(dwell, 1)},
                    f"person in zone {self.cfg.zone_id} for {dwell:.0f}s",
                )
        ids = {tr.track_id for tr in frame.in_zone}
        for tr in frame.tracks:
            if tr.track_id not in ids:  # left the zone: the next stay is a new one
                self._since.pop(tr.track_id, None)
                self._fired.discard(f"track:{tr.track_id}")

    def forget(self, track_id: int) -> None:
        self._since.pop(track_id, None)


@dataclass(frozen=True)
class Crowd:
    max_count: int


class Crowding(Rule[Crowd]):
    """More than max_count people in a zone; an episode lasts while the zone is crowded again
    within the rule's cool-down."""

    type = RuleType.RULE_TYPE_CROWDING
    name = "crowding"
    event_type = "crowding"

    @classmethod
    def parse(cls, msg: ingest_pb2.Rule) -> Crowd:
        if msg.max_count < 1:
            raise ValueError("max_count must be >= 1")
        return Crowd(msg.max_count)

    def evaluate(self, frame: RuleFrame) -> Iterator[RuleHit]:
        count, most = len(frame.in_zone), self.settings.max_count
        if count <= most:
            return
        subject = self.episode(frame.t, within_s=self.cfg.cooldown_s)
        if self.fire(subject, frame.t):
            zone = self.cfg.zone_id
            yield self.hit(
                subject,
                frame.in_zone,
                {"zone": zone, "count": count, "max_count": most},
                f"{count} people in zone {zone} (max {most})",
            )


class PostUnattended(Rule[Dwell]):
    """No person in a staff post zone for dwell_seconds: once per episode, which lasts until
    the post is staffed again."""

    type = RuleType.RULE_TYPE_POST_UNATTENDED
    name = "post_unattended"
    event_type = "post_unattended"

    @classmethod
    def parse(cls, msg: ingest_pb2.Rule) -> Dwell:
        return _required_dwell(msg)

    def __init__(self, cfg: RuleCfg, context: RuleContext) -> None:
        super().__init__(cfg, context)
        self._staffed_at: float | None = None  # None until the first frame
        self._fired: set[str] = set()

    def evaluate(self, frame: RuleFrame) -> Iterator[RuleHit]:
        t = frame.t
        if frame.in_zone:
            self._staffed_at = t
            if (ended := self.end_episode()) is not None:
                self._fired.discard(ended)
            return
        subject = self.episode(t, within_s=float("inf"))
        if self._staffed_at is None:
            self._staffed_at = t
        empty_for = t - self._staffed_at
        if empty_for >= self.settings.dwell_s and subject not in self._fired and self.fire(subject, t):
            self._fired.add(subject)
            yield self.hit(
                subject,
                [],
                {"zone": self.cfg.zone_id, "empty_s": round(empty_for, 1)},
                f"post {self.cfg.zone_id} unattended for {empty_for:.0f}s",
            )


class FaceOfInterest(Rule[None]):
    """Face crops of tracked people in the zone (or the whole frame) go to identity, once per
    track; identity publishes face_match_candidate when one matches a gallery."""

    type = RuleType.RULE_TYPE_FACE_OF_INTEREST
    name = "face_of_interest"
    event_type = None
    target = "zone_or_frame"

    def evaluate(self, frame: RuleFrame) -> Iterator[FaceRequest]:
        for tr in frame.in_zone:
            if tr.track_id not in self.context.faces_sent:
                yield FaceRequest(self.cfg, tr)

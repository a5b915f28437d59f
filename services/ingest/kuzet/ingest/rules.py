"""Zone and line rules over tracked people, with schedules and per-rule cool-downs.

Person down uses the tracked box's aspect ratio (wider than tall for `dwell_seconds`), not a pose
model: on fixed ceiling/wall cameras a lying body gives a wide box, CenterNet still detects it
(score ~0.45 where an upright person scores ~0.75), and it costs no extra inference per frame.
MoveNet (the inference service's EstimatePoses) is weak exactly there (lying, occluded,
foreshortened bodies) and would double the per-frame cost; a pose check can be added as a
confirmation step behind the same rule when a camera enables the "pose" model.

The engine is fed at the analytic rate; when the motion gate skips a frame the scene has not
changed, so the pipeline feeds the last tracks again with the new time: dwell-based rules
(loitering, person down, post unattended) keep counting on a still scene.

Alerting folds events by (camera, rule, subject), so every subject names one occurrence and is
unique across restarts and replicas: "track:<id>" (track ids are, see tracking.TrackIds) or
"zone:<zone id>:<episode>" for zone-wide rules, where an episode of crowding lasts while the
zone is crowded again within the rule's cool-down, and one of an unattended post until it is
staffed again. A new person or a new episode after an ingest restart is a new alert, never a
fold into an old (perhaps acknowledged) one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from kuzet.common.geometry import point_in_polygon
from kuzet.ingest.cameras import CameraCfg, LineDirection, RuleCfg, RuleType, active
from kuzet.ingest.geometry import anchor, crossing
from kuzet.ingest.tracking import Track, TrackIds

EVENT_TYPE: dict[int, str] = {
    RuleType.RULE_TYPE_INTRUSION: "zone_intrusion",
    RuleType.RULE_TYPE_LINE_CROSSING: "line_crossing",
    RuleType.RULE_TYPE_LOITERING: "loitering",
    RuleType.RULE_TYPE_CROWDING: "crowding",
    RuleType.RULE_TYPE_PERSON_DOWN: "person_down",
    RuleType.RULE_TYPE_POST_UNATTENDED: "post_unattended",
}
_DIRECTIONS: dict[int, str] = {
    LineDirection.LINE_DIRECTION_LEFT_TO_RIGHT: "left_to_right",
    LineDirection.LINE_DIRECTION_RIGHT_TO_LEFT: "right_to_left",
}


@dataclass(frozen=True)
class RuleHit:
    """A rule that fired on one frame."""

    rule: RuleCfg
    event_type: str
    # Deduplication subject: "track:<id>" or "zone:<id>:<episode>".
    subject: str
    tracks: tuple[Track, ...]
    attributes: dict[str, object]
    summary: str


@dataclass
class _TrackState:
    last_anchor: tuple[float, float] | None = None
    # rule id -> time the track entered the rule's zone (loitering) or lay down (person down)
    since: dict[str, float] = field(default_factory=dict)
    inside: dict[str, bool] = field(default_factory=dict)
    last_seen: float = 0.0


@dataclass
class FaceRequest:
    """A tracked person in a face-of-interest zone whose face has not been sent yet."""

    rule: RuleCfg
    track: Track


class RuleEngine:
    def __init__(
        self, camera: CameraCfg, *, forget_after_s: float = 30.0, ids: TrackIds | None = None
    ) -> None:
        self.camera = camera
        self._ids = ids or TrackIds()
        # Zone-wide rules: rule id -> (subject of the current episode, when it was last true).
        self._episodes: dict[str, tuple[str, float]] = {}
        self._tracks: dict[int, _TrackState] = {}
        self._last_fired: dict[tuple[str, str], float] = {}
        # Post unattended: per rule, when the zone was last seen staffed (None until the first frame).
        self._staffed_at: dict[str, float] = {}
        self._episode_fired: set[tuple[str, str]] = set()
        self._faces_sent: set[int] = set()
        self._forget_after_s = forget_after_s

    def _cooled(self, rule: RuleCfg, subject: str, t: float) -> bool:
        last = self._last_fired.get((rule.id, subject))
        return last is None or t - last >= rule.cooldown_s

    def _episode(self, rule: RuleCfg, t: float, *, within_s: float) -> str:
        """The subject of the rule's episode going on at t (a new one when the last was longer
        than ``within_s`` ago)."""
        current = self._episodes.get(rule.id)
        if current is None or t - current[1] > within_s:
            current = (f"zone:{rule.zone_id}:{self._ids.next()}", t)
        self._episodes[rule.id] = (current[0], t)
        return current[0]

    def _fire(self, rule: RuleCfg, subject: str, t: float) -> bool:
        if not self._cooled(rule, subject, t):
            return False
        self._last_fired[(rule.id, subject)] = t
        return True

    def evaluate(
        self, t: float, tracks: list[Track], *, moved: bool = True
    ) -> tuple[list[RuleHit], list[FaceRequest]]:
        """Rules for the tracks seen at time t (UTC epoch seconds). ``moved`` False: a repeat of
        the previous frame's tracks (motion gate closed), so no crossings can have happened."""
        cam = self.camera
        local = datetime.fromtimestamp(t, UTC).astimezone(cam.tz)
        hits: list[RuleHit] = []
        faces: list[FaceRequest] = []
        if not active(cam.windows, local):
            return hits, faces
        states = {}
        for tr in tracks:
            st = self._tracks.setdefault(tr.track_id, _TrackState())
            st.last_seen = t
            states[tr.track_id] = st
        for rule in cam.rules:
            if not active(rule.windows, local):
                continue
            zone = cam.zones.get(rule.zone_id)
            in_zone = [tr for tr in tracks if zone is None or point_in_polygon(anchor(tr.box), zone.polygon)]
            if rule.type == RuleType.RULE_TYPE_INTRUSION:
                for tr in in_zone:
                    st = states[tr.track_id]
                    entered = not st.inside.get(rule.id, False)
                    if entered and self._fire(rule, f"track:{tr.track_id}", t):
                        hits.append(
                            self._hit(
                                rule,
                                f"track:{tr.track_id}",
                                [tr],
                                {"zone": rule.zone_id},
                                f"person in restricted zone {rule.zone_id}",
                            )
                        )
            elif rule.type == RuleType.RULE_TYPE_LINE_CROSSING and moved:
                line = cam.lines[rule.line_id]
                for tr in tracks:
                    st = states[tr.track_id]
                    cur = anchor(tr.box)
                    if st.last_anchor is None:
                        continue
                    way = crossing(st.last_anchor, cur, line.a, line.b)
                    wanted = _DIRECTIONS.get(rule.direction)
                    if (
                        way
                        and (wanted is None or way == wanted)
                        and self._fire(rule, f"track:{tr.track_id}", t)
                    ):
                        hits.append(
                            self._hit(
                                rule,
                                f"track:{tr.track_id}",
                                [tr],
                                {"line": line.id, "direction": way},
                                f"line {line.id} crossed {way.replace('_', ' ')}",
                            )
                        )
            elif rule.type == RuleType.RULE_TYPE_LOITERING:
                for tr in in_zone:
                    st = states[tr.track_id]
                    start = st.since.setdefault(rule.id, t)
                    dwell = t - start
                    key = (rule.id, f"track:{tr.track_id}")
                    if (
                        dwell >= rule.dwell_s
                        and key not in self._episode_fired
                        and self._fire(rule, key[1], t)
                    ):
                        self._episode_fired.add(key)
                        hits.append(
                            self._hit(
                                rule,
                                key[1],
                                [tr],
                                {"zone": rule.zone_id, "dwell_s": round(dwell, 1)},
                                f"person in zone {rule.zone_id} for {dwell:.0f}s",
                            )
                        )
            elif rule.type == RuleType.RULE_TYPE_CROWDING:
                crowded = len(in_zone) > rule.max_count
                subject = self._episode(rule, t, within_s=rule.cooldown_s) if crowded else ""
                if crowded and self._fire(rule, subject, t):
                    hits.append(
                        self._hit(
                            rule,
                            subject,
                            in_zone,
                            {"zone": rule.zone_id, "count": len(in_zone), "max_count": rule.max_count},
                            f"{len(in_zone)} people in zone {rule.zone_id} (max {rule.max_count})",
                        )
                    )
            elif rule.type == RuleType.RULE_TYPE_PERSON_DOWN:
                for tr in in_zone:
                    st = states[tr.track_id]
                    key = (rule.id, f"track:{tr.track_id}")
                    if not tr.lying:
                        st.since.pop(rule.id, None)
                        self._episode_fired.discard(key)
                        continue
                    down = t - st.since.setdefault(rule.id, t)
                    if (
                        down >= rule.dwell_s
                        and key not in self._episode_fired
                        and self._fire(rule, key[1], t)
                    ):
                        self._episode_fired.add(key)
                        hits.append(
                            self._hit(
                                rule,
                                key[1],
                                [tr],
                                {"zone": rule.zone_id, "down_s": round(down, 1)},
                                f"person down for {down:.0f}s",
                            )
                        )
            elif rule.type == RuleType.RULE_TYPE_POST_UNATTENDED:
                if in_zone:
                    self._staffed_at[rule.id] = t
                    if ended := self._episodes.pop(rule.id, None):
                        self._episode_fired.discard((rule.id, ended[0]))
                    continue
                key = (rule.id, self._episode(rule, t, within_s=float("inf")))
                empty_for = t - self._staffed_at.setdefault(rule.id, t)
                if (
                    empty_for >= rule.dwell_s
                    and key not in self._episode_fired
                    and self._fire(rule, key[1], t)
                ):
                    self._episode_fired.add(key)
                    hits.append(
                        self._hit(
                            rule,
                            key[1],
                            [],
                            {"zone": rule.zone_id, "empty_s": round(empty_for, 1)},
                            f"post {rule.zone_id} unattended for {empty_for:.0f}s",
                        )
                    )
            elif rule.type == RuleType.RULE_TYPE_FACE_OF_INTEREST:
                for tr in in_zone:
                    if tr.track_id not in self._faces_sent:
                        faces.append(FaceRequest(rule, tr))
            # Zone membership for the next frame (intrusion entry, loitering episodes).
            if zone is not None:
                ids = {tr.track_id for tr in in_zone}
                for tr in tracks:
                    st = states[tr.track_id]
                    now_in = tr.track_id in ids
                    if not now_in and rule.type == RuleType.RULE_TYPE_LOITERING:
                        st.since.pop(rule.id, None)
                        self._episode_fired.discard((rule.id, f"track:{tr.track_id}"))
                    st.inside[rule.id] = now_in
        for tr in tracks:
            states[tr.track_id].last_anchor = anchor(tr.box)
        for tid in [k for k, s in self._tracks.items() if t - s.last_seen > self._forget_after_s]:
            del self._tracks[tid]
        return hits, faces

    def face_sent(self, track_id: int) -> None:
        """Each track's face goes to identity once (when a good enough crop was found)."""
        self._faces_sent.add(track_id)

    @staticmethod
    def _hit(
        rule: RuleCfg, subject: str, tracks: list[Track], attrs: dict[str, object], summary: str
    ) -> RuleHit:
        return RuleHit(rule, EVENT_TYPE[rule.type], subject, tuple(tracks), attrs, summary)

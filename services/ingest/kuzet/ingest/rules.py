"""The rule engine: every rule of a camera over its tracked people, within schedules.

The engine knows no rule type: each configured rule runs as an instance of its type's class from
the registry (rulebase.RULES; the shipped types are in builtin_rules.py), which keeps that rule's
cool-downs, episodes and per-track memory.

The engine is fed at the analytic rate; when the motion gate skips a frame the scene has not
changed, so the pipeline feeds the last tracks again with the new time: dwell-based rules
(loitering, post unattended) keep counting on a still scene; the pose rules get their tracks'
keypoint histories (poses.py), repeated the same way.

Alerting folds events by (camera, rule, subject), so every subject names one occurrence and is
unique across restarts and replicas: "track:<id>" (track ids are, see tracking.TrackIds) or
"zone:<zone id>:<episode>" for zone-wide rules, where an episode of crowding lasts while the
zone is crowded again within the rule's cool-down, and one of an unattended post until it is
staffed again. A new person or a new episode after an ingest restart is a new alert, never a
fold into an old (perhaps acknowledged) one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kuzet.common.geometry import point_in_polygon
from kuzet.ingest.cameras import CameraCfg, active
from kuzet.ingest.geometry import anchor
from kuzet.ingest.rulebase import RULES, FaceRequest, Pt, Rule, RuleContext, RuleFrame, RuleHit
from kuzet.ingest.tracking import Track, TrackIds

if TYPE_CHECKING:
    from kuzet.ingest.behaviour.keypoints import KeypointHistory

__all__ = ["FaceRequest", "RuleEngine", "RuleHit"]


@dataclass
class _TrackState:
    last_anchor: Pt | None = None
    last_seen: float = 0.0


class RuleEngine:
    def __init__(
        self, camera: CameraCfg, *, forget_after_s: float = 30.0, ids: TrackIds | None = None
    ) -> None:
        self.camera = camera
        self._context = RuleContext(camera, ids or TrackIds())
        # Validated configurations name registered types only (cameras.to_config).
        self._rules: list[Rule[Any]] = [RULES[cfg.type](cfg, self._context) for cfg in camera.rules]
        self._tracks: dict[int, _TrackState] = {}
        self._forget_after_s = forget_after_s

    @property
    def pose_interval_s(self) -> float | None:
        """How often the rules need each tracked person's keypoints; None: never."""
        wanted = [r.pose_interval_s for r in self._rules if r.pose_interval_s is not None]
        return min(wanted) if wanted else None

    @property
    def pose_zones(self) -> list[tuple[Pt, ...] | None]:
        """The zones of the rules that read keypoints (None: the whole frame)."""
        return [
            self.camera.zones[r.cfg.zone_id].polygon if r.cfg.zone_id else None
            for r in self._rules
            if r.pose_interval_s is not None
        ]

    @property
    def history_s(self) -> float:
        """Seconds of keypoint history the rules read."""
        return max((r.history_s for r in self._rules), default=0.0)

    def evaluate(
        self,
        t: float,
        tracks: list[Track],
        *,
        moved: bool = True,
        poses: Mapping[int, KeypointHistory] | None = None,
        people: Mapping[int, int] | None = None,
    ) -> tuple[list[RuleHit], list[FaceRequest]]:
        """Rules for the tracks seen at time t (UTC epoch seconds). ``moved`` False: a repeat of
        the previous frame's tracks (motion gate closed), so no crossings can have happened.
        ``poses``: the people's keypoint histories by person id, ``people`` each one's track
        (poses.TrackPoses), for the pose rules."""
        cam = self.camera
        local = datetime.fromtimestamp(t, UTC).astimezone(cam.tz)
        hits: list[RuleHit] = []
        faces: list[FaceRequest] = []
        if not active(cam.windows, local):
            return hits, faces
        previous: dict[int, Pt] = {}
        for tr in tracks:
            st = self._tracks.setdefault(tr.track_id, _TrackState())
            st.last_seen = t
            if st.last_anchor is not None:
                previous[tr.track_id] = st.last_anchor
        for rule in self._rules:
            if not active(rule.cfg.windows, local):
                continue
            zone = cam.zones.get(rule.cfg.zone_id)
            in_zone = [tr for tr in tracks if zone is None or point_in_polygon(anchor(tr.box), zone.polygon)]
            for found in rule.evaluate(
                RuleFrame(t, tracks, in_zone, moved, previous, poses or {}, people or {})
            ):
                if isinstance(found, FaceRequest):
                    faces.append(found)
                else:
                    hits.append(found)
        for tr in tracks:
            self._tracks[tr.track_id].last_anchor = anchor(tr.box)
        staff = self._context.staff
        staff.observe(t, (tr.track_id for tr in tracks))
        for tid in [k for k, s in self._tracks.items() if t - s.last_seen > self._forget_after_s]:
            del self._tracks[tid]
            staff.forget(tid)
            for rule in self._rules:
                rule.forget(tid)
        return list(staff.with_staff(hits, t)), faces

    def face_sent(self, track_id: int, staff: Sequence[str] = (), t: float = 0.0) -> None:
        """Each track's face goes to identity once (when a good enough crop was found); ``staff``:
        the staff ids identity recognised it as (STAFF galleries), at time t."""
        self._context.faces_sent.add(track_id)
        if staff:
            self._context.staff.seen(track_id, staff, t)

    def obscured(self, fault: str, t: float) -> dict[str, object] | None:
        """A camera_obscured_with_staff event's attributes for an image fault starting at t,
        when staff or violence were seen lately (oversight.py)."""
        return self._context.staff.obscured(fault, t)

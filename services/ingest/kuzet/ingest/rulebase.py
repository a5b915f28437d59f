"""What an ingest rule type is, and the registry of them.

A rule type is one ``Rule`` subclass: its wire type number (``Rule.type`` in ingest.proto), its
event type (a ``kuzet.common.events`` name), where it looks (a zone, a zone or the whole frame,
a line), its settings parsed from the camera's ``Rule`` message, and its documentation (the
class docstring). One instance runs per configured rule of a camera and keeps that rule's
memory (cool-downs, episodes, per-track timers). ``RuleEngine`` (rules.py) feeds every rule of
a camera the frame's tracks; it knows no rule type by name.

Rule types are found in the entry-point group ``kuzet.ingest.rules``, so one can live in another
distribution (docs/development.md "Adding an ingest rule").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

from kuzet.common.plugins import Registry
from kuzet.ingest.staff import Staff
from kuzet.ingest.tracking import Track, TrackIds
from kuzet.ingest.v1 import ingest_pb2

if TYPE_CHECKING:
    from kuzet.ingest.behaviour.keypoints import KeypointHistory
    from kuzet.ingest.cameras import CameraCfg, Window

Pt = tuple[float, float]
# zone: needs one of the camera's zones; zone_or_frame: a zone, or the whole frame when
# zone_id is empty; line: needs one of the camera's lines (and sees every track).
Target = Literal["zone", "zone_or_frame", "line"]


@dataclass(frozen=True)
class RuleCfg:
    """One validated rule of a camera."""

    id: str
    type: int
    zone_id: str
    line_id: str
    windows: tuple[Window, ...]
    cooldown_s: float
    severity: int
    # The rule type's own settings, as its ``Rule.parse`` made them from the Rule message.
    settings: Any = None

    @property
    def whole_frame(self) -> bool:
        """The rule looks beyond its zones (so motion anywhere in the frame matters)."""
        return RULES[self.type].target == "line" or not self.zone_id


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
    # Times of the frames that show it (pose rules); empty: the frame it fired on.
    frames: tuple[float, ...] = ()


@dataclass
class FaceRequest:
    """A tracked person in a face-of-interest zone whose face has not been sent yet."""

    rule: RuleCfg
    track: Track


@dataclass(frozen=True)
class RuleFrame:
    """One analysed frame as a rule sees it."""

    t: float
    # Every track on the frame, and those whose feet are in the rule's zone (all of them when
    # the rule has no zone).
    tracks: list[Track]
    in_zone: list[Track]
    # False: a repeat of the previous frame's tracks (the motion gate was closed), nothing moved.
    moved: bool
    # Each track's anchor on the frame before (absent: first seen on this one).
    previous: Mapping[int, Pt]
    # Keypoint histories of the people that were posed, by person id (only on cameras with
    # pose rules; poses.py), and each person's last track.
    poses: Mapping[int, KeypointHistory] = field(default_factory=dict)
    people: Mapping[int, int] = field(default_factory=dict)


@dataclass
class RuleContext:
    """What the rules of one camera share."""

    camera: CameraCfg
    # Zone-wide episodes draw their subjects from the camera's track id sequence, unique
    # across restarts and replicas (tracking.TrackIds).
    ids: TrackIds
    # Tracks whose face already went to identity.
    faces_sent: set[int] = field(default_factory=set)
    # The staff among the tracks (identity's STAFF gallery hits), for the oversight rules.
    staff: Staff = field(default_factory=Staff)


S = TypeVar("S")


class Rule(Generic[S]):
    """Base of every rule type; the subclass's docstring documents it (docs, error messages).

    Subclasses set the class attributes, may override ``parse`` (settings) and ``forget``
    (per-track memory), implement ``evaluate``, and are registered: ``@RULES.register`` where
    they are defined, reached through a ``kuzet.ingest.rules`` entry point.
    """

    type: ClassVar[int]
    name: ClassVar[str]
    # The kuzet.common.events type of its hits; None when it publishes none itself.
    event_type: ClassVar[str | None]
    target: ClassVar[Target] = "zone"
    # How often the rule needs each tracked person's keypoints (seconds); None: it needs none.
    pose_interval_s: ClassVar[float | None] = None

    @classmethod
    def parse(cls, msg: ingest_pb2.Rule) -> S:
        """The type's settings from the camera's Rule message; ValueError says what is wrong
        (the caller names the rule). Types without settings keep this one."""
        return None  # type: ignore[return-value]

    @classmethod
    def check(cls, cfg: RuleCfg, camera: CameraCfg) -> None:
        """Refuses (InvalidArgument) a rule the camera cannot run: what ``parse`` cannot see
        alone (the frame size, the camera's calibration). Types without such needs keep this."""

    @property
    def history_s(self) -> float:
        """Seconds of each track's keypoint history the rule reads."""
        return 0.0

    def __init__(self, cfg: RuleCfg, context: RuleContext) -> None:
        self.cfg = cfg
        self.settings: S = cfg.settings
        self.context = context
        self._last_fired: dict[str, float] = {}
        # The zone-wide episode going on: (subject, when it was last true).
        self._episode: tuple[str, float] | None = None

    def evaluate(self, frame: RuleFrame) -> Iterable[RuleHit | FaceRequest]:
        raise NotImplementedError

    def forget(self, track_id: int) -> None:
        """The track has not been seen for a while: drop what the rule remembers of it."""

    def fire(self, subject: str, t: float) -> bool:
        """Whether the subject may fire at t (its cool-down is over); if so, starts a new one."""
        last = self._last_fired.get(subject)
        if last is not None and t - last < self.cfg.cooldown_s:
            return False
        self._last_fired[subject] = t
        return True

    def episode(self, t: float, *, within_s: float) -> str:
        """The subject of the zone-wide episode going on at t (a new one when the last was
        longer than ``within_s`` ago)."""
        current = self._episode
        if current is None or t - current[1] > within_s:
            current = (f"zone:{self.cfg.zone_id}:{self.context.ids.next()}", t)
        self._episode = (current[0], t)
        return current[0]

    def end_episode(self) -> str | None:
        """Ends the episode going on; its subject, if there was one."""
        ended, self._episode = self._episode, None
        return ended[0] if ended else None

    def hit(
        self,
        subject: str,
        tracks: list[Track],
        attributes: dict[str, object],
        summary: str,
        frames: tuple[float, ...] = (),
    ) -> RuleHit:
        if self.event_type is None:
            raise TypeError(f"rule type {self.name} publishes no events")
        return RuleHit(self.cfg, self.event_type, subject, tuple(tracks), attributes, summary, frames)


RULES: Registry[int, type[Rule[Any]]] = Registry(
    "ingest rule type", "kuzet.ingest.rules", key=lambda cls: cls.type
)

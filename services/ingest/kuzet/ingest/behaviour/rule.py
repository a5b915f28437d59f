"""What a behaviour rule is, the settings every one shares, and the registry of them.

A rule is a small state machine fed the keypoint histories of a camera's tracks: ``update(
histories, now)`` is called once per analysed frame, after that frame's skeletons were added,
and returns the events (episode.BehaviourEvent) that the new samples made. Single-person rules
(``TrackRule``) reduce each track's newest sample to a condition; an episode per track turns the
conditions into events. There is one registry of rule types, ingest's (``rulebase.RULES``,
entry-point group ``kuzet.ingest.rules``): each behaviour is a camera rule type there
(pose_rules.py) that names its behaviour class; ``behaviours()`` lists them by name.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from kuzet.common.errors import InvalidArgument
from kuzet.ingest.behaviour.episode import BehaviourEvent, Episode, Span
from kuzet.ingest.behaviour.keypoints import DEFAULT_MIN_SCORE, KeypointHistory, Skeleton, body_centre
from kuzet.ingest.behaviour.scope import Scope
from kuzet.ingest.rulebase import RULES

Histories = Mapping[int, KeypointHistory]


@dataclass(frozen=True, kw_only=True)
class RuleConfig:
    """Settings every behaviour rule has.

    - ``scope``: frame, zone and schedule (outside them the condition is False);
    - ``hold_s``: N, how long the condition must hold before the event (seconds);
    - ``min_score``: keypoints scored below it are not seen;
    - ``grace_s``: how long an episode survives samples that cannot tell (points not seen), and
      how long a track may go without a new sample before its episode ends.
    """

    scope: Scope
    hold_s: float
    min_score: float = DEFAULT_MIN_SCORE
    grace_s: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.hold_s) and self.hold_s > 0):
            raise InvalidArgument(f"hold_s (N) must be > 0 seconds, got {self.hold_s}")
        if not 0 < self.min_score < 1:
            raise InvalidArgument(f"min_score must be in (0, 1), got {self.min_score}")
        if not (math.isfinite(self.grace_s) and self.grace_s >= 0):
            raise InvalidArgument(f"grace_s must be >= 0 seconds, got {self.grace_s}")

    @staticmethod
    def positive(**values: float) -> None:
        """Refuses thresholds that are not positive finite numbers, naming them."""
        for name, value in values.items():
            if not (math.isfinite(value) and value > 0):
                raise InvalidArgument(f"{name} must be > 0, got {value}")


C = TypeVar("C", bound=RuleConfig)


class BehaviourRule(Generic[C]):
    """Base of every behaviour rule type; the subclass's docstring is its definition."""

    name: ClassVar[str]
    config_type: ClassVar[type[RuleConfig]]

    def __init__(self, config: C) -> None:
        if not isinstance(config, self.config_type):
            raise InvalidArgument(
                f"{self.name} takes a {self.config_type.__name__}, got {type(config).__name__}"
            )
        self.config = config

    @property
    def history_s(self) -> float:
        """How many seconds of each track's history the rule reads (the histories must keep at
        least this much)."""
        return 0.0

    def update(self, histories: Histories, now: float) -> list[BehaviourEvent]:
        raise NotImplementedError

    def event(
        self, span: Span, track_ids: tuple[int, ...], attributes: Mapping[str, float]
    ) -> BehaviourEvent:
        return BehaviourEvent(
            self.name, span.phase, track_ids, span.start, span.end, span.frames, dict(attributes)
        )

    def in_scope(self, sk: Skeleton) -> bool | None:
        """Whether the person is in the rule's zone during its schedule (None: not seen)."""
        scope = self.config.scope
        if not scope.active(sk.t):
            return False
        centre = body_centre(sk, self.config.min_score)
        return None if centre is None else scope.contains(centre)


class TrackRule(BehaviourRule[C]):
    """A rule about one person at a time: ``condition`` of the track's newest sample."""

    def __init__(self, config: C) -> None:
        super().__init__(config)
        self._episodes: dict[int, Episode] = {}
        self._evaluated: dict[int, float] = {}  # track id -> time of the last sample evaluated

    def condition(self, track_id: int, history: KeypointHistory, sk: Skeleton) -> bool | None:
        """Whether the behaviour holds at sample sk (the newest of history)."""
        raise NotImplementedError

    def measures(self, history: KeypointHistory, sk: Skeleton) -> dict[str, float]:
        """What the event reports of the person at sample sk (angles, heights)."""
        return {}

    def forget(self, track_id: int) -> None:
        """The track is gone: drop what the rule keeps of it besides its episode."""

    def update(self, histories: Histories, now: float) -> list[BehaviourEvent]:
        cfg = self.config
        events = []
        for tid, history in histories.items():
            sk = history.latest
            if sk is None or self._evaluated.get(tid, -math.inf) >= sk.t:
                continue
            self._evaluated[tid] = sk.t
            where = self.in_scope(sk)
            holds = self.condition(tid, history, sk) if where else where
            span = self._episodes.setdefault(tid, Episode(cfg.hold_s, cfg.grace_s)).observe(sk.t, holds)
            if span is not None:
                events.append(self.event(span, (tid,), self.measures(history, sk)))
        for tid in list(self._episodes):
            kept = histories.get(tid)
            latest = kept.latest if kept is not None else None
            if latest is None or now - latest.t > cfg.grace_s:
                self._evaluated.pop(tid, None)
                self.forget(tid)
                if (span := self._episodes.pop(tid).close()) is not None:
                    events.append(self.event(span, (tid,), {}))
        return events


def behaviours() -> dict[str, type[BehaviourRule[Any]]]:
    """The behaviour rules of the installed camera rule types, by name."""
    return {b.name: b for cls in RULES if (b := getattr(cls, "behaviour", None)) is not None}


def create(kind: str, scope: Scope, settings: Mapping[str, Any] | None = None) -> BehaviourRule[Any]:
    """A rule of the named type with its settings (the config's fields other than ``scope``);
    InvalidArgument names the type and what is wrong."""
    known_types = behaviours()
    cls = known_types.get(kind)
    if cls is None:
        raise InvalidArgument(
            f"unknown behaviour rule type {kind!r} (known: {', '.join(sorted(known_types))})"
        )
    given = dict(settings or {})
    known = {f.name for f in dataclasses.fields(cls.config_type)} - {"scope"}
    if unknown := sorted(set(given) - known):
        raise InvalidArgument(f"{kind}: unknown settings {unknown} (known: {', '.join(sorted(known))})")
    try:
        return cls(cls.config_type(scope=scope, **given))
    except InvalidArgument as exc:
        raise InvalidArgument(f"{kind}: {exc.message}") from None

"""Which of a camera's tracks are staff, and when staff and violence were last seen there: the
memory of the oversight rules (oversight.py), filled from identity's STAFF gallery sightings."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kuzet.ingest.rulebase import RuleHit

OBSCURING_FAULTS = frozenset({"black", "covered", "moved", "offline"})


@dataclass
class Staff:
    """The staff among one camera's tracks, and when staff and violence were last seen."""

    window_s: float = 300.0
    tracks: dict[int, tuple[str, ...]] = field(default_factory=dict)  # track id -> staff refs
    last_staff_t: float | None = None
    last_violence_t: float | None = None

    def seen(self, track_id: int, refs: Iterable[str], t: float) -> None:
        """Identity recognised the track's face in a STAFF gallery (refs: the staff ids)."""
        self.tracks[track_id] = tuple(sorted(set(refs))) or ("staff",)
        self.last_staff_t = t

    def observe(self, t: float, track_ids: Iterable[int]) -> None:
        if any(tid in self.tracks for tid in track_ids):
            self.last_staff_t = t

    def forget(self, track_id: int) -> None:
        self.tracks.pop(track_id, None)

    def refs(self, track_ids: Iterable[int]) -> list[str]:
        return sorted({ref for tid in track_ids for ref in self.tracks.get(tid, ())})

    def involved(self, track_ids: Iterable[int]) -> dict[str, object]:
        """The oversight attributes naming who of these tracks is staff (docs/oversight.md)."""
        ids = list(track_ids)
        return {
            "staff_external_ids": self.refs(ids),
            "staff_track_ids": [t for t in ids if t in self.tracks],
            "detainee_track_ids": [t for t in ids if t not in self.tracks],
            "staff_source": "face",
        }

    def with_staff(self, hits: Iterable[RuleHit], t: float) -> Iterator[RuleHit]:
        """The hits, and for each violence hit with staff among its people a staff_violence
        hit beside it (its own subject, so alerting folds it apart)."""
        for hit in hits:
            yield hit
            if hit.event_type != "violence":
                continue
            self.last_violence_t = t
            ids = [tr.track_id for tr in hit.tracks]
            if any(t in self.tracks for t in ids):
                yield dataclasses.replace(
                    hit,
                    event_type="staff_violence",
                    subject=f"staff:{hit.subject}",
                    attributes={**hit.attributes, **self.involved(ids)},
                    summary=f"{hit.summary}, staff present",
                )

    def obscured(self, fault: str, t: float) -> dict[str, object] | None:
        """The attributes of a camera_obscured_with_staff event for a fault starting at t, or
        None when neither staff nor violence were seen within window_s."""
        if fault not in OBSCURING_FAULTS:
            return None
        seen = {"staff_seen_at": self.last_staff_t, "violence_seen_at": self.last_violence_t}
        recent = {k: round(v, 3) for k, v in seen.items() if v is not None and t - v <= self.window_s}
        if not recent:
            return None
        return {"fault": fault, "window_s": self.window_s, **recent}

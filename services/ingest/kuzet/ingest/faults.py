"""Camera fault detection on the grey thumbnail: black, covered, frozen, blurred, moved.

Each condition must persist for ``hold_s`` before it is reported (a door slammed in front of the
lens is not a covered camera) and is reported once until it clears. The reference for blur and
view changes is learnt from the first healthy frames of the connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

BLACK, COVERED, FROZEN, BLURRED, MOVED = "black", "covered", "frozen", "blurred", "moved"
EVENT_TYPES = {k: f"camera_{k}" for k in (BLACK, COVERED, FROZEN, BLURRED, MOVED)}


@dataclass
class FaultDetector:
    hold_s: float = 3.0
    frozen_after_s: float = 60.0
    black_mean: float = 20.0
    covered_std: float = 6.0
    blur_ratio: float = 0.3
    moved_corr: float = 0.4
    reference_frames: int = 5
    active: set[str] = field(default_factory=set)
    _since: dict[str, float] = field(default_factory=dict)
    _prev: np.ndarray | None = None
    _unchanged_since: float | None = None
    _refs: list[np.ndarray] = field(default_factory=list)
    _ref: np.ndarray | None = None
    _ref_sharpness: float = 0.0

    def reset(self) -> None:
        """A new connection: the view may legitimately differ; learn the reference again."""
        self._prev, self._unchanged_since, self._refs, self._ref = None, None, [], None
        self._since.clear()

    def update(self, thumb: np.ndarray, t: float) -> tuple[list[str], list[str]]:
        """(faults that started, faults that cleared) for this thumbnail."""
        mean, std = float(thumb.mean()), float(thumb.std())
        present: set[str] = set()
        if mean < self.black_mean and std < 2 * self.covered_std:
            present.add(BLACK)
        elif std < self.covered_std:
            present.add(COVERED)
        if (
            self._prev is not None
            and self._prev.shape == thumb.shape
            and not np.any(cv2.absdiff(thumb, self._prev) > 1)
        ):
            if self._unchanged_since is None:
                self._unchanged_since = t
            if t - self._unchanged_since >= self.frozen_after_s:
                present.add(FROZEN)
        else:
            self._unchanged_since = None
        self._prev = thumb
        if not present:
            sharp = float(cv2.Laplacian(thumb, cv2.CV_32F).var())
            if self._ref is None:
                self._refs.append(thumb.astype(np.float32))
                if len(self._refs) >= self.reference_frames:
                    self._ref = np.median(np.stack(self._refs), axis=0)
                    self._ref_sharpness = float(cv2.Laplacian(self._ref.astype(np.uint8), cv2.CV_32F).var())
            else:
                if self._ref_sharpness > 0 and sharp < self.blur_ratio * self._ref_sharpness:
                    present.add(BLURRED)
                elif _correlation(self._ref, thumb) < self.moved_corr:
                    present.add(MOVED)
        started, cleared = [], []
        for fault in present:
            self._since.setdefault(fault, t)
            if fault not in self.active and t - self._since[fault] >= self.hold_s:
                self.active.add(fault)
                started.append(fault)
        for fault in list(self._since):
            if fault not in present:
                del self._since[fault]
                if fault in self.active:
                    self.active.discard(fault)
                    cleared.append(fault)
        return started, cleared


def _correlation(ref: np.ndarray, thumb: np.ndarray) -> float:
    """Normalised cross-correlation of smoothed thumbnails: high while the view is the same
    (people passing change a small part), low when the camera turned."""
    if ref.shape != thumb.shape:
        return 0.0
    a = cv2.GaussianBlur(ref.astype(np.float32), (5, 5), 0).ravel()
    b = cv2.GaussianBlur(thumb.astype(np.float32), (5, 5), 0).ravel()
    a -= a.mean()
    b -= b.mean()
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b / denom) if denom > 0 else 0.0

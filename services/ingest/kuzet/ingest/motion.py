"""Cheap per-zone motion gate and image statistics on a small grey thumbnail.

The thumbnail (about 160 px wide) is computed once per sampled frame and serves both the motion
gate and the fault detectors, so gating costs well under a millisecond per frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from kuzet.ingest.cameras import ZoneCfg

THUMB_WIDTH = 160


def thumbnail(image: np.ndarray, width: int = THUMB_WIDTH) -> np.ndarray:
    """Grey thumbnail of a BGR image (or of a grey/luma plane)."""
    h, w = image.shape[:2]
    height = max(1, round(h * width / w))
    step = max(1, w // (2 * width))
    if step > 1:
        # Sub-sample first: INTER_AREA over a full 1080p frame costs more than the gate itself.
        image = image[::step, ::step]
    small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return small if small.ndim == 2 else cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)


class MotionGate:
    """Passes a frame when enough thumbnail pixels changed inside any gating zone.

    Motion means a change against the previous *sampled* frame and against the background
    (the last still frame): sensor noise averages out in the downscale, a threshold of ~12 grey
    levels ignores compression flicker, and the frame after someone walked out of view, which
    differs from the previous one but is back to the background, does not count.
    """

    def __init__(
        self,
        zones: list[ZoneCfg],
        frame_size: tuple[int, int],
        *,
        whole_frame: bool = False,
        threshold: int = 12,
        min_fraction: float = 0.002,
        hangover: int = 3,
    ) -> None:
        w, h = frame_size
        th = max(1, round(h * THUMB_WIDTH / w))
        self.shape = (th, THUMB_WIDTH)
        gating = [] if whole_frame else [z for z in zones if z.gates_motion]
        if gating:
            mask = np.zeros(self.shape, np.uint8)
            sx, sy = THUMB_WIDTH / w, th / h
            for z in gating:
                pts = np.array([[x * sx, y * sy] for x, y in z.polygon], np.int32)
                cv2.fillPoly(mask, [pts], 1)
            self.mask: np.ndarray | None = mask.astype(bool)
        else:
            self.mask = None  # no zones: the whole frame counts
        self.area = int(self.mask.sum()) if self.mask is not None else th * THUMB_WIDTH
        self.threshold = threshold
        self.min_pixels = max(1, round(min_fraction * th * THUMB_WIDTH))
        self._prev: np.ndarray | None = None
        self._background: np.ndarray | None = None
        # Frames still passed after motion stops while people are in view: the tracker needs a
        # second look to confirm a track (someone who just fell and now lies still).
        self.hangover = hangover
        self._open_for = 0
        # Whether the last frame passed for motion in the gating zones (not for the hangover):
        # such cameras go first at the detector (turns.py).
        self.zone_motion = False

    def check(self, thumb: np.ndarray, *, people: bool = False) -> bool:
        """``people``: the last analysed frame had detections; only then does the hangover
        apply (with nobody in view there is no track to confirm)."""
        prev, self._prev = self._prev, thumb
        self.zone_motion = False
        if prev is None or prev.shape != thumb.shape:
            self._open_for = self.hangover
            self._background = thumb
            return True
        diff = cv2.absdiff(thumb, prev) > self.threshold
        if self._background is not None and self._background.shape == thumb.shape:
            diff &= cv2.absdiff(thumb, self._background) > self.threshold
        if self.mask is not None:
            diff &= self.mask
        if int(np.count_nonzero(diff)) >= self.min_pixels:
            self._open_for = self.hangover
            self.zone_motion = True
            return True
        self._background = thumb  # still: this is what the scene looks like now
        if self._open_for > 0 and people:
            self._open_for -= 1
            return True
        return False

"""Multi-object tracking with ByteTrack (roboflow's maintained `trackers` package).

ByteTrack left `supervision` in 0.27 for `trackers`; its input and output are
`supervision.Detections`, so both libraries are used together. The tracker runs on the sampled
frames only, so its rate is the camera's analytic rate, not the stream's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import supervision as sv
from trackers import ByteTrackTracker


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]
    score: float


@dataclass(frozen=True)
class Track:
    track_id: int
    box: tuple[float, float, float, float]
    score: float

    @property
    def lying(self) -> bool:
        # A person box clearly wider than tall: someone lying on the floor (see rules.py).
        w, h = self.box[2] - self.box[0], self.box[3] - self.box[1]
        return h > 0 and w / h >= LYING_ASPECT


LYING_ASPECT = 1.3


class Tracker:
    def __init__(self, fps: float, *, lost_after_s: float = 3.0, min_score: float = 0.3) -> None:
        # Activation and "high confidence" below the defaults (0.7, 0.6): CenterNet scores a
        # person lying down around 0.45, and only high-confidence detections can start a track;
        # a track must start for someone who fell (the box jump breaks the old track) or enters lying.
        # Updates carry timestamps (sampling is irregular: motion gate, drops), and in that mode
        # trackers 2.6 turns lost_track_buffer into seconds as buffer / 30: express it in 30 fps frames.
        self._bt = ByteTrackTracker(
            lost_track_buffer=max(1, round(lost_after_s * 30)),
            frame_rate=30.0,
            track_activation_threshold=0.4,
            minimum_consecutive_frames=2,
            minimum_iou_threshold=0.1,
            high_conf_det_threshold=0.4,
        )
        self._min_score = min_score

    def update(self, detections: list[Detection], t: float) -> list[Track]:
        kept = [d for d in detections if d.score >= self._min_score]
        if kept:
            dets = sv.Detections(
                xyxy=np.array([d.box for d in kept], dtype=np.float32),
                confidence=np.array([d.score for d in kept], dtype=np.float32),
                class_id=np.zeros(len(kept), dtype=int),
            )
        else:
            dets = sv.Detections.empty()
        out = self._bt.update(dets, timestamp=t)
        tracks: list[Track] = []
        if out.tracker_id is None:
            return tracks
        for box, score, tid in zip(
            out.xyxy, out.confidence if out.confidence is not None else [], out.tracker_id, strict=False
        ):
            if tid is None or int(tid) < 0:
                continue  # not yet confirmed (minimum_consecutive_frames)
            tracks.append(
                Track(int(tid), (float(box[0]), float(box[1]), float(box[2]), float(box[3])), float(score))
            )
        return tracks

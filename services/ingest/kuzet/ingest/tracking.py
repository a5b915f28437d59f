"""Multi-object tracking with ByteTrack (roboflow's maintained `trackers` package).

ByteTrack left `supervision` in 0.27 for `trackers`; its input and output are
`supervision.Detections`, so both libraries are used together. The tracker runs on the analysed
frames only, so its rate is whatever the detector gave this camera: the camera's analytic rate
when it keeps up, one frame every few seconds when it does not. Everything here is therefore in
seconds, not frames:

- association: a box matches a track when they overlap (IoU, as ByteTrack does), or when the box
  lies within the distance a person can walk in the time since the track was last seen (its
  ``reach``, in person heights per second). At 4 fps that is a fraction of a box and the overlap
  decides as before; two seconds apart a walker has left his old box, and only the reach can
  link the two sightings.
- confirmation: a track is confirmed by a second sighting; when the camera is looked at less
  often than every ``sparse_after_s`` (the detector is overloaded), waiting for a second look
  would take that long again, so one confident sighting confirms it
  (if the detector scored it ``confirm_score`` or more).
- a lost track is kept for ``lost_after_s`` seconds.

Track ids are unique across restarts and replicas (``TrackIds``), never 0.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import supervision as sv
from trackers import ByteTrackTracker
from trackers.core.bytetrack.tracklet import ByteTrackTracklet
from trackers.utils.iou import BaseIoU, IoU


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]
    score: float
    class_name: str = "person"


@dataclass(frozen=True)
class Track:
    track_id: int
    box: tuple[float, float, float, float]
    score: float
    # the class the detector gave the box this frame (a vehicle's may flip between car and truck)
    class_name: str = "person"

    @property
    def lying(self) -> bool:
        # A person box clearly wider than tall: someone lying on the floor (see rules.py).
        w, h = self.box[2] - self.box[0], self.box[3] - self.box[1]
        return h > 0 and w / h >= LYING_ASPECT


LYING_ASPECT = 1.3
# Ids below 2**53 stay exact in JavaScript (the console reads them from JSON).
_ID_SPACE = 1 << 10


class TrackIds:
    """Track (and rule episode) ids unique across restarts and replicas of ingest: the
    milliseconds since the epoch at which this allocator was made, times 1024, plus a counter
    from 1.

    Alerting folds events by (camera, rule, "track:<id>") and identity keys face matches by
    (camera, track id), so a restarted pipeline that counted from 0 again would fold a new
    intrusion into an old alert. Two allocators of one camera collide only if the later one starts
    less than (tracks of the earlier one / 1024) ms after it: a camera that hands over between
    replicas or restarts is stopped for far longer than that. The ids stay below 2**53."""

    def __init__(self, now_s: float | None = None) -> None:
        self.base = int((time.time() if now_s is None else now_s) * 1000) * _ID_SPACE
        self._count = 0

    def next(self) -> int:
        self._count += 1
        return self.base + self._count


class _ReachIoU(BaseIoU):
    """IoU, or for boxes that no longer overlap, how far inside a track's reach a box lies
    (0.5 at the track's own place down to 0 at the edge of the reach); boxes whose heights differ
    more than ``size_ratio`` (someone who fell) never match by reach."""

    def __init__(self, heights_per_s: float, size_ratio: float = 1.5) -> None:
        self.heights_per_s, self.size_ratio = heights_per_s, size_ratio
        self.elapsed_s = 0.0
        self._iou = IoU()

    def _compute(self, boxes_1: np.ndarray, boxes_2: np.ndarray) -> np.ndarray:
        iou = self._iou.compute(boxes_1, boxes_2)
        if self.elapsed_s <= 0:
            return iou
        c1 = (boxes_1[:, None, :2] + boxes_1[:, None, 2:]) / 2
        c2 = (boxes_2[None, :, :2] + boxes_2[None, :, 2:]) / 2
        distance = np.linalg.norm(c1 - c2, axis=2)
        h1 = np.maximum(boxes_1[:, None, 3] - boxes_1[:, None, 1], 1.0)
        h2 = np.maximum(boxes_2[None, :, 3] - boxes_2[None, :, 1], 1.0)
        reach = self.heights_per_s * np.maximum(h1, h2) * self.elapsed_s
        alike = np.maximum(h1, h2) / np.minimum(h1, h2) <= self.size_ratio
        near = np.where(alike, 0.5 * np.clip(1 - distance / reach, 0, 1), 0.0)
        return np.maximum(iou, near)


class _ByteTrack(ByteTrackTracker):
    """ByteTrack with ids from ``TrackIds``, whose new tracks can be confirmed at once
    (``confirm_new``, for sparse frames) when the detector is confident enough."""

    # Not a tracker of trackers' registry (its CLI and tuner): keep "bytetrack" pointing there.
    tracker_id = None  # type: ignore[assignment]
    search_space: ClassVar[dict[str, dict[str, Any]]] = {}
    confirm_new = False
    confirm_score = 0.5

    def __init__(self, ids: TrackIds, **kwargs: Any) -> None:
        self.ids = ids
        super().__init__(**kwargs)

    def _allocate_tracker_id(self) -> int:
        return self.ids.next()

    def _spawn_new_tracks(
        self,
        detection_boxes: np.ndarray,
        confidences: np.ndarray,
        unmatched_high_local: list[int],
        high_indices: np.ndarray,
        out_det_indices: list[int],
        out_tracker_ids: list[int],
    ) -> None:
        for local in unmatched_high_local:
            index = int(high_indices[local])
            out_det_indices.append(index)
            if float(confidences[index]) < self.track_activation_threshold:
                out_tracker_ids.append(-1)
                continue
            tracklet = ByteTrackTracklet(
                initial_bbox=detection_boxes[index], state_estimator_class=self.state_estimator_class
            )
            if self.confirm_new and float(confidences[index]) >= self.confirm_score:
                tracklet.tracker_id = self._allocate_tracker_id()
            self.tracks.append(tracklet)
            out_tracker_ids.append(tracklet.tracker_id)


class Tracker:
    def __init__(
        self,
        fps: float,
        *,
        lost_after_s: float = 3.0,
        min_score: float = 0.3,
        sparse_after_s: float | None = None,
        reach_heights_per_s: float = 1.5,
        size_ratio: float = 1.5,
        ids: TrackIds | None = None,
        activation: float = 0.4,
    ) -> None:
        # Activation and "high confidence" below the defaults (0.7, 0.6): CenterNet scores a
        # person lying down around 0.45, and only high-confidence detections can start a track;
        # a track must start for someone who fell (the box jump breaks the old track) or enters lying.
        # ``activation`` (a detection's score to start a track) lower still where keypoints confirm
        # the person (cameras with pose rules): composited or small lying people score 0.3-0.4.
        # Updates carry timestamps (sampling is irregular: motion gate, drops), and in that mode
        # trackers 2.6 turns lost_track_buffer into seconds as buffer / 30: express it in 30 fps frames.
        self._similarity = _ReachIoU(reach_heights_per_s, size_ratio)
        self.ids = ids or TrackIds()
        self._bt = _ByteTrack(
            self.ids,
            lost_track_buffer=max(1, round(lost_after_s * 30)),
            frame_rate=30.0,
            track_activation_threshold=activation,
            minimum_consecutive_frames=2,
            minimum_iou_threshold=0.1,
            high_conf_det_threshold=activation,
            iou=self._similarity,
        )
        self._min_score = min_score
        # More than two sampling periods between looks: the detector is not keeping up.
        self.sparse_after_s = sparse_after_s if sparse_after_s is not None else max(1.0, 2.5 / fps)
        self.lost_after_s = lost_after_s
        self._last_t: float | None = None

    def update(self, detections: list[Detection], t: float, *, since_last_look_s: float = 0.0) -> list[Track]:
        """Tracks in the frame seen at ``t``; ``since_last_look_s``: how long before it the camera
        was last looked at (by the detector or by the motion gate), which says whether frames
        are sparse."""
        kept = [d for d in detections if d.score >= self._min_score]
        names = sorted({d.class_name for d in kept})
        if kept:
            dets = sv.Detections(
                xyxy=np.array([d.box for d in kept], dtype=np.float32),
                confidence=np.array([d.score for d in kept], dtype=np.float32),
                class_id=np.array([names.index(d.class_name) for d in kept], dtype=int),
            )
        else:
            dets = sv.Detections.empty()
        self._similarity.elapsed_s = 0.0 if self._last_t is None else max(0.0, t - self._last_t)
        self._bt.confirm_new = since_last_look_s >= self.sparse_after_s
        # A track is kept for lost_after_s, and at least until the next sparse look can find it.
        self._bt.maximum_time_without_update = max(self.lost_after_s, 2.5 * since_last_look_s)
        self._last_t = t
        out = self._bt.update(dets, timestamp=t)
        tracks: list[Track] = []
        if out.tracker_id is None:
            return tracks
        classes = out.class_id if out.class_id is not None else np.zeros(len(out.xyxy), dtype=int)
        for box, score, tid, cls in zip(
            out.xyxy,
            out.confidence if out.confidence is not None else [],
            out.tracker_id,
            classes,
            strict=False,
        ):
            if tid is None or int(tid) < 0:
                continue  # not yet confirmed
            xyxy = (float(box[0]), float(box[1]), float(box[2]), float(box[3]))
            tracks.append(Track(int(tid), xyxy, float(score), names[int(cls)] if names else "person"))
        return tracks

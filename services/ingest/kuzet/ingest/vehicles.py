"""Vehicles on a traffic camera: tracked, counted at the counting lines, measured and read.

A camera has the traffic profile when its ``enabled_models`` include "vehicle". Its vehicles
(car, truck, bus, motorcycle, bicycle) are tracked by a tracker of their own, beside the people's
(one id space per camera, so ids never collide), and each track's ground contact point, the
bottom centre of its box, is fed to the profile's LaneCounter. Every crossing becomes one
VehicleObservation, sent at once:

- ``observation_id`` = camera:track:line, so a retried batch records nothing twice;
- the vehicle's class is the one the detector gave its boxes most (score-weighted), since a van
  can be a car in one frame and a truck in the next;
- speed, when the profile has a calibration: between the lane's two lines when the track crossed
  the lane's other line before this one (the enforcement measurement), otherwise along the track
  over its last ``speed_window_s``. Its two evidence frames are stored as JPEGs: at a crossing,
  the analysed frame nearest its interpolated instant; along the track, the frames at both ends
  of the window (the last ``speed_window_s`` of analysed frames are kept for that, as decoded
  frames);
- with "plate" enabled, the best plate read over the track. Plates are read (inference
  ReadPlates on the vehicle's crop at full resolution) only for tracks near a line they have not
  crossed yet, at most ``max_plate_reads`` times per track and not after a confident reading, so
  the cost per frame stays at one small call when a vehicle approaches a line and nothing
  otherwise.

A wrong-way crossing (against the lane's direction) is an observation too, with direction
``wrong_way``.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import cv2
import numpy as np

from kuzet.common.errors import KuzetError
from kuzet.common.objectstore import ObjectStore
from kuzet.common.roads.lanes import VEHICLE_CLASSES, CountingLine, Crossing, LaneCounter
from kuzet.common.roads.plates import PlateReading, normalise
from kuzet.common.roads.speed import SpeedEvidence, TrackPoint, speed_along_track, speed_between_lines
from kuzet.common.timeutil import to_timestamp
from kuzet.common.v1 import common_pb2
from kuzet.ingest.cameras import CameraCfg
from kuzet.ingest.geometry import iou
from kuzet.ingest.observations import ObservationSender
from kuzet.ingest.profiles import ProfileFollower, TrafficProfile, TrafficProfiles
from kuzet.ingest.snapshots import Box, store_jpeg
from kuzet.ingest.source import Frame
from kuzet.ingest.tracking import Detection, Track, Tracker, TrackIds
from kuzet.traffic.v1 import traffic_pb2

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlateText:
    """A text line read in a crop: what the recogniser read, its confidence, where (crop pixels)."""

    text: str
    confidence: float
    box: Box


class PlateReader(Protocol):
    async def read(self, crops: Sequence[np.ndarray]) -> list[list[PlateText]]:
        """The plates read in each crop, best first."""
        ...


@dataclass(frozen=True)
class VehicleOptions:
    min_score: float = 0.3
    # Vehicles move a few box heights a second (tracking.Tracker's reach) and grow or shrink by
    # half between sparse looks (perspective), and the next vehicle of a lane comes a second or
    # two after the last has gone: a lost track is not kept long, or the next one would continue
    # it (and not be counted, its track having crossed already).
    reach_heights_per_s: float = 4.0
    size_ratio: float = 2.0
    lost_after_s: float = 1.0
    forget_after_s: float = 10.0
    speed_window_s: float = 1.0
    # Along the track: at least this many points, going back further than the window if need be
    # (a camera analysed slowly), but never more than twice as far.
    min_speed_points: int = 3
    max_track_points: int = 256
    max_plate_reads: int = 3
    # A box narrower than this carries a plate too small to read.
    plate_min_box_px: int = 96
    # Near a line: within this many of the vehicle's box heights of it.
    plate_near_heights: float = 1.5
    # A normalised reading this confident ends the reading of a track.
    plate_confident: float = 0.9
    # Crops go to the reader at most this wide: a plate is a fifth of a car's width, and text a
    # dozen pixels high reads as well as larger text at a fraction of the cost.
    plate_crop_max_px: int = 480
    jpeg_quality: int = 90


@dataclass(frozen=True)
class TrafficLinks:
    """What every traffic camera of this process shares: the traffic service (profiles and the
    observation outbox) and the plate reader."""

    profiles: TrafficProfiles
    sender: ObservationSender
    plates: PlateReader | None = None
    options: VehicleOptions = field(default_factory=VehicleOptions)


@dataclass
class _PlateRead:
    reading: PlateReading | None
    raw: str
    confidence: float
    crop: np.ndarray

    def better_than(self, other: _PlateRead | None) -> bool:
        if other is None:
            return True
        if (self.reading is None) != (other.reading is None):
            return self.reading is not None
        return self.confidence > other.confidence


@dataclass
class _CrossingFrame:
    at: float
    ref: common_pb2.ObjectRef


@dataclass
class _Vehicle:
    points: deque[TrackPoint]
    box: Box = (0.0, 0.0, 0.0, 0.0)
    last_seen: float = 0.0
    votes: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    reads: int = 0
    plate: _PlateRead | None = None
    plate_ref: common_pb2.ObjectRef | None = None
    crossed: dict[str, _CrossingFrame] = field(default_factory=dict)

    @property
    def vehicle_class(self) -> str:
        return max(self.votes, key=lambda cls: self.votes[cls])

    def plate_done(self, confident: float) -> bool:
        p = self.plate
        return p is not None and p.reading is not None and p.confidence >= confident


def bottom_centre(box: Box) -> tuple[float, float]:
    return ((box[0] + box[2]) / 2, box[3])


# The detector scores each class apart and may box one van as a car and as a truck: boxes of one
# vehicle overlap this much, two vehicles side by side or one behind the other far less.
SAME_VEHICLE_IOU = 0.7


def one_per_vehicle(detections: list[Detection]) -> list[Detection]:
    """The best-scored detection of each group of near-identical boxes (else each would start a
    track of its own)."""
    kept: list[Detection] = []
    for d in sorted(detections, key=lambda d: -d.score):
        if all(iou(d.box, k.box) < SAME_VEHICLE_IOU for k in kept):
            kept.append(d)
    return kept


class VehicleAnalysis:
    """One traffic camera's vehicles: fed the vehicle detections of every analysed frame."""

    def __init__(self, cfg: CameraCfg, *, ids: TrackIds, links: TrafficLinks, store: ObjectStore) -> None:
        self.cfg, self.sender, self._store = cfg, links.sender, store
        self.follower = ProfileFollower(cfg.id, links.profiles)
        self._plates = links.plates if cfg.reads_plates else None
        self.options = links.options
        # A vehicle track is confirmed at its first sighting: at a slowly analysed camera a
        # vehicle may be seen only once or twice before a line, and one false box never
        # crosses a line (that takes two positions).
        self.tracker = Tracker(
            cfg.analytic_fps,
            lost_after_s=self.options.lost_after_s,
            reach_heights_per_s=self.options.reach_heights_per_s,
            size_ratio=self.options.size_ratio,
            sparse_after_s=0.0,
            ids=ids,
        )
        self._profile: TrafficProfile | None = None
        self._counter: LaneCounter | None = None
        self._vehicles: dict[int, _Vehicle] = {}
        self._recent: deque[Frame] = deque()
        # evidence frames of the kept frames already stored, by frame sequence number
        self._stored: dict[int, common_pb2.ObjectRef] = {}
        self.observations = 0

    @property
    def status(self) -> str:
        if self.cfg.reads_plates and self._plates is None:
            return "plate reading enabled, but this ingest has no plate reader"
        return self.follower.status

    def start(self) -> None:
        self.follower.start()

    async def stop(self) -> None:
        await self.follower.stop()

    async def update(
        self, frame: Frame, detections: list[Detection], since_last_look_s: float
    ) -> list[Track]:
        """The vehicle tracks of this frame; their crossings are sent as observations."""
        vehicles = [
            d for d in detections if d.class_name in VEHICLE_CLASSES and d.score >= self.options.min_score
        ]
        tracks = self.tracker.update(
            one_per_vehicle(vehicles), frame.time, since_last_look_s=since_last_look_s
        )
        self._remember(frame)
        self._follow_profile()
        at = datetime.fromtimestamp(frame.time, UTC)
        crossings: list[tuple[_Vehicle, Track, Crossing]] = []
        for tr in tracks:
            v = self._vehicles.get(tr.track_id)
            if v is None:
                v = self._vehicles[tr.track_id] = _Vehicle(deque(maxlen=self.options.max_track_points))
            v.box, v.last_seen = tr.box, frame.time
            v.votes[tr.class_name] += tr.score
            if _cut(tr.box, frame.width, frame.height):
                continue  # entering or leaving the picture: the box's bottom is not its wheels
            point = bottom_centre(tr.box)
            if not v.points or v.points[-1].at < at:
                v.points.append(TrackPoint(at, point))
            if self._counter is not None:
                crossings += [(v, tr, c) for c in self._counter.update(tr.track_id, at, point)]
        if self._plates is not None and self._profile is not None:
            try:
                await self._read_plates(frame, tracks, {c.track_id for _, _, c in crossings})
            except KuzetError as exc:  # inference down: the crossings still count, without a plate
                log.warning("camera %s: plates not read: %s", self.cfg.id, exc.message)
        for v, tr, crossing in crossings:
            try:
                await self._observe(frame, v, tr, crossing)
            except KuzetError as exc:
                log.warning(
                    "camera %s: track %d at line %s: %s",
                    self.cfg.id,
                    tr.track_id,
                    crossing.line_id,
                    exc.message,
                )
        self._forget(frame.time)
        return tracks

    # --- profile ---------------------------------------------------------------------------
    def _follow_profile(self) -> None:
        if not self.follower.changed.is_set():
            return
        self.follower.changed.clear()
        self._profile = self.follower.profile
        # New lines: the sides tracks were on belong to the old ones.
        self._counter = LaneCounter(self._profile.lines) if self._profile is not None else None
        for v in self._vehicles.values():
            v.crossed.clear()

    # --- frames kept for the along-track evidence --------------------------------------------
    def _remember(self, frame: Frame) -> None:
        self._recent.append(frame)
        o = self.options
        # The window's frames, or the last few at a slowly analysed camera: a traffic camera holds
        # about a second of decoded frames (6 MB each at 1080p).
        while len(self._recent) > o.min_speed_points and frame.time - self._recent[1].time > o.speed_window_s:
            self._stored.pop(self._recent.popleft().seq, None)

    def _frame_at(self, at: datetime) -> Frame | None:
        """The analysed frame of that instant, if it is still kept."""
        t = at.timestamp()
        return next((f for f in self._recent if abs(f.time - t) < 1e-3), None)

    def _nearest_frame(self, at: datetime) -> Frame | None:
        t = at.timestamp()
        return min(self._recent, key=lambda f: abs(f.time - t), default=None)

    async def _store_frame(
        self, frame: Frame, kind: str, boxes: list[Box] | None = None
    ) -> common_pb2.ObjectRef:
        plain = kind == "frame"
        if plain and (ref := self._stored.get(frame.seq)) is not None:
            return ref  # the evidence of another crossing, or the other end of a measurement
        ref = await store_jpeg(
            self._store,
            self.cfg.agency,
            self.cfg.id,
            at=frame.time,
            seq=frame.seq,
            kind=kind,
            image=frame.image,
            boxes=boxes,
            quality=self.options.jpeg_quality,
        )
        if plain:
            self._stored[frame.seq] = ref
        return ref

    # --- plates ------------------------------------------------------------------------------
    def _wants_plate(self, v: _Vehicle, tr: Track, crossing_now: bool) -> bool:
        o = self.options
        if (
            v.reads >= o.max_plate_reads
            or v.plate_done(o.plate_confident)
            or tr.box[2] - tr.box[0] < o.plate_min_box_px
        ):
            return False
        if crossing_now:
            return True
        assert self._profile is not None
        point, height = bottom_centre(tr.box), max(1.0, tr.box[3] - tr.box[1])
        for line in self._profile.lines:
            if line.id in v.crossed:
                continue
            if abs(line.signed_distance(point)) <= o.plate_near_heights * height and _beside(line, point):
                return True
        return False

    async def _read_plates(self, frame: Frame, tracks: list[Track], crossing: set[int]) -> None:
        assert self._plates is not None
        wanted = [
            tr for tr in tracks if self._wants_plate(self._vehicles[tr.track_id], tr, tr.track_id in crossing)
        ]
        if not wanted:
            return
        image = frame.image
        crops = [_fit(_crop(image, tr.box), self.options.plate_crop_max_px) for tr in wanted]
        results = await self._plates.read(crops)
        for tr, crop, found in zip(wanted, crops, results, strict=True):
            v = self._vehicles[tr.track_id]
            v.reads += 1
            # every text line on the vehicle: a bus's side carries more text than its plate
            for text in found:
                read = _plate_read(text, crop)
                if read.better_than(v.plate):
                    v.plate, v.plate_ref = read, None

    # --- observations --------------------------------------------------------------------------
    async def _observe(self, frame: Frame, v: _Vehicle, tr: Track, crossing: Crossing) -> None:
        profile = self._profile
        assert profile is not None
        nearest = self._nearest_frame(crossing.at) or frame
        here = _CrossingFrame(nearest.time, await self._store_frame(nearest, "frame"))
        evidence, start_ref, end_ref = self._speed(v, crossing, here)
        if evidence is not None and start_ref is None:
            start_ref, end_ref = await self._window_frames(evidence)
        v.crossed[crossing.line_id] = here
        snapshot = await self._store_frame(frame, f"vehicle-{tr.track_id}", [tr.box])
        plate = v.plate
        if plate is not None and v.plate_ref is None:
            v.plate_ref = await store_jpeg(
                self._store,
                self.cfg.agency,
                self.cfg.id,
                at=frame.time,
                seq=frame.seq,
                kind=f"plate-{tr.track_id}",
                image=plate.crop,
                quality=self.options.jpeg_quality,
            )
        observation = crossing.to_observation(
            self.cfg.id,
            v.vehicle_class,
            speed_kmh=evidence.speed_kmh if evidence is not None else 0.0,
            plate=plate.reading if plate is not None else None,
            snapshot=snapshot,
        )
        observation.box.CopyFrom(common_pb2.Box(x1=tr.box[0], y1=tr.box[1], x2=tr.box[2], y2=tr.box[3]))
        if plate is not None:
            observation.plate_raw = plate.raw
            observation.plate_confidence = plate.confidence
            if plate.reading is not None:
                observation.plate_format = plate.reading.format
            if v.plate_ref is not None:
                observation.plate_crop.CopyFrom(v.plate_ref)
        if evidence is not None:
            observation.speed_evidence.CopyFrom(_evidence_pb(evidence, start_ref, end_ref))
        self.sender.submit(observation)
        self.observations += 1
        log.info(
            "camera %s: %s %d crossed %s (%s, lane %s) at %.1f km/h%s",
            self.cfg.id,
            observation.vehicle_class,
            tr.track_id,
            crossing.line_id,
            crossing.direction,
            crossing.lane,
            observation.speed_kmh,
            f", plate {observation.plate or '?'}" if plate is not None else "",
            extra={"agency": self.cfg.agency},
        )

    def _speed(
        self, v: _Vehicle, crossing: Crossing, here: _CrossingFrame
    ) -> tuple[SpeedEvidence | None, common_pb2.ObjectRef | None, common_pb2.ObjectRef | None]:
        """The evidence, and its frames when they are the crossings' own (between lines)."""
        profile = self._profile
        assert profile is not None
        if profile.calibration is None:
            return None, None, None
        this = next(line for line in profile.lines if line.id == crossing.line_id)
        earlier = [
            ln for ln in profile.lines if ln.lane == crossing.lane and ln.id != this.id and ln.id in v.crossed
        ]
        points = list(v.points)
        if earlier:
            entry = earlier[0]
            try:
                evidence = speed_between_lines(
                    points, (entry.start, entry.end), (this.start, this.end), profile.calibration
                )
            except KuzetError:
                pass  # the entry crossing has left the kept track points: along the track instead
            else:
                return evidence, v.crossed[entry.id].ref, here.ref
        o = self.options
        window = [p for p in points if (points[-1].at - p.at).total_seconds() <= o.speed_window_s]
        if len(window) < o.min_speed_points:
            window = points[-o.min_speed_points :]
            if len(window) < o.min_speed_points or (
                (window[-1].at - window[0].at).total_seconds() > 2 * o.speed_window_s
            ):
                return None, None, None
        return speed_along_track(window, profile.calibration), None, None

    async def _window_frames(
        self, evidence: SpeedEvidence
    ) -> tuple[common_pb2.ObjectRef | None, common_pb2.ObjectRef | None]:
        start, end = self._frame_at(evidence.start_frame_at), self._frame_at(evidence.end_frame_at)
        return (
            await self._store_frame(start, "frame") if start is not None else None,
            await self._store_frame(end, "frame") if end is not None else None,
        )

    def _forget(self, now: float) -> None:
        for tid in [t for t, v in self._vehicles.items() if now - v.last_seen > self.options.forget_after_s]:
            del self._vehicles[tid]
            if self._counter is not None:
                self._counter.forget(tid)


# A box edge this close to the picture's edge is where the picture ends, not the vehicle.
EDGE_PX = 2.0


def _cut(box: Box, width: int, height: int) -> bool:
    """Whether the box is cut by the bottom or a side of the picture (its bottom centre is then
    not where the vehicle touches the road)."""
    return box[0] <= EDGE_PX or box[2] >= width - EDGE_PX or box[3] >= height - EDGE_PX


def _beside(line: CountingLine, point: tuple[float, float]) -> bool:
    """Whether the point lies across from the segment (not beyond its ends: another lane's line)."""
    (ax, ay), (bx, by) = line.start, line.end
    length2 = (bx - ax) ** 2 + (by - ay) ** 2
    along = ((point[0] - ax) * (bx - ax) + (point[1] - ay) * (by - ay)) / length2
    return -0.25 <= along <= 1.25


def _crop(image: np.ndarray, box: Box) -> np.ndarray:
    h, w = image.shape[:2]
    x1, y1 = max(0, math.floor(box[0])), max(0, math.floor(box[1]))
    x2, y2 = min(w, math.ceil(box[2])), min(h, math.ceil(box[3]))
    return np.ascontiguousarray(image[y1:y2, x1:x2]) if x2 > x1 and y2 > y1 else image


def _fit(image: np.ndarray, max_width: int) -> np.ndarray:
    h, w = image.shape[:2]
    if w <= max_width:
        return image
    return cv2.resize(image, (max_width, max(1, round(h * max_width / w))), interpolation=cv2.INTER_AREA)


def _plate_read(text: PlateText, crop: np.ndarray) -> _PlateRead:
    plate_crop = _crop(crop, text.box)
    confidence = min(1.0, max(0.0, text.confidence))
    try:
        reading: PlateReading | None = normalise(text.text, confidence)
    except KuzetError:
        reading = None  # unreadable or ambiguous: no plate, the raw text is kept
    return _PlateRead(reading, text.text, confidence, plate_crop)


def _point(p: tuple[float, float]) -> common_pb2.Point:
    return common_pb2.Point(x=p[0], y=p[1])


def _evidence_pb(
    e: SpeedEvidence, start: common_pb2.ObjectRef | None, end: common_pb2.ObjectRef | None
) -> traffic_pb2.SpeedEvidence:
    message = traffic_pb2.SpeedEvidence(
        method=e.method,
        calibration_id=e.calibration_id,
        calibration_rms_error_m=e.calibration_rms_error_m,
        start_at=to_timestamp(e.start_at),
        end_at=to_timestamp(e.end_at),
        start_frame_at=to_timestamp(e.start_frame_at),
        end_frame_at=to_timestamp(e.end_frame_at),
        start_position_m=_point(e.start_position_m),
        end_position_m=_point(e.end_position_m),
        distance_m=e.distance_m,
        duration_s=e.duration_s,
        speed_kmh=e.speed_kmh,
        uncertainty_kmh=e.uncertainty_kmh,
    )
    if start is not None:
        message.start_frame.CopyFrom(start)
    if end is not None:
        message.end_frame.CopyFrom(end)
    return message

"""One camera's analysis: decode thread -> faults -> motion gate -> detect -> track -> rules -> events
(and, on a traffic camera, vehicles -> lane crossings -> observations: vehicles.py).

Latest frame wins: the decode thread holds one sampled frame for the analysis (a newer one replaces
it), and a frame that passed the motion gate is exchanged for the camera's newest frame when its
turn at the detector comes (detect.py). An overloaded detector thus lowers a camera's analysed
frame rate instead of delaying its alerts; the frames passed over are counted as dropped. Each
camera keeps a guaranteed minimum analysed rate (turns.py gives due cameras the detector first)
and reports itself degraded when even that is not met (degrade.py).

Every analysed frame runs inside an ``ingest.frame`` span; snapshots are stored and events are
queued in that span, so the event sink sends each event under the frame's trace context and
frame -> alert is one trace.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import cv2
import numpy as np
from opentelemetry import trace

from kuzet.common.errors import KuzetError
from kuzet.common.events import new_event
from kuzet.common.geometry import point_in_polygon
from kuzet.common.inference.results import Pose
from kuzet.common.objectstore import ObjectStore
from kuzet.common.roads.lanes import VEHICLE_CLASSES
from kuzet.common.v1 import common_pb2
from kuzet.ingest.cameras import CameraCfg, active
from kuzet.ingest.degrade import AnalysisRate, Change
from kuzet.ingest.detect import PERSON
from kuzet.ingest.dronecamera import DRONE_CLASSES, DroneCamera
from kuzet.ingest.dronefeed import DroneFeed
from kuzet.ingest.faults import EVENT_TYPES as FAULT_EVENTS
from kuzet.ingest.faults import FaultDetector
from kuzet.ingest.geometry import anchor
from kuzet.ingest.motion import MotionGate, thumbnail
from kuzet.ingest.poses import TrackPoses
from kuzet.ingest.rules import FaceRequest, RuleEngine, RuleHit
from kuzet.ingest.snapshots import store_jpeg
from kuzet.ingest.source import Frame, FrameSource, SourceConfig
from kuzet.ingest.tracking import Detection, Track, Tracker, TrackIds
from kuzet.ingest.turns import Need
from kuzet.ingest.v1 import ingest_pb2
from kuzet.ingest.vehicles import TrafficLinks, VehicleAnalysis

log = logging.getLogger(__name__)
tracer = trace.get_tracer("kuzet.ingest")

FAULT_ENUM = {
    "offline": ingest_pb2.FAULT_OFFLINE,
    "black": ingest_pb2.FAULT_BLACK,
    "frozen": ingest_pb2.FAULT_FROZEN,
    "blurred": ingest_pb2.FAULT_BLURRED,
    "covered": ingest_pb2.FAULT_COVERED,
    "moved": ingest_pb2.FAULT_MOVED,
    "unsupported": ingest_pb2.FAULT_UNSUPPORTED,
    "degraded": ingest_pb2.FAULT_DEGRADED,
}


class Detector(Protocol):
    async def detect(
        self, pick: Callable[[], np.ndarray], need: Need | None = None, classes: Sequence[str] = PERSON
    ) -> list[Detection]:
        """Objects of ``classes`` in the frame ``pick`` returns when the detector is ready for it
        (``need`` ranks the camera among those waiting)."""
        ...


class Poser(Protocol):
    async def estimate(self, image: np.ndarray) -> list[Pose]:
        """People's keypoints in the frame (source pixels)."""
        ...


class Sink(Protocol):
    def publish(self, event: common_pb2.Event) -> None: ...


class FaceHandoff(Protocol):
    async def handoff(
        self, camera: CameraCfg, frame: Frame, request: FaceRequest, snapshot: common_pb2.ObjectRef
    ) -> list[str] | None:
        """None when no face of good enough quality was found (later frames try again); once
        sent (the track is then done), the staff ids identity recognised it as (STAFF
        galleries; usually none)."""
        ...


@dataclass
class PipelineOptions:
    decode_threads: int = 1
    connect_timeout_s: float = 5.0
    backoff_max_s: float = 10.0
    motion_gate: bool = True
    realtime_files: bool = True
    loop_files: bool = False
    jpeg_quality: int = 85
    fault_hold_s: float = 3.0
    frozen_after_s: float = 60.0
    # Clip recording: the sampled frames of the last clip_seconds before an event, at most
    # clip_max_side px, so that the buffer stays small (1 MB/s per camera at 5 fps, 640 px).
    clip_seconds: float = 4.0
    clip_max_side: int = 640
    # The event goes out at once with the clip before it; clip_after_s later the clip of the
    # seconds before and after replaces it on the alert (an `amends` event).
    clip_after_s: float = 4.0
    # Every camera is analysed at least this often (or at its analytic rate, if slower), or
    # reported degraded.
    min_analysed_interval_s: float = 2.0


@dataclass
class PendingClip:
    """An event's clip still collecting the frames after it."""

    event: common_pb2.Event
    seq: int
    at: float
    until: float
    frames: list[np.ndarray]
    last: float  # the time of the newest frame collected


@dataclass
class CameraStats:
    frames_motion_skipped: int = 0
    frames_inferred: int = 0
    # Frames that passed the motion gate but were exchanged for a newer one at the detector.
    frames_superseded: int = 0
    events_published: int = 0
    inference_errors: int = 0
    faults: set[str] = field(default_factory=set)
    config_error: str = ""


class CameraPipeline:
    def __init__(
        self,
        cfg: CameraCfg,
        *,
        detector: Detector,
        sink: Sink,
        store: ObjectStore,
        options: PipelineOptions,
        faces: FaceHandoff | None = None,
        traffic: TrafficLinks | None = None,
        poser: Poser | None = None,
        drones: DroneFeed | None = None,
    ) -> None:
        self.cfg = cfg
        self.options = options
        self._detector, self._sink, self._store, self._faces = detector, sink, store, faces
        self._poser = poser
        self.stats = CameraStats()
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self.source = FrameSource(
            SourceConfig(
                camera_id=cfg.id,
                url=cfg.url,
                username=cfg.username,
                password=cfg.password,
                analytic_fps=cfg.analytic_fps,
                keyframe_only=cfg.keyframe_only,
                threads=options.decode_threads,
                timeout_s=options.connect_timeout_s,
                backoff_max_s=options.backoff_max_s,
                realtime_files=options.realtime_files,
                loop_files=options.loop_files,
            ),
            1,  # latest frame wins
            notify=self._notify,
            on_status=self._status_from_thread,
        )
        # One id space for the camera's tracks and rule episodes, fresh at every (re)start.
        ids = TrackIds()
        self.rules = RuleEngine(cfg, ids=ids)
        posing = self.rules.pose_interval_s is not None
        self.tracker = Tracker(cfg.analytic_fps, ids=ids, activation=0.3 if posing else 0.4)
        # Keypoint histories, on cameras with pose rules only; kept a little longer than the
        # rules read, so that an episode's frames stay describable.
        self.poses = (
            TrackPoses(max(self.rules.history_s, 5.0) + 5.0, self.rules.pose_zones, ids) if posing else None
        )
        self._posed_at = float("-inf")
        self.vehicles = (
            VehicleAnalysis(cfg, ids=ids, links=traffic, store=store) if cfg.traffic and traffic else None
        )
        if cfg.traffic and traffic is None:
            self.stats.config_error = "a traffic camera, but this ingest has no traffic service configured"
        self.drone = (
            DroneCamera(cfg, ids=ids, feed=drones, store=store, jpeg_quality=options.jpeg_quality)
            if cfg.drone_id and drones is not None
            else None
        )
        if cfg.drone_id and drones is None:
            self.stats.config_error = "a drone camera, but this ingest has no drone service configured"
        # People only where rules watch them; a traffic camera's vehicles always; everything a
        # drone camera's video shows that the drone service places.
        self.classes: tuple[str, ...] = (PERSON if cfg.rules else ()) + (
            tuple(sorted(VEHICLE_CLASSES)) if self.vehicles else ()
        )
        if self.drone is not None:
            self.classes += tuple(c for c in DRONE_CLASSES if c not in self.classes)
        self.rate = AnalysisRate(max(options.min_analysed_interval_s, 1 / cfg.analytic_fps), time.time())
        # A flying camera's view is never the reference view: "moved" would never clear.
        self.faults = FaultDetector(
            hold_s=options.fault_hold_s,
            frozen_after_s=options.frozen_after_s,
            moved_corr=-1.0 if cfg.drone_id else FaultDetector.moved_corr,
        )
        self._gate: MotionGate | None = None
        # Bounding boxes of the zones rules watch, and whether the last analysed frame showed
        # someone at their edge (overlapping one, feet not yet inside).
        self._rule_zones = [
            z.polygon for z in cfg.zones.values() if any(r.zone_id == z.id for r in cfg.rules)
        ]
        self._at_zone_edge = False
        self._tracks: list[Track] = []
        self._had_people = False
        self._clip: deque[tuple[float, np.ndarray]] = deque()
        self._clips_pending: list[PendingClip] = []
        self.latest: Frame | None = None
        self._task: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._frame_arrived = 0.0
        self._offline_reported = False
        self._ever_online = False
        self.finished = asyncio.Event()

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        if self.vehicles is not None:
            self.vehicles.start()
        self.source.start()
        self._task = asyncio.create_task(self._run(), name=f"camera-{self.cfg.id}")
        self._watch = asyncio.create_task(self._watch_rate(), name=f"camera-{self.cfg.id}-rate")

    async def stop(self) -> None:
        await asyncio.to_thread(self.source.stop)
        tasks = [t for t in (self._task, self._watch) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # A camera stopped (removed, reconfigured, handed to another replica, ingest shutting
        # down): the clips still collecting go out with the seconds after their event seen so far.
        await self._finish_clips(None)
        if self.vehicles is not None:
            await self.vehicles.stop()

    # --- status from the decode thread -----------------------------------------------------
    def _notify(self) -> None:
        # Wall clock, not the frame's stream time: a camera clock that drifts must not make
        # the coverage check think frames stopped (or that looks are late).
        self._frame_arrived = time.time()
        self._loop.call_soon_threadsafe(self._wake.set)

    def _status_from_thread(self, kind: str, detail: str) -> None:
        self._loop.call_soon_threadsafe(self._on_status, kind, detail)

    def _on_status(self, kind: str, detail: str) -> None:
        if kind == "online":
            self.stats.faults.discard("offline")
            self.stats.faults.discard("unsupported")
            self.faults.reset()
            self._gate = None
            if self._offline_reported:
                self._offline_reported = False
                self._publish_simple(
                    "camera_online", f"camera {self.cfg.name} is back ({detail})", {"detail": detail}
                )
            self._ever_online = True
        elif kind in ("offline", "unsupported"):
            self.stats.faults.add(kind)
            if not self._offline_reported:
                self._offline_reported = True
                summary = f"camera {self.cfg.name} offline: {detail}"
                self._publish_simple("camera_offline", summary, {"detail": detail, "reason": kind})
                self._oversee_fault("offline", time.time())
        elif kind == "ended":
            self.finished.set()
            self._wake.set()

    def _oversee_fault(self, fault: str, t: float, **fields: Any) -> None:
        """A camera covered, turned away or offline soon after staff or violence were in its
        view is also an oversight event (oversight.py)."""
        if (attrs := self.rules.obscured(fault, t)) is not None:
            summary = f"camera {self.cfg.name}: {fault} soon after staff or violence were in view"
            self._publish_simple("camera_obscured_with_staff", summary, attrs, **fields)

    def _source_pb(self) -> common_pb2.Source:
        return common_pb2.Source(
            kind=common_pb2.SOURCE_KIND_CAMERA, id=self.cfg.id, site_id=self.cfg.site, name=self.cfg.name
        )

    def _location(self) -> common_pb2.GeoPoint | None:
        if self.cfg.location is None:
            return None
        return common_pb2.GeoPoint(latitude=self.cfg.location[0], longitude=self.cfg.location[1])

    def _publish_simple(self, type_: str, summary: str, attrs: dict[str, Any], **fields: Any) -> None:
        event = new_event(
            self.cfg.agency,
            type_,
            self._source_pb(),
            attributes=attrs,
            summary=summary,
            subject=f"camera:{self.cfg.id}",
            location=self._location(),
            **fields,
        )
        self._sink.publish(event)
        self.stats.events_published += 1

    # --- the analysis loop -----------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            frame = self.source.queue.get()
            if frame is None:
                if self.finished.is_set():
                    return
                self._wake.clear()
                if len(self.source.queue) == 0:
                    await self._wake.wait()
                continue
            try:
                await self._process(frame)
            except asyncio.CancelledError:
                raise
            except KuzetError as exc:
                self.stats.inference_errors += 1
                log.warning("camera %s: frame skipped: %s", self.cfg.id, exc.message)
            except Exception:
                log.exception("camera %s: frame processing failed", self.cfg.id)

    async def _process(self, frame: Frame) -> None:
        cfg = self.cfg
        if self._gate is None:
            h, w = frame.height, frame.width
            if problems := cfg.frame_size_errors(w, h):
                # The registry could not know the frame size: stop analysing this camera only.
                if not self.stats.config_error:
                    self.stats.config_error = "; ".join(problems)
                    log.error("camera %s misconfigured: %s", cfg.id, self.stats.config_error)
                return
            whole = any(r.whole_frame for r in cfg.rules)
            self._gate = MotionGate(list(cfg.zones.values()), (w, h), whole_frame=whole or not cfg.zones)
        with tracer.start_as_current_span(
            "ingest.frame",
            attributes={"kuzet.camera": cfg.id, "kuzet.agency": cfg.agency, "kuzet.frame_seq": frame.seq},
        ) as span:
            passed = await self._observe(frame)
            await self._finish_clips(frame.time)
            if passed is None:
                self._looked()
                return
            span.set_attribute("kuzet.motion", passed)
            if passed:
                frame, detections = await self._detect_newest(frame)
                span.set_attribute("kuzet.analysed_seq", frame.seq)
                self.stats.frames_inferred += 1
                # Anything in view keeps the motion gate open: the trackers need the next frames.
                self._had_people = bool(detections)
                gap = self._looked()
                people = [d for d in detections if d.class_name == "person"]
                self._tracks = self.tracker.update(people, frame.time, since_last_look_s=gap)
                self._at_zone_edge = any(self._at_edge(d.box) for d in people)
                if self.vehicles is not None:
                    await self.vehicles.update(frame, detections, gap)
                if self.drone is not None:
                    await self.drone.update(frame, detections, gap)
                log.debug(
                    "camera %s frame %d: %d detections, tracks %s",
                    cfg.id,
                    frame.seq,
                    len(detections),
                    [(t.track_id, [round(v) for v in t.box]) for t in self._tracks],
                )
            else:
                # Nothing moved: the people seen last are still where they were.
                self.stats.frames_motion_skipped += 1
                self._looked()
            poses = await self._pose(frame, passed)
            posed = self.poses.people if self.poses is not None else {}
            hits, faces = self.rules.evaluate(
                frame.time, self._tracks, moved=passed, poses=poses, people=posed
            )
            snap: common_pb2.ObjectRef | None = None
            for hit in hits:
                snap = await self._snapshot(frame, [t.box for t in hit.tracks], hit.event_type)
                clip = await self._store_clip(frame, hit.event_type) if cfg.clip_recording else None
                event = self._publish_hit(hit, frame, snap, clip)
                if clip is not None and self.options.clip_after_s > 0:
                    before = [img for _, img in self._clip]
                    until = frame.time + self.options.clip_after_s
                    self._clips_pending.append(
                        PendingClip(event, frame.seq, frame.time, until, before, frame.time)
                    )
            if faces and self._faces is not None:
                if snap is None:
                    snap = await self._snapshot(frame, [], "face")
                for req in faces:
                    staff = await self._faces.handoff(cfg, frame, req, snap)
                    if staff is not None:
                        self.rules.face_sent(req.track.track_id, staff, frame.time)

    @property
    def tracks(self) -> list[Track]:
        """The people tracked on the last analysed frame."""
        return list(self._tracks)

    async def _pose(self, frame: Frame, moved: bool) -> dict[int, Any]:
        """The tracks' keypoint histories for the pose rules: posed again when a track is in a
        pose rule's zone and the rules are due a sample, repeated when nothing moved."""
        if self.poses is None:
            return {}
        interval = self.rules.pose_interval_s or 0.0
        due = frame.time - self._posed_at >= interval * 0.9  # sampling jitter must not skip one
        if moved and due and self._poser is not None and self.poses.wanted(frame.time, self._tracks):
            self._posed_at = frame.time
            self.poses.attach(frame.time, self._tracks, await self._poser.estimate(frame.image))
        elif not moved:
            self.poses.repeat(frame.time)
        return self.poses.histories

    async def _observe(self, frame: Frame) -> bool | None:
        """The cheap per-frame work (clip buffer, fault detectors, motion gate): whether the frame
        moved, None when no rule is active now."""
        cfg = self.cfg
        assert self._gate is not None
        self.latest = frame
        if cfg.clip_recording:
            self._remember(frame)
        thumb = frame.thumb if frame.thumb is not None else thumbnail(frame.image)
        started, cleared = self.faults.update(thumb, frame.time)
        for fault in cleared:
            self.stats.faults.discard(fault)
        for fault in started:
            self.stats.faults.add(fault)
            snapshot = await self._snapshot(frame, [], FAULT_EVENTS[fault])
            self._publish_simple(
                FAULT_EVENTS[fault],
                f"camera {cfg.name}: image {fault}",
                {"fault": fault},
                occurred_at=_dt(frame.time),
                snapshot=snapshot,
            )
            self._oversee_fault(fault, frame.time, occurred_at=_dt(frame.time), snapshot=snapshot)
        local = datetime.fromtimestamp(frame.time, UTC).astimezone(cfg.tz)
        if not active(cfg.windows, local) or not self.classes:
            return None
        # A flying camera's whole picture moves all the time: frame differences say nothing.
        if not self.options.motion_gate or self.drone is not None:
            return True
        return self._gate.check(thumb, people=self._had_people)

    async def _detect_newest(self, frame: Frame) -> tuple[Frame, list[Detection]]:
        """People in this camera's newest frame at the moment the detector takes it: a frame that
        came in while ``frame`` waited for its turn is analysed instead (and observed, so that
        faults, motion and clip stay current whatever its own gate says)."""
        chosen = frame

        def newest() -> np.ndarray:
            nonlocal chosen
            if (newer := self.source.queue.get()) is not None:
                chosen = newer
            return chosen.image

        assert self._gate is not None
        need = Need(
            self.rate.last_look, self.rate.goal_s, zone_motion=self._gate.zone_motion, soon=self._at_zone_edge
        )
        detections = await self._detector.detect(newest, need, self.classes)
        if chosen is not frame:
            self.stats.frames_superseded += 1
            await self._observe(chosen)
        return chosen, detections

    def _at_edge(self, box: tuple[float, float, float, float]) -> bool:
        feet = anchor(box)
        for polygon in self._rule_zones:
            xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
            overlaps = box[0] < max(xs) and box[2] > min(xs) and box[1] < max(ys) and box[3] > min(ys)
            if overlaps and not point_in_polygon(feet, polygon):
                return True
        return False

    # --- coverage: the analysed rate against the goal ----------------------------------------
    def _looked(self) -> float:
        gap = self.rate.look(time.time())
        self._check_rate()
        return gap

    async def _watch_rate(self) -> None:
        # A camera whose frame waits for the detector does not come back to _looked: check from here.
        while True:
            await asyncio.sleep(self.rate.goal_s / 2)
            self._check_rate()

    def _check_rate(self) -> None:
        now = time.time()
        arriving = self.source.stats.connected and now - self._frame_arrived <= self.rate.goal_s + 1.0
        if self.stats.config_error or not arriving:
            self.rate.pause(now)
            return
        change = self.rate.check(now)
        if change is None:
            return
        every, goal = round(self.rate.every(now), 1), self.rate.goal_s
        attrs = {"analysed_every_s": every, "goal_s": goal}
        if change is Change.DEGRADED:
            self.stats.faults.add("degraded")
            summary = f"camera {self.cfg.name} analysed every {every:.1f} s, goal {goal:.1f} s"
            self._publish_simple("camera_degraded", summary, attrs)
            log.warning(
                "camera %s: %s: the detector is not keeping up",
                self.cfg.id,
                summary,
                extra={"agency": self.cfg.agency},
            )
        else:
            self.stats.faults.discard("degraded")
            summary = f"camera {self.cfg.name} analysed every {every:.1f} s again, goal {goal:.1f} s"
            self._publish_simple("camera_recovered", summary, attrs)
            log.info("camera %s: %s", self.cfg.id, summary, extra={"agency": self.cfg.agency})

    def _remember(self, frame: Frame) -> None:
        image = frame.image
        h, w = image.shape[:2]
        if max(h, w) > self.options.clip_max_side:
            f = self.options.clip_max_side / max(h, w)
            image = cv2.resize(
                image, (round(w * f) // 2 * 2, round(h * f) // 2 * 2), interpolation=cv2.INTER_AREA
            )
        self._clip.append((frame.time, image))
        while self._clip and frame.time - self._clip[0][0] > self.options.clip_seconds:
            self._clip.popleft()
        for pending in self._clips_pending:
            if frame.time <= pending.until:
                pending.frames.append(image)
                pending.last = frame.time

    async def _store_clip(self, frame: Frame, kind: str) -> common_pb2.ObjectRef | None:
        return await self._put_clip([img for _, img in self._clip], frame.time, frame.seq, kind)

    async def _finish_clips(self, now: float | None) -> None:
        """Store the clips whose seconds after their event have passed (all of them, with what
        was seen until then, when ``now`` is None: the camera stops), and send each to the
        event's alert."""
        done = [p for p in self._clips_pending if now is None or now >= p.until]
        if not done:
            return
        self._clips_pending = [p for p in self._clips_pending if now is not None and now < p.until]
        for pending in done:
            original = pending.event
            clip = await self._put_clip(pending.frames, pending.at, pending.seq, f"{original.type}-around")
            if clip is None:
                continue
            after = pending.until if now is not None else min(pending.until, pending.last)
            amend = new_event(
                original.agency_id,
                original.type,
                original.source,
                occurred_at=_dt(pending.at),
                rule_id=original.rule_id,
                subject=original.subject,
                zone_id=original.zone_id,
                severity=original.severity,
                summary=original.summary,
                attributes={"clip_after_s": round(after - pending.at, 1)},
                clip=clip,
                amends=original.event_id,
            )
            self._sink.publish(amend)

    async def _put_clip(
        self, frames: list[np.ndarray], at: float, seq: int, kind: str
    ) -> common_pb2.ObjectRef | None:
        if len(frames) < 2:
            return None
        data = await asyncio.to_thread(encode_clip, frames, self.cfg.analytic_fps)
        when = datetime.fromtimestamp(at, UTC)
        key = f"clips/{self.cfg.agency}/{self.cfg.id}/{when:%Y/%m/%d/%H%M%S}-{seq}-{kind}.mp4"
        info = await self._store.put(key, data, "video/mp4")
        return common_pb2.ObjectRef(
            key=info.key, sha256=info.sha256, size_bytes=info.size, content_type="video/mp4"
        )

    def _publish_hit(
        self, hit: RuleHit, frame: Frame, snap: common_pb2.ObjectRef, clip: common_pb2.ObjectRef | None = None
    ) -> common_pb2.Event:
        fields: dict[str, Any] = {}
        if clip is not None:
            fields["clip"] = clip
        attributes: dict[str, object] = dict(hit.attributes)
        if hit.frames:
            # The frames that show it (UTC epoch seconds; the snapshot is the last, the clip
            # the buffer before it) and the people's keypoints on the snapshot, to draw.
            attributes["frames"] = [round(t, 3) for t in hit.frames]
            if self.poses is not None:
                attributes["keypoints"] = dict(self.poses.latest(t.track_id for t in hit.tracks))
        if hit.rule.severity:
            fields["severity"] = hit.rule.severity
        event = new_event(
            self.cfg.agency,
            hit.event_type,
            self._source_pb(),
            occurred_at=_dt(frame.time),
            attributes=attributes,
            rule_id=hit.rule.id,
            subject=hit.subject,
            zone_id=hit.rule.zone_id or hit.rule.line_id,
            track_ids=[t.track_id for t in hit.tracks],
            boxes=[common_pb2.Box(x1=t.box[0], y1=t.box[1], x2=t.box[2], y2=t.box[3]) for t in hit.tracks],
            location=self._location(),
            snapshot=snap,
            summary=f"{self.cfg.name}: {hit.summary}",
            **fields,
        )
        self._sink.publish(event)
        self.stats.events_published += 1
        log.info(
            "camera %s: %s (rule %s, %s)",
            self.cfg.id,
            hit.event_type,
            hit.rule.id,
            hit.subject,
            extra={"agency": self.cfg.agency, "event_id": event.event_id},
        )
        return event

    async def _snapshot(
        self, frame: Frame, boxes: list[tuple[float, float, float, float]], kind: str
    ) -> common_pb2.ObjectRef:
        return await store_jpeg(
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

    # --- health ----------------------------------------------------------------------------
    @property
    def frames_dropped(self) -> int:
        """Sampled frames never analysed because a newer frame of the camera came first."""
        return self.source.stats.frames_dropped + self.stats.frames_superseded

    def health(self) -> ingest_pb2.CameraHealth:
        s = self.source.stats
        h = ingest_pb2.CameraHealth(
            camera_id=self.cfg.id,
            connected=s.connected,
            fps_in=s.fps_in,
            fps_out=s.fps_out,
            frames_decoded=s.frames_decoded,
            frames_sampled=s.frames_sampled,
            frames_motion_skipped=self.stats.frames_motion_skipped,
            frames_inferred=self.stats.frames_inferred,
            frames_dropped=self.frames_dropped,
            decode_errors=s.decode_errors,
            reconnects=s.reconnects,
            faults=sorted(FAULT_ENUM[f] for f in self.stats.faults if f in FAULT_ENUM),
            last_error=self.stats.config_error
            or (self.vehicles.status if self.vehicles else "")
            or (self.drone.status if self.drone else "")
            or s.last_error,
            width=s.width,
            height=s.height,
            events_published=self.stats.events_published,
            analysed_every_s=round(self.rate.every(time.time()), 2),
            analysed_goal_s=self.rate.goal_s,
        )
        if s.last_frame_time:
            h.last_frame_at.FromDatetime(datetime.fromtimestamp(s.last_frame_time, UTC))
        if time.time() - s.last_frame_time > 10 and s.connected:
            h.fps_in = h.fps_out = 0.0
        return h


def encode_clip(frames: list[np.ndarray], fps: float) -> bytes:
    """The frames as a small H.264 MP4 at the analytic rate."""
    import io
    from fractions import Fraction

    import av

    h, w = frames[0].shape[:2]
    buf = io.BytesIO()
    rate = Fraction(fps).limit_denominator(1000)
    with av.open(buf, "w", format="mp4") as container:
        stream: Any = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "28"}
        for i, image in enumerate(frames):
            if image.shape[:2] != (h, w):
                continue  # resolution changed mid-buffer (reconnect): keep the clip consistent
            vf = av.VideoFrame.from_ndarray(image, format="bgr24")
            vf.pts = i
            for packet in stream.encode(vf):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)

"""A drone's video as a camera: the people, vehicles and boats of each analysed frame, tracked, sent
to the drone service (kuzet.ingest.dronefeed), which places them on the ground from the drone's
telemetry at the frame's capture time and raises the protected-area alerts.

The objects are tracked here, all classes by one tracker (one id space with the camera's other
tracks), rather than by the pipeline's people tracker: the drone service alerts once per track,
and on a flying camera everything slides across the picture at the drone's speed, faster than
anybody walks, so the reach of a track is that of a vehicle's. Only tracked objects are sent: a
single box the tracker has not confirmed places nothing worth an alert. The frame is stored with
the sent boxes drawn; it becomes the alerts' snapshot.
"""

from __future__ import annotations

from datetime import UTC, datetime

from kuzet.common.objectstore import ObjectStore
from kuzet.common.timeutil import to_timestamp
from kuzet.common.v1 import common_pb2
from kuzet.drone.v1 import drone_pb2
from kuzet.ingest.cameras import CameraCfg
from kuzet.ingest.dronefeed import DroneFeed
from kuzet.ingest.snapshots import Box, store_jpeg
from kuzet.ingest.source import Frame
from kuzet.ingest.tracking import Detection, Track, Tracker, TrackIds
from kuzet.ingest.vehicles import one_per_vehicle

OC = drone_pb2.ObjectClass
# The detector's class names the drone service knows.
OBJECT_CLASSES = {
    "person": OC.OBJECT_CLASS_PERSON,
    "car": OC.OBJECT_CLASS_CAR,
    "truck": OC.OBJECT_CLASS_TRUCK,
    "bus": OC.OBJECT_CLASS_BUS,
    "motorcycle": OC.OBJECT_CLASS_MOTORCYCLE,
    "bicycle": OC.OBJECT_CLASS_BICYCLE,
    "boat": OC.OBJECT_CLASS_BOAT,
}
DRONE_CLASSES = tuple(sorted(OBJECT_CLASSES))


class DroneCamera:
    def __init__(
        self,
        cfg: CameraCfg,
        *,
        ids: TrackIds,
        feed: DroneFeed,
        store: ObjectStore,
        min_score: float = 0.35,
        jpeg_quality: int = 85,
    ) -> None:
        self.cfg, self.feed, self._store = cfg, feed, store
        self.min_score, self.jpeg_quality = min_score, jpeg_quality
        self.tracker = Tracker(
            cfg.analytic_fps, ids=ids, reach_heights_per_s=4.0, size_ratio=2.0, min_score=min_score
        )
        self.reports = 0

    @property
    def status(self) -> str:
        return self.feed.status

    async def update(
        self, frame: Frame, detections: list[Detection], since_last_look_s: float
    ) -> list[Track]:
        """This frame's tracks, sent to the drone service when there are any."""
        people = [d for d in detections if d.class_name == "person"]
        # The detector may box one vehicle as a car and as a truck: one track, not two.
        others = one_per_vehicle(
            [d for d in detections if d.class_name in OBJECT_CLASSES and d.class_name != "person"]
        )
        tracks = self.tracker.update(people + others, frame.time, since_last_look_s=since_last_look_s)
        if not tracks:
            return tracks
        w, h = frame.width, frame.height
        boxes = [_inside(t.box, w, h) for t in tracks]
        snapshot = await store_jpeg(
            self._store,
            self.cfg.agency,
            self.cfg.id,
            at=frame.time,
            seq=frame.seq,
            kind="drone",
            image=frame.image,
            boxes=boxes,
            quality=self.jpeg_quality,
        )
        report = drone_pb2.ReportDetectionsRequest(
            drone_id=self.cfg.drone_id,
            frame_time=to_timestamp(datetime.fromtimestamp(frame.time, UTC)),
            frame_width=w,
            frame_height=h,
            frame=snapshot,
            camera_id=self.cfg.id,
        )
        for tr, (x1, y1, x2, y2) in zip(tracks, boxes, strict=True):
            report.detections.add(
                box=common_pb2.Box(x1=x1, y1=y1, x2=x2, y2=y2),
                object_class=OBJECT_CLASSES[tr.class_name],
                score=min(1.0, max(0.0, tr.score)),
                track_id=tr.track_id,
            )
        self.feed.submit(report)
        self.reports += 1
        return tracks


def _inside(box: Box, width: int, height: int) -> Box:
    """The box clipped to the frame (the drone service refuses boxes that leave it)."""
    x1, y1 = min(max(box[0], 0.0), width - 1.0), min(max(box[1], 0.0), height - 1.0)
    return (x1, y1, min(max(box[2], x1 + 1.0), float(width)), min(max(box[3], y1 + 1.0), float(height)))

"""Keypoints of tracked people for the pose rules (pose_rules.py).

A camera with pose rules asks the inference service's EstimatePoses (MoveNet MultiPose) for the
keypoints of the people on an analysed frame, when one of its tracks is inside a pose rule's
zone and the rules need a new sample (the shortest ``pose_interval_s`` of its rules): never on
cameras without pose rules, where it would double the inference cost per frame.

Each pose is attached to the CenterNet track its box overlaps most (IoU at least ``min_iou``,
each track and pose used once, best pairs first). MoveNet's people are not tracked on their
own: MoveNet scores people 0.25-0.45, under the tracker's thresholds that suit CenterNet, so
small and lying people would get no track (docs/behaviour.md, the benchmark's "tracked"
figures). Each tracked person keeps a short keypoint history; while the motion gate is closed
(nothing moved) the last skeleton of everyone posed last is repeated at the new time, as the rule engine
repeats the last tracks, so that motionless and fall keep counting on a still scene.

A fall breaks the box track (the box turns from tall to wide in a fraction of a second, too far
for the tracker), so the history follows the person, not the track: a new track whose pose
follows the last pose of a person whose track was lost at most ``handover_s`` before takes over
that person's history, and a person whose track is missing from a frame keeps its history from
the pose that follows its last one, for ``handover_s``. A pose follows another when it covers
at least ``min_follow`` of the smaller of the two boxes. Histories are keyed by the person's
id (the id of its first track); ``people`` maps each to its last track.

CenterNet may never track a person at all: one lying still from the first frame on (a cell at
night), or the second of two people in a clinch, inside the first one's box. So a camera with
pose rules is also posed every ``sweep_s`` without tracks in the zones (on frames that moved,
as all posing), and a pose in a pose rule's zone that no track and no person takes, scored at
least ``min_untracked_score``, is a person of its own: an id from the camera's track ids, its
history followed from pose to pose as a lost track's is, but through ``untracked_keep_s``
without a pose (such a person scores near MoveNet's floor and drops under it now and then),
handed to a track if one appears on it. A pose that lies mostly (``LOOSE_TRACK_COVER``) inside
a track that got no pose is that track's, loosely boxed, and makes nobody.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable, Mapping

import grpc
import numpy as np
from opentelemetry import trace

from kuzet.common.errors import Unavailable
from kuzet.common.geometry import Pt, point_in_polygon
from kuzet.common.inference.client import InferenceClient
from kuzet.common.inference.results import Box, Keypoint, Pose
from kuzet.ingest.behaviour.keypoints import KeypointHistory, Skeleton
from kuzet.ingest.detect import downscale
from kuzet.ingest.geometry import anchor, iou
from kuzet.ingest.tracking import Track, TrackIds

tracer = trace.get_tracer(__name__)

LOOSE_TRACK_COVER = 0.5


class PoseEstimator:
    """People's keypoints in camera frames through the inference service's EstimatePoses."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        *,
        max_side: int = 960,
        min_score: float = 0.1,
        timeout_s: float = 10.0,
    ) -> None:
        self._inference = InferenceClient(channel, timeout_s=timeout_s)
        self.max_side, self.min_score = max_side, min_score

    async def estimate(self, image: np.ndarray) -> list[Pose]:
        """The poses in a BGR frame, in source pixels; Unavailable when inference is down."""
        img, back = await asyncio.to_thread(downscale, image, self.max_side)
        try:
            with tracer.start_as_current_span("ingest.pose"):
                found = await self._inference.estimate_poses([img], min_score=self.min_score)
        except grpc.aio.AioRpcError as exc:
            raise Unavailable(f"inference EstimatePoses failed: {exc.code().name} {exc.details()}") from exc
        return [_scaled(p, back) for p in found[0].poses]


def _scaled(pose: Pose, f: float) -> Pose:
    b = pose.box
    return dataclasses.replace(
        pose,
        box=Box(b.x1 * f, b.y1 * f, b.x2 * f, b.y2 * f),
        keypoints=[Keypoint(k.part, k.x * f, k.y * f, k.score) for k in pose.keypoints],
    )


def attach(tracks: Iterable[Track], poses: Iterable[Pose], min_iou: float = 0.3) -> dict[int, Pose]:
    """Each track's pose: the one its box overlaps most, best pairs first, one to one."""
    poses_list, tracks = list(poses), list(tracks)
    pairs = sorted(
        (
            (overlap, i, tr.track_id)
            for i, pose in enumerate(poses_list)
            for tr in tracks
            if (overlap := iou(tr.box, (pose.box.x1, pose.box.y1, pose.box.x2, pose.box.y2))) >= min_iou
        ),
        reverse=True,
    )
    taken: set[int] = set()
    out: dict[int, Pose] = {}
    for _, i, tid in pairs:
        if i not in taken and tid not in out:
            taken.add(i)
            out[tid] = poses_list[i]
    return out


def _box(pose: Pose) -> tuple[float, float, float, float]:
    return (pose.box.x1, pose.box.y1, pose.box.x2, pose.box.y2)


def _follows(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """How much of the smaller box the other covers: a falling person's box turns from tall
    to wide within a sample or two, so consecutive boxes of one person overlap little by IoU
    (the detector's notion) but one mostly covers the other's lower part."""
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return inter / smaller if smaller > 0 else 0.0


class TrackPoses:
    """The keypoint histories of one camera's tracked people, ``span_s`` seconds each."""

    def __init__(
        self,
        span_s: float,
        zones: Iterable[tuple[Pt, ...] | None],
        ids: TrackIds,
        handover_s: float = 2.0,
        untracked_keep_s: float = 10.0,
        min_follow: float = 0.2,
        sweep_s: float = 1.0,
        min_untracked_score: float = 0.25,
    ) -> None:
        self.span_s = span_s
        self.handover_s = handover_s
        self.untracked_keep_s = untracked_keep_s
        self.min_follow = min_follow
        self.sweep_s = sweep_s
        self.min_untracked_score = min_untracked_score
        self._ids = ids
        # The pose rules' zones; None: a rule that watches the whole frame.
        self._zones = list(zones)
        self.histories: dict[int, KeypointHistory] = {}  # person id -> history
        self._person: dict[int, int] = {}  # track id -> person id
        self._last_box: dict[int, tuple[float, float, float, float]] = {}  # person id -> last pose box
        self.people: dict[int, int] = {}  # person id -> its last track
        self._tracked: set[int] = set()  # people with a track on the last frame
        self._posed_t = float("-inf")  # time of the last posed frame

    def wanted(self, t: float, tracks: Iterable[Track]) -> bool:
        """Whether any track stands in a pose rule's zone, a person's track was lost lately or
        the person never had one (its history may still go on, see ``attach``), or the zones
        are due a sweep for people without a track."""
        tracks = list(tracks)
        present = {tr.track_id for tr in tracks}
        return (
            t - self._posed_t >= self.sweep_s
            or any(self._in_zone(tr.box) for tr in tracks)
            or any(
                h.latest is not None
                and t - h.latest.t <= self._keep(pid)
                and self.people.get(pid) not in present
                for pid, h in self.histories.items()
            )
        )

    def attach(self, t: float, tracks: list[Track], poses: list[Pose]) -> None:
        self._posed_t = t
        present = {tr.track_id for tr in tracks}
        self._tracked = {pid for tid, pid in self._person.items() if tid in present}
        attached = attach(tracks, poses)
        # One track per person and frame: a track handed a person while that person's own
        # track was missed for a frame would otherwise merge two people (of a clinch) into
        # one history when both tracks are back. The older track keeps the person; the newer
        # is handed over again, or is a person of its own.
        claimed: set[int] = set()
        for tid, pose in sorted(attached.items()):
            pid = self._person.get(tid)
            if pid is None or pid in claimed:
                pid = self._person[tid] = self._handover(t, _box(pose)) or tid
            claimed.add(pid)
            self._add(pid, t, pose)
            self.people[pid] = tid
            self._tracked.add(pid)
        # A person whose track the detector missed on this frame (a lying person scores near
        # its threshold) keeps its history from a pose at its last place, for handover_s.
        used = {id(p) for p in attached.values()}
        for pid, history in self.histories.items():
            last = history.latest
            if pid in self._tracked or last is None or t - last.t > self._keep(pid):
                continue
            free = [p for p in poses if id(p) not in used]
            was = self._last_box[pid]
            best = max(free, key=lambda p: _follows(_box(p), was), default=None)
            if best is not None and _follows(_box(best), was) >= self.min_follow:
                used.add(id(best))
                self._add(pid, t, best)
        for pose in poses:
            if id(pose) not in used and self._untracked(pose, tracks, attached):
                person = self._ids.next()
                self._person[person] = person
                self._add(person, t, pose)
        self._prune(t)

    def _keep(self, pid: int) -> float:
        """How long a person without a track on the last frames keeps their history through
        frames without their pose: a lost track's, ``handover_s``; a never tracked one's, longer."""
        return self.handover_s if pid in self.people else self.untracked_keep_s

    def _in_zone(self, box: tuple[float, float, float, float]) -> bool:
        return any(zone is None or point_in_polygon(anchor(box), zone) for zone in self._zones)

    def _untracked(self, pose: Pose, tracks: list[Track], attached: Mapping[int, Pose]) -> bool:
        """Whether a pose nobody took is a person of its own: confident, in a zone, and not
        the loosely boxed pose of a track that got none."""
        box = _box(pose)
        return (
            pose.score >= self.min_untracked_score
            and self._in_zone(box)
            and not any(
                tr.track_id not in attached and _follows(box, tr.box) >= LOOSE_TRACK_COVER for tr in tracks
            )
        )

    def _add(self, pid: int, t: float, pose: Pose) -> None:
        history = self.histories.setdefault(pid, KeypointHistory(self.span_s))
        if history.latest is not None and history.latest.t >= t:
            return  # the stream went back in time (a replay): keep what is known
        history.add(Skeleton.from_pose(t, pose))
        self._last_box[pid] = _box(pose)

    def _handover(self, t: float, box: tuple[float, float, float, float]) -> int | None:
        """The person whose track was lost lately and whose last pose this one overlaps most."""
        best, most = None, 0.0
        for pid, history in self.histories.items():
            last = history.latest
            if pid in self._tracked or last is None or t - last.t > self._keep(pid):
                continue
            if (share := _follows(box, self._last_box[pid])) >= max(most, self.min_follow):
                best, most = pid, share
        return best

    def repeat(self, t: float) -> None:
        """Nothing moved since the last frame: every person posed at the last posing (or held
        since) holds its last skeleton at t, tracked or not; a lying person whose new track
        has not activated yet must keep counting towards motionless and fall."""
        for history in self.histories.values():
            if (last := history.latest) is not None and self._posed_t <= last.t < t:
                history.add(dataclasses.replace(last, t=t))
        self._prune(t)

    def _prune(self, t: float) -> None:
        gone = {k for k, h in self.histories.items() if h.latest is None or t - h.latest.t > self.span_s}
        for pid in gone:
            del self.histories[pid]
            self._last_box.pop(pid, None)
            self.people.pop(pid, None)
        for tid in [k for k, pid in self._person.items() if pid in gone]:
            del self._person[tid]

    def latest(self, track_ids: Iterable[int]) -> Mapping[str, list[list[float]]]:
        """The newest keypoints (x, y, score; COCO order) of the tracks that have them, by id."""
        out = {}
        for tid in track_ids:
            history = self.histories.get(self._person.get(tid, -1))
            if history is not None and (last := history.latest) is not None:
                out[str(tid)] = [
                    [round(float(v), 1 if j < 2 else 2) for j, v in enumerate(p)] for p in last.points
                ]
        return out

"""Behaviour rules (issue #19) on the labelled clip set: per rule precision, recall and false
alarms per camera-hour, with the previous box-based person-down rule as the baseline.

The clips (kuzet.ingest.testing.clips; docs/behaviour.md, "The labelled clip set") are people
cut out of a real photo, posed and moved over a drawn cell or yard: falls, a person lying still
at night, suspended with the feet above the floor line, rising across a fence with the arms up,
two people within reach throwing blows, each with look-alike negatives, and 30 minutes of normal
activity (people walking, standing, passing each other) for the false alarms.

Each analysed frame goes through the shipped MoveNet MultiPose in the inference service's
embedded onnxruntime backend (InferenceEngine.estimate_poses, what EstimatePoses runs); its
people are tracked by ingest's tracker (kuzet.ingest.tracking.Tracker, fed MoveNet's person
boxes) and each track's keypoints feed the five rules (kuzet.ingest.behaviour) with the scene's
calibration lines and default thresholds (motionless: 10 min between 22:00 and 06:00; 60 s in
--quick). The same rules also run on the clips' true keypoints ("true keypoints" column): what
the rules and labels give without the model's errors.

With --live the rules also run on the live pipeline's path: ingest's tracker over CenterNet's
boxes, MoveNet's poses attached to the tracks, histories per person (kuzet.ingest.poses), as
ingest runs them on a camera with pose rules ("live_pipeline" in the results).

Baseline: person_down as ingest ran it before pose (a tracked CenterNet box wider than tall for
3 s; ingest no longer has it, this benchmark keeps it), on the fall clips and the normal
clips (CenterNet every other frame on the fall clips, every 4th on the normal clips: 2.5 and
0.5 fps, as its cost is ~3x MoveNet's on this CPU).

Scoring: an event is a "started" event; it matches a label of its rule when it overlaps the
label's time (+-2 s) and one of its tracks is a labelled person (the track's box against the
rendered person's box). recall = labels matched / labels; precision = matching events / events
on the positive and negative clips; false alarms per camera-hour = events of any rule on the
normal clips / their hours.

    python bench/behaviour.py            # 60 clips, ~8,000 frames (~15-20 min on 2 loaded cores)
    python bench/behaviour.py --quick    # 11 clips, one positive and one negative per rule (~1 min)
    python bench/behaviour.py --write DIR   # also writes the labels (JSON) and the clips (MP4)
    python bench/behaviour.py --quick --live   # and the live pipeline's path beside the others

Writes bench/results/behaviour.json: recall_min, precision_min (lowest over the rules; goal
>= 0.8 each), false_alarms_per_camera_hour (goal <= 0.5), pose_ms_per_frame (CPU), per rule
figures, the baseline's and the true-keypoint run's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from kuzet.common.inference.results import Box, Pose
from kuzet.inference.backends.embedded import EmbeddedBackend
from kuzet.inference.catalog import load_catalog
from kuzet.inference.engine import EngineOptions, InferenceEngine
from kuzet.ingest.behaviour import Skeleton
from kuzet.ingest.geometry import iou
from kuzet.ingest.poses import TrackPoses
from kuzet.ingest.testing.clips import Clip, ClipSet, Frame, clip_set, render, write_labels, write_mp4
from kuzet.ingest.testing.clips.evaluate import (
    RULES,
    ClipRun,
    Detection,
    RuleScore,
    actor_at,
    score,
    truth_skeletons,
)
from kuzet.ingest.tracking import Detection as TrackerInput
from kuzet.ingest.tracking import Track, Tracker, TrackIds

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "behaviour.json"
GOAL = {"recall_min": 0.8, "precision_min": 0.8, "false_alarms_per_camera_hour": 0.5}
# A pose is its track's when their boxes overlap this much; a track is a rendered person's too.
MATCH_IOU = 0.3
POSE_TRACK_MIN_SCORE = 0.2


def xyxy(box: Box) -> tuple[float, float, float, float]:
    return (box.x1, box.y1, box.x2, box.y2)


def actors_of(tracks: list[Track], frame: Frame) -> dict[int, int | None]:
    """Each track's rendered person (best box overlap), None when it overlaps none."""
    return {tr.track_id: actor_at(tr.box, frame, MATCH_IOU) for tr in tracks}


class Baseline:
    """Ingest's person_down before pose (removed from ingest; kept here as the baseline): CenterNet
    boxes, ingest's tracker, and a track whose box is wider than tall (``Track.lying``) for 3 s
    fires once per time down."""

    DWELL_S = 3.0

    def __init__(self, clip: Clip, every: int) -> None:
        self.clip, self.every = clip, every
        self.tracker = Tracker(clip.fps / every)
        self.detections: list[Detection] = []
        self._down_since: dict[int, float] = {}
        self._fired: set[int] = set()

    async def look(self, engine: InferenceEngine, frame: Frame) -> None:
        if frame.index % self.every:
            return
        _, (found,) = await engine.detect_objects([frame.image], min_score=0.35, classes=["person"])
        people = [TrackerInput(xyxy(o.box), o.score) for o in found.objects]
        tracks = self.tracker.update(people, frame.t, since_last_look_s=self.every / self.clip.fps)
        actors = actors_of(tracks, frame)
        for tr in tracks:
            if not tr.lying:
                self._down_since.pop(tr.track_id, None)
                self._fired.discard(tr.track_id)
                continue
            down = frame.t - self._down_since.setdefault(tr.track_id, frame.t)
            if down < self.DWELL_S or tr.track_id in self._fired:
                continue
            self._fired.add(tr.track_id)
            t = frame.t - self.clip.start
            self.detections.append(Detection("fall", t - down, t, (actors.get(tr.track_id),)))


class PoseRun:
    """MoveNet on every analysed frame, its keypoints feeding the clip's rules twice: each pose
    as the rendered person its box overlaps (``matched``: tracking left out), and each pose as
    the track of ingest's tracker over MoveNet's boxes its box overlaps (``tracked``)."""

    def __init__(self, clip: Clip, hold_s: float, live: bool = False) -> None:
        self.clip = clip
        self.matched = ClipRun(clip, hold_s)
        self.tracked = ClipRun(clip, hold_s)
        # The live pipeline's path (``--live``): ingest's tracker over CenterNet's boxes (started
        # from 0.3, as on cameras with pose rules), each pose attached to its track, histories per
        # person (kuzet.ingest.poses.TrackPoses).
        self.live = ClipRun(clip, hold_s) if live else None
        ids = TrackIds()
        self.live_tracker = Tracker(clip.fps, ids=ids, activation=0.3)
        self.live_poses = TrackPoses(self.live.span_s if self.live else 30.0, [None], ids)
        # MoveNet scores a person lower than CenterNet does (lying: 0.26-0.29, where the tracker's
        # default floor of 0.3 is set for CenterNet): keep them, so a track lives on when its
        # person falls (new tracks still need ByteTrack's 0.4).
        self.tracker = Tracker(clip.fps, min_score=POSE_TRACK_MIN_SCORE)

    async def look(self, engine: InferenceEngine, frame: Frame, pose_ms: list[float]) -> None:
        start = time.perf_counter()
        _, (found,) = await engine.estimate_poses([frame.image])
        pose_ms.append((time.perf_counter() - start) * 1000)
        people: dict[int, Skeleton] = {}
        for pose in found.poses:  # best first
            actor = actor_at(xyxy(pose.box), frame, MATCH_IOU)
            if actor is not None and actor not in people:
                people[actor] = Skeleton.from_pose(frame.t, pose)
        self.matched.feed(frame.t, people, {k: k for k in people})
        boxes = [TrackerInput(xyxy(p.box), p.score) for p in found.poses]
        tracks = self.tracker.update(boxes, frame.t, since_last_look_s=1 / self.clip.fps)
        skeletons: dict[int, Skeleton] = {}
        free = list(found.poses)
        for tr in tracks:
            best = max(free, key=lambda p: iou(tr.box, xyxy(p.box)), default=None)
            if best is not None and iou(tr.box, xyxy(best.box)) >= MATCH_IOU:
                free.remove(best)
                skeletons[tr.track_id] = Skeleton.from_pose(frame.t, best)
        self.tracked.feed(frame.t, skeletons, actors_of(tracks, frame))
        if self.live is not None:
            await self._live(engine, frame, found.poses)

    async def _live(self, engine: InferenceEngine, frame: Frame, poses: list[Pose]) -> None:
        assert self.live is not None
        _, (boxes,) = await engine.detect_objects([frame.image], min_score=0.3, classes=["person"])
        people = [TrackerInput(xyxy(o.box), o.score) for o in boxes.objects]
        tracks = self.live_tracker.update(people, frame.t, since_last_look_s=1 / self.clip.fps)
        self.live_poses.attach(frame.t, tracks, poses)
        fresh = {
            pid: h.latest
            for pid, h in self.live_poses.histories.items()
            if h.latest is not None and h.latest.t == frame.t
        }
        actors = actors_of(tracks, frame)
        # A person without a track on this frame (a lying person CenterNet missed, whose history
        # goes on from a pose) is the actor its pose overlaps.
        actor_of: dict[int, int | None] = {}
        for pid, sk in fresh.items():
            actor = actors.get(self.live_poses.people.get(pid, -1))
            actor_of[pid] = actor if actor is not None else _pose_actor(sk, poses, frame)
        self.live.feed(frame.t, fresh, actor_of)


def _pose_actor(sk: Skeleton, poses: list[Pose], frame: Frame) -> int | None:
    """The rendered person the pose that made ``sk`` overlaps."""
    for pose in poses:
        if np.array_equal(Skeleton.from_pose(sk.t, pose).points, sk.points):
            return actor_at(xyxy(pose.box), frame, MATCH_IOU)
    return None


async def evaluate(clips: ClipSet, threads: int, pose_side: int, live: bool = False) -> dict[str, Any]:
    catalog = load_catalog()
    backend = EmbeddedBackend(
        [catalog.models["movenet"], catalog.models["centernet"]], intra_op_threads=threads
    )
    await backend.start()
    engine = InferenceEngine(catalog, backend, EngineOptions(pose_max_side=pose_side))
    found: dict[str, dict[str, list[Detection]]] = {
        "matched": {},
        "tracked": {},
        "truth": {},
        "baseline": {},
        "live": {},
    }
    pose_ms: list[float] = []
    frames = 0
    started = time.perf_counter()
    try:
        for clip in clips.clips:
            run = PoseRun(clip, clips.motionless_hold_s, live)
            oracle = ClipRun(clip, clips.motionless_hold_s)
            base = None
            if clip.rule == "fall" or clip.purpose == "normal":
                base = Baseline(clip, 2 if clip.purpose != "normal" else 4)
            for frame in render(clip):
                frames += 1
                await run.look(engine, frame, pose_ms)
                true = truth_skeletons(frame, clip.width, clip.height)
                oracle.feed(frame.t, true, {k: k for k in true})
                if base is not None:
                    await base.look(engine, frame)
            found["matched"][clip.name] = run.matched.detections
            found["tracked"][clip.name] = run.tracked.detections
            if run.live is not None:
                found["live"][clip.name] = run.live.detections
            found["truth"][clip.name] = oracle.detections
            if base is not None:
                found["baseline"][clip.name] = base.detections
            print(
                f"  {clip.name:<24} {clip.frame_count:>5} frames  events: "
                f"{', '.join(d.rule for d in run.matched.detections) or '-'}  "
                f"(tracked: {', '.join(d.rule for d in run.tracked.detections) or '-'})",
                file=sys.stderr,
            )
    finally:
        await backend.close()
    return {
        "scores": {
            "matched": score(clips, found["matched"]),
            "tracked": score(clips, found["tracked"]),
            "truth": score(clips, found["truth"]),
            "baseline": score(clips, found["baseline"], ("fall",)),
            **({"live": score(clips, found["live"])} if live else {}),
        },
        "pose_ms": pose_ms,
        "frames": frames,
        "seconds": time.perf_counter() - started,
        "detections": found["matched"],
    }


def lowest(values: list[float | None]) -> float | None:
    seen = [v for v in values if v is not None]
    return round(min(seen), 3) if seen else None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--write", type=Path, help="also write the labels and the clips (MP4) into this folder")
    p.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    p.add_argument(
        "--pose-side",
        type=int,
        default=256,
        help="MoveNet input, longest side (the inference service's default: 256)",
    )
    p.add_argument(
        "--live",
        action="store_true",
        help="also run the live pipeline's path: CenterNet tracks with MoveNet poses attached (poses.py)",
    )
    opts = p.parse_args()
    clips = clip_set(quick=opts.quick)
    if opts.write:
        write_labels(clips, opts.write / "labels.json")
        for clip in clips.clips:
            if clip.fps == round(clip.fps):
                write_mp4(clip, opts.write / f"{clip.name}.mp4")
    out = asyncio.run(evaluate(clips, opts.threads, opts.pose_side, opts.live))
    hours = clips.normal_hours
    scores: dict[str, dict[str, RuleScore]] = out["scores"]

    def summary(by_rule: dict[str, RuleScore]) -> dict[str, Any]:
        return {
            "recall_min": lowest([s.recall for s in by_rule.values()]),
            "precision_min": lowest([s.precision for s in by_rule.values()]),
            "false_alarms_per_camera_hour": round(sum(s.normal_events for s in by_rule.values()) / hours, 2),
            "rules": {r: s.to_json(hours) for r, s in by_rule.items()},
        }

    head = summary(scores["matched"])
    result: dict[str, Any] = {
        "benchmark": "behaviour",
        "quick": opts.quick,
        "cpu_count": os.cpu_count(),
        "cpu_shared": True,
        "clips": len(clips.clips),
        "frames": out["frames"],
        "labels": sum(len(c.labels) for c in clips.clips),
        "normal_camera_hours": round(hours, 3),
        "motionless_hold_s": clips.motionless_hold_s,
        "association": "each MoveNet pose is the rendered person its box overlaps (tracking left out)",
        "recall_min": head["recall_min"],
        "precision_min": head["precision_min"],
        "false_alarms_per_camera_hour": head["false_alarms_per_camera_hour"],
        "pose_max_side": opts.pose_side,
        "pose_ms_per_frame": round(statistics.median(out["pose_ms"]), 1),
        "pose_ms_per_frame_p95": round(sorted(out["pose_ms"])[int(0.95 * (len(out["pose_ms"]) - 1))], 1),
        "rules": head["rules"],
        "baseline_person_down_box": scores["baseline"]["fall"].to_json(hours),
        "with_ingest_tracker": {
            "association": "ingest's tracker (ByteTrack) over MoveNet's person boxes, min_score 0.2",
            **summary(scores["tracked"]),
        },
        "true_keypoints": {"association": "the rendered people's true keypoints", **summary(scores["truth"])},
        **(
            {
                "live_pipeline": {
                    "association": "ingest's live path: tracker over CenterNet boxes (from 0.3), MoveNet "
                    "poses attached to the tracks, histories per person (kuzet.ingest.poses)",
                    **summary(scores["live"]),
                }
            }
            if opts.live
            else {}
        ),
        "events": {
            name: [
                {
                    "rule": d.rule,
                    "start_s": round(d.start, 1),
                    "end_s": round(d.end, 1),
                    "actors": list(d.actors),
                }
                for d in events
            ]
            for name, events in out["detections"].items()
            if events
        },
        "goal": GOAL,
        "run_seconds": round(out["seconds"], 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    result["goal_met"] = {
        "recall_min": (result["recall_min"] or 0) >= GOAL["recall_min"],
        "precision_min": (result["precision_min"] or 0) >= GOAL["precision_min"],
        "false_alarms_per_camera_hour": result["false_alarms_per_camera_hour"]
        <= GOAL["false_alarms_per_camera_hour"],
    }

    def cell(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f}"

    def row(s: RuleScore) -> str:
        return f"{s.labels:>3} {cell(s.recall):>6} {cell(s.precision):>6} {s.normal_events / hours:>6.2f}"

    print(f"\nCPU: {os.cpu_count()} cores shared with other work (load average {os.getloadavg()[0]:.1f})")
    print(f"{len(clips.clips)} clips, {out['frames']} frames, {hours * 60:.0f} min of normal activity")
    print("columns per run: labels, recall, precision, false alarms per camera-hour\n")
    print(f"{'rule':<11} {'MoveNet, matched':>24} {'MoveNet, tracked':>24} {'true keypoints':>24}")
    for r in RULES:
        print(
            f"{r:<11} {row(scores['matched'][r]):>24} {row(scores['tracked'][r]):>24} {row(scores['truth'][r]):>24}"
        )
    print(
        f"{'fall (box)':<11} {row(scores['baseline']['fall']):>24}   baseline: CenterNet box wider than tall 3 s"
    )
    if opts.live:
        print(f"\n{'rule':<11} {'live pipeline path':>24}")
        for r in RULES:
            print(f"{r:<11} {row(scores['live'][r]):>24}")
    print(
        f"\nrecall_min {result['recall_min']}, precision_min {result['precision_min']}, false alarms per "
        f"camera-hour {result['false_alarms_per_camera_hour']} (goals >= 0.8, >= 0.8, <= 0.5; MoveNet, "
        f"matched); MoveNet {result['pose_ms_per_frame']} ms per 640x360 frame (input {opts.pose_side} px, "
        f"median, {opts.threads} threads)"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"-> {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

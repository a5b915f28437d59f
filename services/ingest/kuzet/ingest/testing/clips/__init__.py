"""The labelled behaviour clip set (issue #19, "Evaluation, honestly"; docs/behaviour.md, "The
labelled clip set").

No labelled prison footage is public, so the clips are composed: people cut out of a real street
photo (figures.py) are posed, moved and tilted over a drawn cell or yard (scenes.py) following
seeded scripts, one per behaviour and its look-alikes (catalogue.py). Every frame comes with
the true box and keypoints of each person in it, every clip with its labels (rule, start, end,
who) and the scene's calibration lines.

    clips = clip_set(quick=True)
    for frame in render(clips.clips[0]): ...      # numpy BGR frames, analysed rate
    write_labels(clips, out / "labels.json")
    write_mp4(clips.clips[0], out / "fall-positive-1.mp4")   # for RTSP scenario tests
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from kuzet.ingest.testing.clips.catalogue import NIGHT_HOURS, ClipSet, clip_set
from kuzet.ingest.testing.clips.scenes import Clip, Frame, Label, lines, render
from kuzet.ingest.testing.videotest import encode_frames

__all__ = [
    "NIGHT_HOURS",
    "Clip",
    "ClipSet",
    "Frame",
    "Label",
    "clip_set",
    "lines",
    "render",
    "write_labels",
    "write_mp4",
]


def write_labels(clips: ClipSet, path: Path) -> Path:
    """The set's clips, labels and calibration as JSON, beside the clips."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(clips.to_json(), indent=1) + "\n")
    return path


def write_mp4(clip: Clip, path: Path, *, lead_in_s: float = 0.0) -> Path:
    """The clip as H.264 at its analysed rate (an RTSP server replays it as a camera), after
    ``lead_in_s`` seconds of its first frame: an RTSP server sends the first seconds of a file
    in a burst, faster than real time, and a camera drops what it cannot analyse."""
    fps = round(clip.fps)
    if fps != clip.fps or fps < 1:
        raise ValueError(f"an MP4 needs a whole frame rate >= 1, the clip is analysed at {clip.fps}")
    rendered = render(clip)
    first = next(rendered).image
    frames = itertools.chain(itertools.repeat(first, 1 + round(lead_in_s * fps)), (f.image for f in rendered))
    return encode_frames(frames, path, width=clip.width, height=clip.height, fps=fps, gop=fps)

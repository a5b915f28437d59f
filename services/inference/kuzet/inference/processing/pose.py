"""MoveNet MultiPose: up to 6 people, 17 COCO keypoints each, mapped back to source pixels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kuzet.common.inference.results import BODY_PARTS, Box, Keypoint, Pose
from kuzet.inference.processing.geometry import Resize, fit_within, letterbox_into, round_up

INPUT_NAME = "input"
OUTPUT_NAME = "output_0"
DEFAULT_MAX_SIDE = 256
DEFAULT_MIN_SCORE = 0.25


def prepare(
    images: Sequence[np.ndarray], max_side: int = DEFAULT_MAX_SIDE
) -> tuple[dict[str, np.ndarray], list[Resize]]:
    """BGR images -> uint8 NHWC RGB (the graph casts to int32), fitted within max_side and padded
    to multiples of 32."""
    sizes = [fit_within(im.shape[1], im.shape[0], max_side) for im in images]
    out_w = round_up(max(w for w, _ in sizes), 32)
    out_h = round_up(max(h for _, h in sizes), 32)
    batch = np.zeros((len(images), out_h, out_w, 3), np.uint8)
    placements = []
    for i, (image, (w, h)) in enumerate(zip(images, sizes, strict=True)):
        placements.append(letterbox_into(batch[i], image, w, h, to_rgb=True))
    return {INPUT_NAME: batch}, placements


def decode(
    people: np.ndarray,
    input_hw: tuple[int, int],
    placement: Resize,
    source_size: tuple[int, int],
    min_score: float,
) -> list[Pose]:
    """One image's (6, 56) rows -> poses above min_score in source pixels, best first.

    Each row: 17 x (y, x, score) normalised to the model input, then ymin, xmin, ymax, xmax, score.
    """
    in_h, in_w = input_hw
    w, h = source_size
    poses = []
    for row in people.reshape(-1, 56):
        score = float(row[55])
        if score < min_score:
            continue
        kp = row[:51].reshape(17, 3)
        xy = placement.to_source(np.stack([kp[:, 1] * in_w, kp[:, 0] * in_h], axis=1))
        ymin, xmin, ymax, xmax = row[51:55]
        corners = placement.to_source(np.array([[xmin * in_w, ymin * in_h], [xmax * in_w, ymax * in_h]]))
        x1, x2 = np.clip(corners[:, 0], 0, w)
        y1, y2 = np.clip(corners[:, 1], 0, h)
        keypoints = [
            Keypoint(part, float(x), float(y), float(s))
            for part, (x, y), s in zip(BODY_PARTS, xy, kp[:, 2], strict=True)
        ]
        poses.append(Pose(Box(float(x1), float(y1), float(x2), float(y2)), score, keypoints))
    poses.sort(key=lambda p: -p.score)
    return poses

"""CenterNet (MobileNetV3, COCO) people and vehicle detection: letterbox in, boxes in source pixels out."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from kuzet.common.inference.results import Box, DetectedObject
from kuzet.inference.processing.geometry import Resize, fit_within, letterbox_into, nms

INPUT_NAME = "tower_0/images:0"
OUTPUT_NAME = "tower_0/detections"
INPUT_SIZE = 512
DEFAULT_MIN_SCORE = 0.35
# The graph keeps overlapping peaks of one object (e.g. two boxes on one bus).
NMS_IOU = 0.5

# COCO class ids (0-based, as the graph emits them) of the classes Kuzet reports.
COCO_CLASSES = {0: "person", 1: "bicycle", 2: "car", 3: "motorcycle", 5: "bus", 7: "truck", 8: "boat"}
CLASS_NAMES = tuple(COCO_CLASSES.values())


def prepare(images: Sequence[np.ndarray]) -> tuple[dict[str, np.ndarray], list[Resize]]:
    """BGR images -> uint8 RGB NHWC 512x512, letterboxed (aspect kept: better recall here).

    The graph casts to float 0-255 itself (0-1 input gives garbage)."""
    batch = np.zeros((len(images), INPUT_SIZE, INPUT_SIZE, 3), np.uint8)
    placements = []
    for i, image in enumerate(images):
        h, w = image.shape[:2]
        cw, ch = fit_within(w, h, INPUT_SIZE) if max(w, h) >= INPUT_SIZE else _upscale(w, h)
        placements.append(letterbox_into(batch[i], image, cw, ch, to_rgb=True))
    return {INPUT_NAME: batch}, placements


def _upscale(w: int, h: int) -> tuple[int, int]:
    # Small frames are scaled up to fill the input: the model was trained on 512-px images.
    scale = INPUT_SIZE / max(w, h)
    return min(INPUT_SIZE, round(w * scale)), min(INPUT_SIZE, round(h * scale))


def decode(
    detections: np.ndarray,
    placement: Resize,
    source_size: tuple[int, int],
    min_score: float,
    classes: Collection[str] = CLASS_NAMES,
) -> list[DetectedObject]:
    """One image's (100, 6) rows x1,y1,x2,y2,score,class -> objects in source pixels, best first."""
    rows = detections.reshape(-1, 6)
    class_ids = rows[:, 5].astype(np.int64)
    wanted = np.array([COCO_CLASSES.get(int(c)) in classes for c in class_ids], dtype=bool)
    rows = rows[wanted & (rows[:, 4] >= min_score)]
    if not len(rows):
        return []
    w, h = source_size
    corners = placement.to_source(rows[:, :4].reshape(-1, 2, 2)).reshape(-1, 4)
    corners[:, [0, 2]] = np.clip(corners[:, [0, 2]], 0, w)
    corners[:, [1, 3]] = np.clip(corners[:, [1, 3]], 0, h)
    out: list[DetectedObject] = []
    for class_id in np.unique(rows[:, 5].astype(np.int64)):
        of_class = np.flatnonzero(rows[:, 5].astype(np.int64) == class_id)
        for k in of_class[nms(corners[of_class], rows[of_class, 4], NMS_IOU)]:
            x1, y1, x2, y2 = (float(v) for v in corners[k])
            if x2 > x1 and y2 > y1:
                out.append(
                    DetectedObject(Box(x1, y1, x2, y2), float(rows[k, 4]), COCO_CLASSES[int(class_id)])
                )
    out.sort(key=lambda o: -o.score)
    return out

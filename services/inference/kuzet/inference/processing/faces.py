"""YuNet face detection: BGR in, boxes and five landmarks in source pixels out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from kuzet.common.inference.results import Box, DetectedFace
from kuzet.inference.processing.geometry import Resize, fit_within, letterbox_into, nms, round_up

INPUT_NAME = "input"
STRIDES = (8, 16, 32)
OUTPUT_NAMES = [f"{head}_{s}" for head in ("cls", "obj", "bbox", "kps") for s in STRIDES]
DEFAULT_MIN_SCORE = 0.75
NMS_IOU = 0.3
DEFAULT_MAX_SIDE = 640


def prepare(
    images: Sequence[np.ndarray], max_side: int = DEFAULT_MAX_SIDE
) -> tuple[dict[str, np.ndarray], list[Resize]]:
    """BGR images -> uint8 NHWC BGR (the graph casts and transposes to NCHW float), each fitted
    within max_side; the batch is padded to the largest (multiple of 32) so images of different
    sizes share one execution."""
    sizes = [fit_within(im.shape[1], im.shape[0], max_side) for im in images]
    out_w = round_up(max(w for w, _ in sizes), 32)
    out_h = round_up(max(h for _, h in sizes), 32)
    batch = np.zeros((len(images), out_h, out_w, 3), np.uint8)
    placements = []
    for i, (image, (w, h)) in enumerate(zip(images, sizes, strict=True)):
        placements.append(letterbox_into(batch[i], image, w, h))
    return {INPUT_NAME: batch}, placements


def decode(
    outputs: Mapping[str, np.ndarray],
    index: int,
    input_hw: tuple[int, int],
    placement: Resize,
    source_size: tuple[int, int],
    min_score: float,
    max_faces: int = 0,
) -> list[DetectedFace]:
    """Faces of batch item ``index`` (input of size input_hw) in source pixels, best first."""
    in_w = input_hw[1]
    boxes, scores, marks = [], [], []
    for s in STRIDES:
        cols = in_w // s
        cls = np.clip(outputs[f"cls_{s}"][index, :, 0], 0, 1)
        obj = np.clip(outputs[f"obj_{s}"][index, :, 0], 0, 1)
        score = np.sqrt(cls * obj)
        hit = np.flatnonzero(score >= min_score)
        if not hit.size:
            continue
        col = (hit % cols).astype(np.float32)
        row = (hit // cols).astype(np.float32)
        bbox = outputs[f"bbox_{s}"][index, hit]
        cx = (col + bbox[:, 0]) * s
        cy = (row + bbox[:, 1]) * s
        bw = np.exp(bbox[:, 2]) * s
        bh = np.exp(bbox[:, 3]) * s
        boxes.append(np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1))
        kps = outputs[f"kps_{s}"][index, hit].reshape(-1, 5, 2)
        marks.append(np.stack([(col[:, None] + kps[..., 0]) * s, (row[:, None] + kps[..., 1]) * s], axis=2))
        scores.append(score[hit])
    if not boxes:
        return []
    all_boxes = np.concatenate(boxes)
    all_scores = np.concatenate(scores)
    all_marks = np.concatenate(marks)
    keep = nms(all_boxes, all_scores, NMS_IOU)
    if max_faces > 0:
        keep = keep[:max_faces]
    w, h = source_size
    src_boxes = placement.to_source(all_boxes[keep].reshape(-1, 2, 2)).reshape(-1, 4)
    src_boxes[:, [0, 2]] = np.clip(src_boxes[:, [0, 2]], 0, w)
    src_boxes[:, [1, 3]] = np.clip(src_boxes[:, [1, 3]], 0, h)
    src_marks = placement.to_source(all_marks[keep])
    return [
        DetectedFace(
            Box(*(float(v) for v in src_boxes[j])),
            float(all_scores[k]),
            [(float(x), float(y)) for x, y in src_marks[j]],
        )
        for j, k in enumerate(keep)
    ]

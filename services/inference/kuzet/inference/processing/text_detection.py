"""PP-OCRv4 text detection (DB, differentiable binarisation): BGR in, rotated text boxes in source
pixels out. Pre- and post-processing follow PaddleOCR's DetResizeForTest, NormalizeImage and
DBPostProcess with the settings RapidOCR ships (threshold 0.3, box score 0.5, unclip 1.6,
dilation on, "fast" score)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kuzet.inference.opencv import cv2
from kuzet.inference.processing.geometry import Resize, letterbox_into, round_up

INPUT_NAME = "x"
OUTPUT_NAME = "sigmoid_0.tmp_0"
# Longest side of the detector input: vehicle crops and plates are scaled up to it (small text is
# found far better at this scale), whole frames down.
DEFAULT_SIDE = 640
DEFAULT_MIN_SCORE = 0.5
# Probability above which a pixel is text.
_BINARY_THRESHOLD = 0.3
_UNCLIP_RATIO = 1.6
_MIN_SIDE = 3
_MAX_CANDIDATES = 1000
# ImageNet statistics applied to BGR channels in this order, as PaddleOCR does.
_MEAN = np.array([0.485, 0.456, 0.406], np.float32) * 255
_STD = np.array([0.229, 0.224, 0.225], np.float32) * 255
_DILATE = np.ones((2, 2), np.uint8)


@dataclass(frozen=True)
class TextRegion:
    """A text line: four corners in source pixels (top left, top right, bottom right, bottom
    left) and the detector's score."""

    corners: np.ndarray
    score: float


def _input_size(width: int, height: int, side: int) -> tuple[int, int]:
    scale = side / max(width, height)
    return max(32, round_up(round(width * scale), 32)), max(32, round_up(round(height * scale), 32))


def prepare(
    images: Sequence[np.ndarray], side: int = DEFAULT_SIDE
) -> tuple[dict[str, np.ndarray], list[Resize]]:
    """BGR images -> float32 NCHW normalised, each scaled so its longest side is ``side`` (sides
    multiples of 32); the batch is padded right/bottom to the largest."""
    sizes = [_input_size(im.shape[1], im.shape[0], side) for im in images]
    out_w = max(w for w, _ in sizes)
    out_h = max(h for _, h in sizes)
    canvas = np.zeros((len(images), out_h, out_w, 3), np.uint8)
    placements = [
        letterbox_into(canvas[i], im, w, h) for i, (im, (w, h)) in enumerate(zip(images, sizes, strict=True))
    ]
    batch = (canvas.astype(np.float32) - _MEAN) / _STD
    # Padding is zero after normalisation (the mean colour), as PaddleOCR pads.
    for i, p in enumerate(placements):
        batch[i, p.height :, :] = 0
        batch[i, :, p.width :] = 0
    return {INPUT_NAME: np.ascontiguousarray(batch.transpose(0, 3, 1, 2))}, placements


def _ordered(points: np.ndarray) -> np.ndarray:
    """Four corners as top left, top right, bottom right, bottom left."""
    by_x = points[np.argsort(points[:, 0], kind="stable")]
    left, right = by_x[:2], by_x[2:]
    tl, bl = left[np.argsort(left[:, 1], kind="stable")]
    tr, br = right[np.argsort(right[:, 1], kind="stable")]
    return np.array([tl, tr, br, bl], np.float32)


def _box_score(prob: np.ndarray, corners: np.ndarray) -> float:
    """Mean text probability inside the box."""
    h, w = prob.shape
    x0, y0 = np.clip(np.floor(corners.min(axis=0)).astype(int), 0, [w - 1, h - 1])
    x1, y1 = np.clip(np.ceil(corners.max(axis=0)).astype(int), 0, [w - 1, h - 1])
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    cv2.fillPoly(mask, [np.round(corners - [x0, y0]).astype(np.int32)], 1)
    return float(cv2.mean(prob[y0 : y1 + 1, x0 : x1 + 1], mask)[0])


_Rect = tuple[Sequence[float], Sequence[float], float]


def _unclipped(rect: _Rect) -> tuple[np.ndarray, float]:
    """The rectangle grown on every side by area * ratio / perimeter (PaddleOCR offsets the box
    polygon with rounded joins; for a rectangle the minimum-area box of that is exactly this)."""
    (cx, cy), (w, h), angle = rect
    grow = w * h * _UNCLIP_RATIO / max(2 * (w + h), 1e-6)
    grown = ((cx, cy), (w + 2 * grow, h + 2 * grow), angle)
    return _ordered(cv2.boxPoints(grown)), min(w, h) + 2 * grow


def decode(
    prob_map: np.ndarray, placement: Resize, source_size: tuple[int, int], min_score: float
) -> list[TextRegion]:
    """One image's (1, H, W) probability map -> text regions in source pixels, best first."""
    prob = prob_map.reshape(prob_map.shape[-2:])[: placement.height, : placement.width]
    bitmap = cv2.dilate((prob > _BINARY_THRESHOLD).astype(np.uint8), _DILATE)
    contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    w, h = source_size
    regions = []
    for contour in contours[:_MAX_CANDIDATES]:
        rect = cv2.minAreaRect(contour)
        if min(rect[1]) < _MIN_SIDE:
            continue
        score = _box_score(prob, _ordered(cv2.boxPoints(rect)))
        if score < min_score:
            continue
        corners, short_side = _unclipped(rect)
        if short_side < _MIN_SIDE + 2:
            continue
        corners = placement.to_source(corners)
        corners[:, 0] = np.clip(corners[:, 0], 0, w)
        corners[:, 1] = np.clip(corners[:, 1], 0, h)
        if min(np.linalg.norm(corners[0] - corners[1]), np.linalg.norm(corners[0] - corners[3])) <= _MIN_SIDE:
            continue
        regions.append(TextRegion(corners, score))
    regions.sort(key=lambda r: -r.score)
    return regions

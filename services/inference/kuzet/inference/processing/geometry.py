"""Resizing with a recorded transform, and non-maximum suppression."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kuzet.inference.opencv import cv2


@dataclass(frozen=True)
class Resize:
    """How a source image was placed into a model input: scaled, then padded right/bottom.

    Source pixel = model pixel / scale (per axis); padding sits after the content so no
    offset needs undoing.
    """

    scale_x: float
    scale_y: float
    # Size of the scaled content inside the model input.
    width: int
    height: int

    def to_source(self, xy: np.ndarray) -> np.ndarray:
        """Map (..., 2) model-input coordinates back to source pixels."""
        out = np.asarray(xy, dtype=np.float32).copy()
        out[..., 0] /= self.scale_x
        out[..., 1] /= self.scale_y
        return out


def fit_within(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Size with the longest side at most max_side, aspect kept (never upscales)."""
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _interpolation(src_w: int, dst_w: int) -> int:
    # Area averaging only pays for strong reductions (aliasing) and costs ~5x bilinear, which
    # matters at video rates.
    return cv2.INTER_AREA if dst_w < 0.4 * src_w else cv2.INTER_LINEAR


def letterbox_into(
    dst: np.ndarray, image: np.ndarray, content_w: int, content_h: int, *, to_rgb: bool = False
) -> Resize:
    """Resize ``image`` to content_w x content_h into the top-left of ``dst`` (zeros elsewhere:
    padding right/bottom), optionally swapping BGR to RGB. Writes straight into the batch tensor."""
    h, w = image.shape[:2]
    if (content_w, content_h) != (w, h):
        image = cv2.resize(image, (content_w, content_h), interpolation=_interpolation(w, content_w))
    if to_rgb:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    dst[:content_h, :content_w] = image
    return Resize(content_w / w, content_h / h, content_w, content_h)


def letterbox(
    image: np.ndarray, out_w: int, out_h: int, content_w: int, content_h: int, *, to_rgb: bool = False
) -> tuple[np.ndarray, Resize]:
    """Like letterbox_into, into a new zeroed out_w x out_h image."""
    out = np.zeros((out_h, out_w, image.shape[2]), dtype=image.dtype)
    return out, letterbox_into(out, image, content_w, content_h, to_rgb=to_rgb)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in a (N,4) with every box in b (M,4); boxes x1,y1,x2,y2."""
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices of the boxes kept by greedy NMS, best score first."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        if order.size == 1:
            break
        overlaps = iou_matrix(boxes[best : best + 1], boxes[order[1:]])[0]
        order = order[1:][overlaps <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)

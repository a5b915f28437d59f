"""PP-OCRv4 text recognition (CTC): a text region is warped upright to height 48, read greedily
with the model's own character dictionary, and scored by its mean character confidence.
Pre-processing follows PaddleOCR's RecResizeImg (BGR scaled to [-1, 1], padded right with zeros
to at least 320 pixels)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from kuzet.inference.opencv import cv2

INPUT_NAME = "x"
OUTPUT_NAME = "softmax_11.tmp_0"
HEIGHT = 48
# The width the model was trained at; narrower lines are padded to it.
_MIN_WIDTH = 320
# Caps the cost of a region that is not a text line at all (a long edge).
_MAX_WIDTH = 1600
_CHARACTER_KEY = "character"


@dataclass(frozen=True)
class Reading:
    text: str
    # Mean probability of the characters read; 0 when nothing was read.
    confidence: float


def charset(model_file: Path) -> tuple[str, ...]:
    """CTC classes of the recogniser: blank, the dictionary stored in the model's metadata, and
    the space PaddleOCR appends."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
    metadata = session.get_modelmeta().custom_metadata_map
    if _CHARACTER_KEY not in metadata:
        raise ValueError(f"{model_file.name} has no {_CHARACTER_KEY!r} metadata (the dictionary)")
    return ("", *metadata[_CHARACTER_KEY].splitlines(), " ")


def crop(image: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """The region inside ``corners`` (top left, top right, bottom right, bottom left), warped to
    an upright BGR strip of height 48 with its aspect ratio kept."""
    quad = np.asarray(corners, np.float32)
    width = max(float(np.linalg.norm(quad[0] - quad[1])), float(np.linalg.norm(quad[3] - quad[2])))
    height = max(float(np.linalg.norm(quad[0] - quad[3])), float(np.linalg.norm(quad[1] - quad[2])), 1.0)
    out_w = int(np.clip(np.ceil(HEIGHT * width / height), 1, _MAX_WIDTH))
    target = np.array([[0, 0], [out_w, 0], [out_w, HEIGHT], [0, HEIGHT]], np.float32)
    matrix = cv2.getPerspectiveTransform(quad, target)
    return cv2.warpPerspective(
        image, matrix, (out_w, HEIGHT), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )


def prepare(strips: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Strips of height 48 -> float32 NCHW in [-1, 1], zero-padded right to a common width."""
    width = max(_MIN_WIDTH, *(s.shape[1] for s in strips))
    batch = np.zeros((len(strips), 3, HEIGHT, width), np.float32)
    for i, strip in enumerate(strips):
        batch[i, :, :, : strip.shape[1]] = (strip.astype(np.float32).transpose(2, 0, 1) / 127.5) - 1.0
    return {INPUT_NAME: batch}


def decode(probs: np.ndarray, characters: Sequence[str]) -> Reading:
    """Greedy CTC over one line's (T, classes) probabilities: repeats merged, blanks dropped."""
    best = probs.argmax(axis=1)
    confidence = probs.max(axis=1)
    keep = best != 0
    keep[1:] &= best[1:] != best[:-1]
    if not keep.any():
        return Reading("", 0.0)
    text = "".join(characters[i] for i in best[keep] if i < len(characters))
    return Reading(text.upper(), float(confidence[keep].mean()))

"""Face alignment to the ArcFace 5-point template and SFace input preparation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kuzet.inference.opencv import cv2

INPUT_NAME = "data"
OUTPUT_NAME = "fc1"
CROP_SIZE = 112

# Where the eyes, nose tip and mouth corners sit in a 112x112 aligned crop (ArcFace/SFace).
ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares rotation + uniform scale + translation mapping src points onto dst (Umeyama),
    as a 2x3 matrix. A similarity (not a full affine) keeps the face's proportions intact."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    sc, dc = src - mu_s, dst - mu_d
    cov = dc.T @ sc / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1] = -1
    rotation = u @ np.diag(d) @ vt
    var_s = (sc**2).sum() / len(src)
    scale = float((s * d).sum() / var_s) if var_s > 0 else 1.0
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = mu_d - scale * rotation @ mu_s
    return matrix


def align(image: np.ndarray, landmarks: np.ndarray, *, replicate_border: bool = False) -> np.ndarray:
    """112x112 BGR crop with the five landmarks moved onto the template.

    The embedding crop uses a black border like the reference implementation (OpenCV's
    FaceRecognizerSF); the quality crop replicates the edge so a face cut by the frame does not
    gain an artificial hard edge.
    """
    matrix = similarity_transform(landmarks, ARCFACE_TEMPLATE)
    border = cv2.BORDER_REPLICATE if replicate_border else cv2.BORDER_CONSTANT
    return cv2.warpAffine(
        image, matrix, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=0
    )


def as_crop(image: np.ndarray) -> np.ndarray:
    """An image that is already an aligned crop, resized to 112x112 if it is not exactly that."""
    if image.shape[:2] != (CROP_SIZE, CROP_SIZE):
        return cv2.resize(image, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_AREA)
    return image


def prepare(crops: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Aligned BGR crops -> uint8 NHWC RGB (the graph casts, transposes and normalises)."""
    batch = np.stack([c[:, :, ::-1] for c in crops])
    return {INPUT_NAME: batch}


def normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)

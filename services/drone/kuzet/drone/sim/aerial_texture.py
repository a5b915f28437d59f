"""Procedural ground for the aerial simulator: grass, forest and water regions from value noise.

Deterministic per seed; no image is downloaded. The texture covers a square of ``extent_m`` metres
centred on the flight line's start at 0.1 m per pixel (a 640-px, 30 deg camera at 42 m sees about
0.035 m per pixel, so the ground is a little soft: it is background, not what is detected) and
wraps around beyond it.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

__all__ = ["GroundTexture"]

METRES_PER_PX = 0.1
# BGR base colours and how much each octave of noise varies them.
_GRASS = np.array([60, 140, 110], np.float32)
_FOREST = np.array([40, 80, 35], np.float32)
_WATER = np.array([120, 90, 40], np.float32)


def _noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Smooth noise in 0..1: a cells x cells random grid interpolated up to size x size."""
    grid = rng.random((cells, cells)).astype(np.float32)
    return cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)


class GroundTexture:
    def __init__(self, seed: int, extent_m: float) -> None:
        size = int(extent_m / METRES_PER_PX)
        rng = np.random.default_rng(seed)
        self.extent_m = extent_m
        regions = _noise(rng, size, 6) + 0.3 * _noise(rng, size, 24)
        detail = 0.6 * _noise(rng, size, size // 20) + 0.4 * rng.random((size, size), dtype=np.float32)
        water, forest = np.quantile(regions, [0.2, 0.7])
        base = np.where(
            (regions < water)[..., None], _WATER, np.where((regions > forest)[..., None], _FOREST, _GRASS)
        )
        texture = base * (0.75 + 0.5 * detail[..., None])
        self.image = np.clip(texture, 0, 255).astype(np.uint8)

    @staticmethod
    @functools.lru_cache(maxsize=2)
    def of(seed: int, extent_m: float) -> GroundTexture:
        return GroundTexture(seed, extent_m)

    def sample(self, east_m: np.ndarray, north_m: np.ndarray) -> np.ndarray:
        """The ground's BGR colour at each (East, North) metre offset from the start (North up)."""
        size = self.image.shape[0]
        col = (east_m / METRES_PER_PX + size / 2).astype(np.float32)
        row = (size / 2 - north_m / METRES_PER_PX).astype(np.float32)
        out: np.ndarray = cv2.remap(self.image, col, row, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
        return out

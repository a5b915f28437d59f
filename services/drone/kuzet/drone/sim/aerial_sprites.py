"""Real object imagery for the aerial simulator, cut from pinned test photos.

``street_sprites()`` crops ultralytics' ``assets/bus.jpg`` (AGPL-3.0 package; the photo is only
fetched into the test-data cache by kuzet.common.testdata, never committed): its three standing
people and the bus (a vehicle). The crops are the shipped detector's own boxes on the photo,
so the object fills its crop and a detection's bottom centre is the object's foot. The crops keep
the street behind the object (a rectangular patch, its border feathered over 3 px): a cut-out
mask would need a segmentation step this simulator does not need to be detectable.

No offline package pinned here ships a real photo of a boat, so there is no boat sprite.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from kuzet.common import testdata
from kuzet.drone.sim.aerial import Sprite

__all__ = ["SIZES_M", "StreetSprites", "street_sprites"]

# Detector boxes (x1, y1, x2, y2) on bus.jpg: CenterNet finds the people at 0.73, 0.58 and 0.47
# and the bus at 0.61.
_PERSON_BOXES = ((48, 396, 214, 907), (214, 408, 347, 855), (671, 339, 808, 886))
_BUS_BOX = (11, 224, 785, 751)
# Real heights in metres: an adult; a city bus.
SIZES_M = {"person": 1.7, "bus": 3.2}
_FEATHER_PX = 3


@dataclass(frozen=True)
class StreetSprites:
    people: tuple[Sprite, ...]
    bus: Sprite


def _crop(image: np.ndarray, box: tuple[int, int, int, int]) -> Sprite:
    x1, y1, x2, y2 = box
    bgr = np.ascontiguousarray(image[y1:y2, x1:x2])
    alpha = np.zeros(bgr.shape[:2], np.float32)
    alpha[_FEATHER_PX:-_FEATHER_PX, _FEATHER_PX:-_FEATHER_PX] = 1.0
    k = 2 * _FEATHER_PX + 1
    return Sprite(bgr, cv2.GaussianBlur(alpha, (k, k), 0))


def street_sprites() -> StreetSprites:
    """Raises kuzet.common.testdata.TestDataUnavailable when the photo cannot be fetched."""
    path = next(p for p in testdata.street_photos() if p.name == "bus.jpg")
    image = cv2.imread(str(path))
    if image is None:
        raise testdata.TestDataUnavailable(f"cannot read {path}")
    return StreetSprites(people=tuple(_crop(image, b) for b in _PERSON_BOXES), bus=_crop(image, _BUS_BOX))

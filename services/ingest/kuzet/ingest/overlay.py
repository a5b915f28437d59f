"""The live view's frame: the camera's zones and its current tracks drawn on the latest frame, so
an operator sees what the analytics see (GetSnapshot with ``overlay``)."""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from kuzet.ingest.cameras import ZoneCfg
from kuzet.ingest.tracking import Track

ZONE_BGR = (0, 200, 255)  # amber: a zone is a place, not a finding
TRACK_BGR = (0, 0, 255)


def draw_overlay(image: np.ndarray, zones: Iterable[ZoneCfg], tracks: Iterable[Track]) -> np.ndarray:
    """A copy of the frame with each zone's outline and name and each track's box and id."""
    out = image.copy()
    thick = max(2, round(max(out.shape[:2]) / 480))
    for zone in zones:
        pts = np.array([[round(x), round(y)] for x, y in zone.polygon], np.int32)
        cv2.polylines(out, [pts], True, ZONE_BGR, thick)
        x, y = pts.min(axis=0)
        cv2.putText(out, zone.id, (int(x) + 4, int(y) + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, ZONE_BGR, 1)
    for tr in tracks:
        x1, y1, x2, y2 = (round(v) for v in tr.box)
        cv2.rectangle(out, (x1, y1), (x2, y2), TRACK_BGR, thick)
        label = f"{tr.class_name} {tr.track_id % 10000}"
        cv2.putText(out, label, (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, TRACK_BGR, 1)
    return out

"""Frames and crops as JPEGs in the object store, under the keys retention knows
(``snapshots/<agency>/<camera>/<YYYY>/<MM>/<DD>/<HHMMSS>-<seq>-<kind>.jpg``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import cv2
import numpy as np

from kuzet.common.objectstore import ObjectStore
from kuzet.common.v1 import common_pb2

Box = tuple[float, float, float, float]


def encode_jpeg(image: np.ndarray, boxes: list[Box], quality: int, max_side: int = 0) -> bytes:
    if boxes:
        image = image.copy()
        for x1, y1, x2, y2 in boxes:
            cv2.rectangle(image, (round(x1), round(y1)), (round(x2), round(y2)), (0, 0, 255), 2)
    if max_side:
        h, w = image.shape[:2]
        if max(h, w) > max_side:
            f = max_side / max(h, w)
            image = cv2.resize(image, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


async def store_jpeg(
    store: ObjectStore,
    agency: str,
    camera_id: str,
    *,
    at: float,
    seq: int,
    kind: str,
    image: np.ndarray,
    boxes: list[Box] | None = None,
    quality: int = 85,
) -> common_pb2.ObjectRef:
    """The image (with ``boxes`` drawn) stored under the frame's time and sequence and ``kind``:
    the same frame and kind is the same key, so storing it twice stores it once."""
    jpeg = await asyncio.to_thread(encode_jpeg, image, boxes or [], quality)
    when = datetime.fromtimestamp(at, UTC)
    key = f"snapshots/{agency}/{camera_id}/{when:%Y/%m/%d/%H%M%S}-{seq}-{kind}.jpg"
    info = await store.put(key, jpeg, "image/jpeg")
    return common_pb2.ObjectRef(
        key=info.key, sha256=info.sha256, size_bytes=info.size, content_type="image/jpeg"
    )

"""Face-of-interest hand-off: the face of a tracked person goes to identity once per track.

The face is searched in the upper part of the person's box only (cheap, and it keeps faces of
other people out), and sent when the detector is confident and the face is big enough to be
recognised; otherwise the next frames of the same track get another chance.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

import grpc
import numpy as np

from kuzet.common.caller import caller_metadata, service_caller
from kuzet.common.inference.client import InferenceClient
from kuzet.common.timeutil import to_timestamp
from kuzet.common.v1 import common_pb2
from kuzet.identity.v1 import identity_pb2, identity_pb2_grpc
from kuzet.ingest.cameras import CameraCfg
from kuzet.ingest.detect import downscale
from kuzet.ingest.pipeline import _dt
from kuzet.ingest.rules import FaceRequest
from kuzet.ingest.snapshots import encode_jpeg
from kuzet.ingest.source import Frame

log = logging.getLogger(__name__)


class IdentityHandoff:
    def __init__(
        self,
        inference: grpc.aio.Channel,
        identity: grpc.aio.Channel,
        *,
        min_face_px: int = 32,
        min_score: float = 0.7,
    ) -> None:
        self._inference = InferenceClient(inference, timeout_s=10)
        self._id: Any = identity_pb2_grpc.IdentityServiceStub(identity)
        self.min_face_px, self.min_score = min_face_px, min_score
        self.sent = 0
        # (camera, track, identity_pb2.TrackOutcome) of the last hand-offs, for health and tests.
        self.outcomes: deque[tuple[str, int, int]] = deque(maxlen=1000)

    async def handoff(
        self, camera: CameraCfg, frame: Frame, request: FaceRequest, snapshot: common_pb2.ObjectRef
    ) -> list[str] | None:
        x1, y1, x2, y2 = (int(v) for v in request.track.box)
        h, w = frame.image.shape[:2]
        x1, y1, x2 = max(0, x1), max(0, y1), min(w, x2)
        y2 = min(h, y1 + max(1, (y2 - y1) // 2))  # upper half of the person
        crop = frame.image[y1:y2, x1:x2]
        if crop.size == 0:
            return None
        img, back = await asyncio.to_thread(downscale, crop, 640)
        try:
            found = await self._inference.detect_faces([img], max_faces=1)
        except grpc.aio.AioRpcError as exc:
            log.warning("camera %s: face detection failed: %s", camera.id, exc.code().name)
            return None
        faces = found[0].faces if found else []
        if not faces or faces[0].score < self.min_score:
            return None
        b = faces[0].box
        fx1, fy1, fx2, fy2 = b.x1 * back + x1, b.y1 * back + y1, b.x2 * back + x1, b.y2 * back + y1
        if min(fx2 - fx1, fy2 - fy1) < self.min_face_px:
            return None
        m = 0.3 * (fx2 - fx1)
        face = frame.image[
            int(max(0, fy1 - m)) : int(min(h, fy2 + m)), int(max(0, fx1 - m)) : int(min(w, fx2 + m))
        ]
        jpeg = await asyncio.to_thread(encode_jpeg, np.ascontiguousarray(face), [], 95)
        req = identity_pb2.MatchTrackRequest(
            crop=jpeg,
            source=common_pb2.Source(
                kind=common_pb2.SOURCE_KIND_CAMERA, id=camera.id, site_id=camera.site, name=camera.name
            ),
            track_id=request.track.track_id,
            zone_id=request.rule.zone_id,
            frame_time=to_timestamp(_dt(frame.time)),
            snapshot=snapshot,
            box=common_pb2.Box(x1=fx1, y1=fy1, x2=fx2, y2=fy2),
        )
        if camera.location:
            req.location.CopyFrom(
                common_pb2.GeoPoint(latitude=camera.location[0], longitude=camera.location[1])
            )
        # On behalf of the camera's agency: identity searches that agency's galleries only.
        who = caller_metadata(service_caller("ingest", agency=camera.agency), audience="identity")
        try:
            response = await self._id.MatchTrack(req, timeout=10, metadata=who)
        except grpc.aio.AioRpcError as exc:
            log.warning(
                "camera %s: identity MatchTrack failed: %s %s", camera.id, exc.code().name, exc.details()
            )
            return None
        self.sent += 1
        self.outcomes.append((camera.id, request.track.track_id, response.outcome))
        # Staff are named by the agency's staff reference (identity sends no display name).
        return [s.external_id or s.person_id for s in response.staff]

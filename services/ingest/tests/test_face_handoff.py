"""Face of interest: a tracked person's face goes once to the real identity service."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from kuzet.common.caller import Caller
from kuzet.common.config import Endpoints, load_settings
from kuzet.common.grpcclient import open_channel
from kuzet.common.objectstore import LocalObjectStore
from kuzet.common.testdata import face_photos
from kuzet.common.testing import missing_component
from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.identity.config import IdentitySettings
from kuzet.identity.server import build as build_identity
from kuzet.identity.v1 import identity_pb2 as ipb
from kuzet.identity.v1 import identity_pb2_grpc
from kuzet.ingest.config import IngestSettings
from kuzet.ingest.server import build
from kuzet.ingest.testing import videotest as vt
from kuzet.ingest.testing.rtsp import RtspServer, rtsp_available
from kuzet.ingest.v1 import ingest_pb2 as pb
from kuzet.ingest.v1 import ingest_pb2_grpc

from .conftest import ADMIN, ListSink

pytestmark = pytest.mark.slow
WARDEN = Caller("warden", "prison", frozenset({"admin"}))


async def test_face_goes_to_identity_once_per_track(tmp_path: Path, inference: str) -> None:
    if not rtsp_available():
        missing_component("gst-rtsp-server missing: run scripts/setup/rtsp.sh")
    photos = face_photos()
    spec = vt.walking_scenario(1280, 720, face=photos["obama"][0])
    spec.duration = 7.0  # the walk in, face visible from 1 s on (the fall is not needed here)
    clip = vt.write_h264(spec, tmp_path / "face.mp4")
    identity_settings = load_settings(
        IdentitySettings, port=0, data_dir=tmp_path / "identity", publish_events=False
    )
    identity, _app = await build_identity(identity_settings, port=0, endpoints=Endpoints(inference=inference))
    identity_address = await identity.start()
    ingest = None
    try:
        async with open_channel(identity_address, audience="identity", caller=WARDEN) as channel:
            ids: Any = identity_pb2_grpc.IdentityServiceStub(channel)
            gallery = (
                await ids.CreateGallery(
                    ipb.CreateGalleryRequest(
                        name="escapees", kind=ipb.GALLERY_KIND_WATCHLIST, purpose="escaped inmates",
                        legal_basis="Penal Code art. 83", owner="warden-12",
                        expires_at=to_timestamp(utcnow() + timedelta(days=30)),
                    )
                )
            ).gallery  # fmt: skip
            enrolled = await ids.EnrolPerson(
                ipb.EnrolPersonRequest(
                    gallery_id=gallery.gallery_id, external_id="o", display_name="Obama",
                    images=[ipb.FaceImage(image=photos["obama"][1].read_bytes())],
                )
            )  # fmt: skip
            assert enrolled.person.person_id

        settings = load_settings(IngestSettings, port=0, data_dir=tmp_path / "ingest")
        ingest = await build(
            settings, port=0, sink=ListSink(), store=LocalObjectStore(tmp_path / "objects"),
            endpoints=Endpoints(inference=inference, identity=identity_address),
        )  # fmt: skip
        await ingest.start()
        with RtspServer({"face": clip}) as rtsp:
            async with open_channel(ingest.address, audience="ingest", caller=ADMIN) as channel:
                stub = ingest_pb2_grpc.IngestServiceStub(channel)
                await stub.CreateCamera(
                    pb.CreateCameraRequest(
                        camera=pb.Camera(
                            id="yard", site_id="north", url=rtsp.url("face"), analytic_fps=4, enabled=True,
                            rules=[pb.Rule(id="watch", type=pb.RULE_TYPE_FACE_OF_INTEREST)],
                        )
                    )
                )  # fmt: skip
                faces = ingest.faces  # type: ignore[attr-defined]
                for _ in range(80):
                    if faces.outcomes:
                        break
                    await asyncio.sleep(0.25)
                await asyncio.sleep(2.0)
        outcomes = list(faces.outcomes)
        assert len(outcomes) == 1, outcomes  # once per track, however many frames show the face
        camera, track, outcome = outcomes[0]
        # The first track of a freshly started pipeline: never 0, which identity refuses.
        assert track > 0
        assert camera == "yard" and outcome == ipb.TRACK_OUTCOME_CANDIDATE
        async with open_channel(
            identity_address, audience="identity", caller=Caller("rev", "prison", frozenset({"reviewer"}))
        ) as ch:
            reviews = await identity_pb2_grpc.IdentityServiceStub(ch).ListReviews(ipb.ListReviewsRequest())
            assert len(reviews.matches) == 1
    finally:
        if ingest is not None:
            await ingest.stop(0)
        await identity.stop(0)

"""Fixtures: a real inference service (onnxruntime, the shipped ONNX models) and a real identity
service, both in-process on free ports, talking gRPC; real face photos from kuzet.common.testdata.

The inference service loads its models once per test session (a few seconds), so every test of
this folder runs on the session's event loop.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio
from PIL import Image, ImageFilter

from kuzet.alerting.config import AlertingSettings
from kuzet.alerting.server import build as build_alerting
from kuzet.alerting.v1 import alerting_pb2_grpc
from kuzet.common.caller import Caller, caller_metadata
from kuzet.common.config import Endpoints
from kuzet.common.grpcclient import open_channel
from kuzet.common.grpcserver import GrpcServer
from kuzet.common.testdata import face_photos
from kuzet.common.testing import free_port_number
from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.common.v1 import audit_pb2_grpc
from kuzet.identity.config import IdentitySettings
from kuzet.identity.server import Identity, build
from kuzet.identity.v1 import identity_pb2 as pb
from kuzet.identity.v1 import identity_pb2_grpc
from kuzet.inference.config import InferenceSettings
from kuzet.inference.server import build as build_inference

ADMIN = Caller("admin-p", "prison", frozenset({"admin"}))
OPERATOR = Caller("op-p", "prison", frozenset({"operator"}))
INVESTIGATOR = Caller("inv-p", "prison", frozenset({"investigator"}))
REVIEWER_1 = Caller("rev-1", "prison", frozenset({"reviewer"}))
REVIEWER_2 = Caller("rev-2", "prison", frozenset({"reviewer"}))
AUDITOR = Caller("aud-p", "prison", frozenset({"auditor"}))
INGEST = Caller("service:ingest", "prison", frozenset({"service"}))
POLICE = Caller("inv-police", "police", frozenset({"investigator", "admin", "reviewer"}))


def md(caller: Caller) -> list[tuple[str, str]]:
    return caller_metadata(caller, audience="identity")


@dataclass(frozen=True)
class Photos:
    obama: list[bytes]
    biden: bytes


@pytest.fixture(scope="session")
def photos() -> Photos:
    found = face_photos()
    return Photos(obama=[p.read_bytes() for p in found["obama"]], biden=found["biden"][0].read_bytes())


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=92)
    return out.getvalue()


def shrunk(data: bytes, factor: float) -> bytes:
    img = Image.open(io.BytesIO(data))
    return jpeg(img.resize((max(1, int(img.width * factor)), max(1, int(img.height * factor)))))


def blurred(data: bytes, radius: float) -> bytes:
    return jpeg(Image.open(io.BytesIO(data)).filter(ImageFilter.GaussianBlur(radius)))


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def inference_address(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    # port=0 would mean "the default port" to GrpcServer: take a free one instead.
    settings = InferenceSettings(port=free_port_number(), data_dir=tmp_path_factory.mktemp("inference"))
    server: GrpcServer = await build_inference(settings)
    address = await server.start()
    try:
        yield address
    finally:
        await server.stop(0)


@dataclass
class Running:
    server: GrpcServer
    app: Identity
    channel: grpc.aio.Channel

    @property
    def stub(self) -> identity_pb2_grpc.IdentityServiceStub:
        return identity_pb2_grpc.IdentityServiceStub(self.channel)

    @property
    def audit_stub(self) -> audit_pb2_grpc.AuditServiceStub:
        return audit_pb2_grpc.AuditServiceStub(self.channel)

    async def gallery(
        self, kind: int = pb.GALLERY_KIND_WATCHLIST, caller: Caller = ADMIN, **kw: Any
    ) -> pb.Gallery:
        fields: dict[str, Any] = {
            "name": "escapees",
            "kind": kind,
            "purpose": "find escaped inmates",
            "legal_basis": "Penal Code art. 83",
            "owner": "warden-12",
        }
        if kind == pb.GALLERY_KIND_WATCHLIST:
            fields["expires_at"] = to_timestamp(utcnow() + timedelta(days=30))
        fields.update(kw)
        response = await self.stub.CreateGallery(pb.CreateGalleryRequest(**fields), metadata=md(caller))
        return response.gallery

    async def enrol(
        self, gallery_id: str, images: list[bytes], name: str, caller: Caller = ADMIN, **kw: Any
    ) -> pb.EnrolPersonResponse:
        request = pb.EnrolPersonRequest(
            gallery_id=gallery_id,
            external_id=name.lower(),
            display_name=name,
            images=[pb.FaceImage(image=i) for i in images],
            **kw,
        )
        return await self.stub.EnrolPerson(request, metadata=md(caller))

    async def identify(
        self, image: bytes, caller: Caller = INVESTIGATOR, mode: int = pb.MATCH_MODE_ALERT, **kw: Any
    ) -> pb.IdentifyResponse:
        kw.setdefault("purpose", "case 2026/117")
        request = pb.IdentifyRequest(probe=pb.Probe(image=image), mode=mode, **kw)
        return await self.stub.Identify(request, metadata=md(caller))

    async def matched(
        self, found: pb.IdentifyResponse | pb.MatchTrackResponse, reviewer: Caller = REVIEWER_1
    ) -> list[str]:
        """Who alert-mode candidates are: the searcher gets review ids only, a reviewer of the
        owning agency sees the person in the (audited) review queue."""
        for c in found.candidates:
            assert_unnamed(c)
        queue = await self.stub.ListReviews(pb.ListReviewsRequest(), metadata=md(reviewer))
        people = {m.match_id: m.candidate.person_id for m in queue.matches}
        return [people[c.match_id] for c in found.candidates]


def assert_unnamed(candidate: pb.Candidate) -> None:
    """An unconfirmed candidate carries its review id and score, nothing that says who matched."""
    assert candidate.match_id, candidate
    named = (
        candidate.person_id,
        candidate.external_id,
        candidate.display_name,
        candidate.image_id,
        candidate.gallery_id,
    )
    assert not any(named), f"an unconfirmed candidate names who matched: {candidate}"


async def start_identity(db_url: str, tmp_path: Path, inference_address: str, **settings: Any) -> Running:
    settings.setdefault("publish_events", False)
    endpoints = Endpoints(inference=inference_address, alerting=settings.pop("alerting", "127.0.0.1:1"))
    config = IdentitySettings(port=0, database_url=db_url, data_dir=tmp_path, **settings)
    server, app = await build(config, port=0, endpoints=endpoints)
    address = await server.start()
    return Running(server, app, open_channel(address, audience="identity"))


@pytest_asyncio.fixture(loop_scope="session")
async def identity(db_url: str, tmp_path: Path, inference_address: str) -> AsyncIterator[Running]:
    running = await start_identity(db_url, tmp_path, inference_address)
    try:
        yield running
    finally:
        await running.channel.close()
        await running.server.stop(0)


AlertingStub = alerting_pb2_grpc.AlertingServiceStub


@pytest_asyncio.fixture(loop_scope="session")
async def identity_to_alerting(
    tmp_path: Path, inference_address: str
) -> AsyncIterator[tuple[Running, AlertingStub]]:
    """Identity on SQLite publishing its events to a real alerting service, and alerting's stub."""
    alerting_server, _ = await build_alerting(
        AlertingSettings(
            database_url=f"sqlite:///{tmp_path / 'alerting.db'}",
            data_dir=tmp_path / "a",
            escalation_interval_s=3600,
        ),
        port=0,
    )
    alerting_address = await alerting_server.start()
    running = await start_identity(
        f"sqlite:///{tmp_path / 'identity.db'}",
        tmp_path,
        inference_address,
        publish_events=True,
        alerting=alerting_address,
    )
    alerts = open_channel(alerting_address, audience="alerting")
    try:
        yield running, AlertingStub(alerts)
    finally:
        await alerts.close()
        await running.channel.close()
        await running.server.stop(0)
        await alerting_server.stop(0)


@pytest_asyncio.fixture(loop_scope="session")
async def identity_sqlite(tmp_path: Path, inference_address: str) -> AsyncIterator[Running]:
    running = await start_identity(f"sqlite:///{tmp_path / 'identity.db'}", tmp_path, inference_address)
    try:
        yield running
    finally:
        await running.channel.close()
        await running.server.stop(0)

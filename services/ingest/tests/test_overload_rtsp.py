"""Overload over a real RTSP server: sparse analysis still alerts, a starved camera says so."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kuzet.alerting.config import AlertingSettings
from kuzet.alerting.server import build as alerting_build
from kuzet.alerting.v1 import alerting_pb2, alerting_pb2_grpc
from kuzet.common.caller import Caller, service_caller
from kuzet.common.eventsink import EventSink
from kuzet.common.grpcclient import open_channel
from kuzet.common.objectstore import LocalObjectStore
from kuzet.ingest.cameras import to_config
from kuzet.ingest.detect import PERSON, ObjectDetector
from kuzet.ingest.pipeline import CameraPipeline, Detector, PipelineOptions
from kuzet.ingest.testing.rtsp import RtspServer
from kuzet.ingest.tracking import Detection
from kuzet.ingest.turns import Need
from kuzet.ingest.v1 import ingest_pb2 as pb

from .conftest import ListSink
from .test_pipeline_rtsp import walk_camera

pytestmark = pytest.mark.slow


class OneTurnEvery:
    """The real detector, but this camera gets a turn only every ``every_s`` seconds, as one of
    many cameras on an overloaded detector."""

    def __init__(self, inner: Detector, every_s: float) -> None:
        self.inner, self.every_s = inner, every_s
        self._next = 0.0

    async def detect(
        self, pick: Callable[[], np.ndarray], need: Need | None = None, classes: Sequence[str] = PERSON
    ) -> list[Detection]:
        await asyncio.sleep(max(0.0, self._next - time.time()))
        self._next = time.time() + self.every_s
        return await self.inner.detect(pick, need, classes)


class Starving:
    """A detector that takes ``delay_s`` per frame and finds nobody."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s

    async def detect(
        self, pick: Callable[[], np.ndarray], need: Need | None = None, classes: Sequence[str] = PERSON
    ) -> list[Detection]:
        await asyncio.sleep(self.delay_s)
        await asyncio.to_thread(pick)
        return []


def _pipeline(
    tmp_path: Path, camera: pb.Camera, detector: Detector, sink: ListSink, **options: Any
) -> CameraPipeline:
    return CameraPipeline(
        to_config(camera, "", ""),
        detector=detector,
        sink=sink,
        store=LocalObjectStore(tmp_path / "objects"),
        options=PipelineOptions(**options),
    )


async def test_sparse_frames_still_alert_and_a_restart_never_reuses_a_subject(
    tmp_path: Path, inference: str, rtsp: RtspServer
) -> None:
    camera = walk_camera("sparse", rtsp.url("walk"), agency_id="prison")
    async with open_channel(inference, audience="inference", caller=service_caller("ingest")) as channel:
        detector = ObjectDetector(channel)
        intrusions = []
        # The same camera twice, as after an ingest restart: first analysed at its analytic rate,
        # then one frame every 2 s (the default minimum rate, what an overloaded detector gives).
        for turn_every_s in (0.0, 2.0):
            sink = ListSink()
            pipeline = _pipeline(tmp_path, camera, OneTurnEvery(detector, turn_every_s), sink)
            pipeline.start()
            try:
                assert await sink.wait_for(
                    lambda events: any(e.type == "zone_intrusion" for e in events), 40
                ), [e.type for e in sink.events]
            finally:
                await pipeline.stop()
            intrusions.append(sink.of("zone_intrusion")[0])
            if turn_every_s:
                health = pipeline.health()
                assert health.analysed_goal_s == 2.0 and pb.FAULT_DEGRADED not in health.faults
    first, sparse = intrusions
    assert first.subject.startswith("track:") and sparse.subject.startswith("track:")
    assert first.subject != sparse.subject
    assert 0 < first.track_ids[0] < sparse.track_ids[0]


async def test_a_starved_camera_is_reported_degraded_and_recovers(tmp_path: Path, rtsp: RtspServer) -> None:
    camera = pb.Camera(
        id="starved",
        agency_id="prison",
        site_id="north",
        name="yard",
        url=rtsp.url("long"),
        analytic_fps=4,
        enabled=True,
        width=320,
        height=240,
        rules=[pb.Rule(id="down", type=pb.RULE_TYPE_PERSON_DOWN, dwell_seconds=2.0)],
    )
    sink = ListSink()
    detector = Starving(delay_s=3.0)
    pipeline = _pipeline(tmp_path, camera, detector, sink, motion_gate=False, min_analysed_interval_s=1.0)
    pipeline.start()
    try:
        assert await sink.wait_for(lambda events: bool(sink.of("camera_degraded")), 20), [
            e.type for e in sink.events
        ]
        degraded = sink.of("camera_degraded")[0]
        assert degraded.subject == "camera:starved" and degraded.source.id == "starved"
        assert degraded.summary.startswith("camera yard analysed every ")
        assert degraded.summary.endswith(" s, goal 1.0 s")
        assert degraded.attributes["analysed_every_s"] > 1.0
        health = pipeline.health()
        assert pb.FAULT_DEGRADED in health.faults and health.analysed_every_s > health.analysed_goal_s == 1.0

        detector.delay_s = 0.0  # the detector keeps up again
        assert await sink.wait_for(lambda events: bool(sink.of("camera_recovered")), 20), [
            e.type for e in sink.events
        ]
        recovered = sink.of("camera_recovered")[0]
        assert recovered.resolves and recovered.subject == degraded.subject
        health = pipeline.health()
        assert pb.FAULT_DEGRADED not in health.faults and health.analysed_every_s <= 1.0
        assert len(sink.of("camera_degraded")) == 1  # no flapping
    finally:
        await pipeline.stop()


async def test_a_degraded_camera_is_an_operator_alert_closed_on_recovery(
    tmp_path: Path, rtsp: RtspServer, db_url: str
) -> None:
    """Through the real event path: ingest's outbox to the alerting service."""
    settings = AlertingSettings(
        database_url=db_url, data_dir=tmp_path / "alerting", escalation_interval_s=3600, heartbeat_s=0.5
    )
    alerting, _app = await alerting_build(settings, port=0)
    address = await alerting.start()
    outbox = EventSink(address, caller=service_caller("ingest"))
    await outbox.start()
    camera = pb.Camera(
        id="yard-2", agency_id="prison", site_id="north", name="yard 2", url=rtsp.url("long"),
        analytic_fps=4, enabled=True, width=320, height=240,
        rules=[pb.Rule(id="down", type=pb.RULE_TYPE_PERSON_DOWN)],
    )  # fmt: skip
    detector = Starving(delay_s=3.0)
    pipeline = CameraPipeline(
        to_config(camera, "", ""),
        detector=detector,
        sink=outbox,
        store=LocalObjectStore(tmp_path / "objects"),
        options=PipelineOptions(motion_gate=False, min_analysed_interval_s=1.0),
    )
    operator = Caller("op", "prison", frozenset({"operator"}))
    try:
        async with open_channel(address, audience="alerting", caller=operator) as channel:
            stub: Any = alerting_pb2_grpc.AlertingServiceStub(channel)

            async def degraded_alerts() -> list[Any]:
                request = alerting_pb2.ListAlertsRequest(
                    filter=alerting_pb2.AlertFilter(types=["camera_degraded"], source_ids=["yard-2"])
                )
                return list((await stub.ListAlerts(request)).alerts)

            async def until(pred: Callable[[list[Any]], bool], within: float) -> list[Any]:
                deadline = time.monotonic() + within
                while True:
                    alerts = await degraded_alerts()
                    if pred(alerts) or time.monotonic() >= deadline:
                        return alerts
                    await asyncio.sleep(0.3)

            pipeline.start()
            opened = await until(lambda alerts: bool(alerts), 30)
            assert len(opened) == 1 and opened[0].state == alerting_pb2.ALERT_STATE_NEW
            assert "analysed every" in opened[0].summary and "goal 1.0 s" in opened[0].summary
            detector.delay_s = 0.0
            closed = await until(
                lambda alerts: bool(alerts) and alerts[0].state == alerting_pb2.ALERT_STATE_RESOLVED, 30
            )
            assert len(closed) == 1 and closed[0].state == alerting_pb2.ALERT_STATE_RESOLVED
    finally:
        await pipeline.stop()
        await outbox.close()
        await alerting.stop(0)

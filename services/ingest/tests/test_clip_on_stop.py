"""A camera that stops while an event's clip is still collecting the seconds after it sends the
clip with what it saw until then: the alert never keeps a clip of the seconds before only."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from kuzet.common.objectstore import LocalObjectStore
from kuzet.common.v1 import common_pb2
from kuzet.ingest.cameras import to_config
from kuzet.ingest.detect import PERSON
from kuzet.ingest.pipeline import CameraPipeline, PipelineOptions
from kuzet.ingest.tracking import Detection
from kuzet.ingest.turns import Need
from kuzet.ingest.v1 import ingest_pb2 as pb

from .conftest import ListSink
from .test_pipeline_rtsp import clip_frames


class StandingPerson:
    """A detector that sees one person standing in the middle of every frame."""

    async def detect(
        self, pick: Callable[[], np.ndarray], need: Need | None = None, classes: Sequence[str] = PERSON
    ) -> list[Detection]:
        await asyncio.to_thread(pick)
        return [Detection((300.0, 100.0, 340.0, 220.0), 0.9)]


async def test_a_stopping_camera_sends_the_clip_it_was_collecting(tmp_path: Path, walk_mp4: Path) -> None:
    corners = [(0, 0), (640, 0), (640, 360), (0, 360)]
    camera = pb.Camera(
        id="cell-9",
        agency_id="prison",
        site_id="north",
        name="cell 9",
        url=walk_mp4.as_uri(),
        analytic_fps=5,
        enabled=True,
        width=640,
        height=360,
        clip_recording=True,
        zones=[pb.Zone(id="all", points=[common_pb2.Point(x=x, y=y) for x, y in corners])],
        rules=[pb.Rule(id="no-entry", type=pb.RULE_TYPE_INTRUSION, zone_id="all")],
    )
    sink, store = ListSink(), LocalObjectStore(tmp_path / "objects")
    pipeline = CameraPipeline(
        to_config(camera, "", ""),
        detector=StandingPerson(),
        sink=sink,
        store=store,
        options=PipelineOptions(motion_gate=False, clip_after_s=60.0),
    )
    pipeline.start()
    try:
        assert await sink.wait_for(lambda events: sink.of("zone_intrusion"), 20)
        await asyncio.sleep(1.5)
        assert not [e for e in sink.events if e.amends], "a minute after it has not passed yet"
    finally:
        await pipeline.stop()
    (event,) = [e for e in sink.events if not e.amends]
    (later,) = [e for e in sink.events if e.amends]
    assert later.amends == event.event_id and later.occurred_at == event.occurred_at
    assert 1.0 <= later.attributes["clip_after_s"] < 60.0  # what it saw, not what it was to see
    assert clip_frames(await store.get(later.clip.key)) > clip_frames(await store.get(event.clip.key))

"""End to end over a real RTSP server and the real inference service (shipped models)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import av
import cv2
import grpc
import numpy as np
import pytest

from kuzet.common.v1 import common_pb2
from kuzet.ingest.overlay import ZONE_BGR
from kuzet.ingest.testing import videotest as vt
from kuzet.ingest.testing.rtsp import RtspServer
from kuzet.ingest.v1 import ingest_pb2 as pb

pytestmark = pytest.mark.slow


def clip_frames(mp4: bytes) -> int:
    with av.open(io.BytesIO(mp4)) as container:
        return sum(1 for _ in container.decode(video=0))


def P(x: float, y: float) -> common_pb2.Point:
    return common_pb2.Point(x=x, y=y)


def walk_camera(cam_id: str, url: str, **extra: Any) -> pb.Camera:
    g = vt.walking_scenario(640, 360).geometry
    (ax, ay), (bx, by) = g["line"]  # type: ignore[misc]
    return pb.Camera(
        id=cam_id,
        site_id="north",
        name=f"corridor {cam_id}",
        url=url,
        analytic_fps=5,
        enabled=True,
        zones=[pb.Zone(id="restricted", points=[P(x, y) for x, y in g["restricted_zone"]])],  # type: ignore[attr-defined]
        lines=[pb.Line(id="door", a=P(ax, ay), b=P(bx, by))],
        rules=[
            pb.Rule(id="no-entry", type=pb.RULE_TYPE_INTRUSION, zone_id="restricted"),
            pb.Rule(
                id="door-out",
                type=pb.RULE_TYPE_LINE_CROSSING,
                line_id="door",
                direction=pb.LINE_DIRECTION_LEFT_TO_RIGHT,
            ),
            pb.Rule(
                id="door-in",
                type=pb.RULE_TYPE_LINE_CROSSING,
                line_id="door",
                direction=pb.LINE_DIRECTION_RIGHT_TO_LEFT,
            ),
        ],
        **extra,
    )


@pytest.fixture(scope="module")
def mpeg4_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frames = (np.full((240, 320, 3), 90, np.uint8) for _ in range(50))
    return vt.encode_frames(
        frames, tmp_path_factory.mktemp("v") / "mpeg4.mp4", width=320, height=240, codec="mpeg4"
    )


async def test_walk_produces_exactly_the_scenario_events(
    span_exporter: Any, ingest: dict[str, Any], rtsp: RtspServer, mpeg4_file: Path
) -> None:
    stub, sink, store = ingest["stub"], ingest["sink"], ingest["store"]
    await stub.CreateCamera(
        pb.CreateCameraRequest(camera=walk_camera("walk-1", rtsp.url("walk"), clip_recording=True))
    )
    # Broken neighbours in the same process must not disturb it.
    await stub.CreateCamera(
        pb.CreateCameraRequest(
            camera=pb.Camera(id="garbage", site_id="north", url="rtsp://127.0.0.1:1/nothing", enabled=True)
        )
    )
    await stub.CreateCamera(
        pb.CreateCameraRequest(
            camera=pb.Camera(id="wrong-codec", site_id="north", url=f"file://{mpeg4_file}", enabled=True)
        )
    )
    outside = walk_camera("outside", rtsp.url("walk"))
    outside.zones[0].points[1].x = 5000  # beyond the 640 px frame, unknown at registration
    await stub.CreateCamera(pb.CreateCameraRequest(camera=outside))

    def done(events: list[common_pb2.Event]) -> bool:
        # (The walk's drawn person falls too: person down is a pose rule now, tested on video
        # with real people in test_behaviour_rtsp.py.)
        return any(e.type == "line_crossing" and e.source.id == "walk-1" for e in events)

    assert await sink.wait_for(done, 45), [(e.type, e.source.id) for e in sink.events]
    await asyncio.sleep(1.0)
    walk = [e for e in sink.events if e.source.id == "walk-1" and not e.amends]
    assert [e.type for e in walk] == ["zone_intrusion", "line_crossing"]
    intrusion, crossing = walk
    assert intrusion.zone_id == "restricted" and intrusion.rule_id == "no-entry"
    assert crossing.rule_id == "door-out" and crossing.attributes["direction"] == "left_to_right"
    for e in walk:
        assert e.agency_id == "prison" and e.source.kind == common_pb2.SOURCE_KIND_CAMERA
        assert len(e.track_ids) == 1 and len(e.boxes) == 1
        data = await store.get(e.snapshot.key)
        assert data[:2] == b"\xff\xd8" and len(data) == e.snapshot.size_bytes
        clip = await store.get(e.clip.key)
        assert e.clip.content_type == "video/mp4" and clip[4:8] == b"ftyp"
        # frame -> event is one trace: the event was queued inside the frame's span.
        trace_id, span_id = sink.contexts[e.event_id]
        frame_spans = [s for s in span_exporter.get_finished_spans() if s.name == "ingest.frame"]
        assert any(s.context.trace_id == trace_id and s.context.span_id == span_id for s in frame_spans)
    assert intrusion.occurred_at.ToDatetime() < crossing.occurred_at.ToDatetime()

    # A few seconds later each event's clip of the seconds before and after follows it.
    def amended(events: list[common_pb2.Event]) -> bool:
        return {e.amends for e in events} >= {intrusion.event_id, crossing.event_id}

    assert await sink.wait_for(amended, 20), [(e.type, e.amends) for e in sink.events]
    for e in walk:
        (later,) = [x for x in sink.events if x.amends == e.event_id]
        assert (later.type, later.source, later.rule_id, later.subject) == (
            e.type,
            e.source,
            e.rule_id,
            e.subject,
        )
        assert later.occurred_at == e.occurred_at and later.attributes["clip_after_s"] == 4.0
        before = clip_frames(await store.get(e.clip.key))
        around = clip_frames(await store.get(later.clip.key))
        assert around > before >= 2, (before, around)

    async def decoded() -> int:
        health = (await stub.ListCameraHealth(pb.ListCameraHealthRequest())).health
        return next((h.frames_decoded for h in health if h.camera_id == "walk-1"), 0)

    for _ in range(40):  # into the walk's last seconds (the person lies still: motion skipped)
        if await decoded() > 300:
            break
        await asyncio.sleep(0.25)
    health = {h.camera_id: h for h in (await stub.ListCameraHealth(pb.ListCameraHealthRequest())).health}
    good = health["walk-1"]
    assert good.frames_decoded > 300 and good.frames_sampled > 50 and good.frames_motion_skipped > 0
    assert good.width == 640 and good.height == 360
    assert not health["garbage"].connected and pb.FAULT_OFFLINE in health["garbage"].faults
    assert (
        "127.0.0.1:1" not in health["garbage"].last_error
        or "Connection refused" in health["garbage"].last_error
    )
    assert pb.FAULT_UNSUPPORTED in health["wrong-codec"].faults
    assert "mpeg4" in health["wrong-codec"].last_error
    assert "outside" in health["outside"].last_error and health["outside"].events_published == 0
    offline = {e.source.id for e in sink.of("camera_offline")}
    assert {"garbage", "wrong-codec"} <= offline and "walk-1" not in offline

    snap = await stub.GetSnapshot(pb.GetSnapshotRequest(camera_id="walk-1", max_side=320))
    assert snap.jpeg[:2] == b"\xff\xd8" and snap.width == 640
    # The live view's frame: the zone's outline drawn (amber, ZONE_BGR) where the plain frame has
    # the static background.
    frames = [
        await stub.GetSnapshot(pb.GetSnapshotRequest(camera_id="walk-1", overlay=overlay))
        for overlay in (False, True)
    ]
    plain, drawn = (cv2.imdecode(np.frombuffer(f.jpeg, np.uint8), cv2.IMREAD_COLOR) for f in frames)
    (x0, y0), (x1, _) = vt.walking_scenario(640, 360).geometry["restricted_zone"][:2]  # type: ignore[misc]
    at = (round(y0), round((x0 + x1) / 2))

    def off_amber(img: np.ndarray) -> int:
        return int(np.abs(img[at].astype(int) - np.array(ZONE_BGR)).max())

    assert drawn.shape[:2] == (360, 640) and off_amber(drawn) < 50 < off_amber(plain), (plain[at], drawn[at])


async def test_rtsp_restart_reports_offline_then_online(ingest: dict[str, Any], rtsp: RtspServer) -> None:
    stub, sink = ingest["stub"], ingest["sink"]
    await stub.CreateCamera(
        pb.CreateCameraRequest(
            camera=pb.Camera(id="long-1", site_id="north", url=rtsp.url("long"), analytic_fps=2, enabled=True)
        )
    )

    async def connected() -> bool:
        try:
            h = await stub.GetCameraHealth(pb.GetCameraHealthRequest(camera_id="long-1"))
        except grpc.aio.AioRpcError as exc:  # not started yet: CreateCamera only schedules it
            assert exc.code() == grpc.StatusCode.NOT_FOUND
            return False
        return h.health.connected and h.health.frames_sampled > 2

    for _ in range(60):
        if await connected():
            break
        await asyncio.sleep(0.25)
    assert await connected()
    await asyncio.to_thread(rtsp.restart, 1.0)
    ok = await sink.wait_for(lambda ev: any(e.type == "camera_online" for e in ev), 30)
    types = [e.type for e in sink.events if e.source.id == "long-1"]
    assert ok, types
    assert types.index("camera_offline") < types.index("camera_online")
    online = sink.of("camera_online")[0]
    assert online.resolves and online.subject == "camera:long-1"
    health = (await stub.GetCameraHealth(pb.GetCameraHealthRequest(camera_id="long-1"))).health
    assert health.reconnects >= 1 and health.connected


async def test_zone_outside_known_frame_is_invalid_argument(ingest: dict[str, Any]) -> None:
    stub = ingest["stub"]
    cam = walk_camera("bad-zone", "rtsp://127.0.0.1:8554/x", width=320, height=180)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.CreateCamera(pb.CreateCameraRequest(camera=cam))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "zone 'restricted' lies outside the 320x180 frame" in err.value.details()

"""Scenarios 1-4: real RTSP cameras through ingest, inference, identity and alerting to the console."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from kuzet.e2e.console import ConsoleFeed
from kuzet.e2e.platform import Platform
from kuzet.e2e.site import CameraPlan, add_camera, create_watchlist
from kuzet.ingest.testing.clips import clip_set

# Generous: the session's first test also pays for starting every service.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
AGENCY, SITE = "prison", "block-a"
# Budget from a frame to the console: the walking person is in the zone from ~4 s into the clip.
ALERT_BUDGET_S = 45
FALL_CLIP = next(c for c in clip_set().clips if c.name == "fall-positive-1")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from kuzet.common.testdata import face_photos
    from kuzet.ingest.testing.clips import write_mp4
    from kuzet.ingest.testing.videotest import walking_scenario, write_h264

    faces = face_photos()
    out = tmp_path_factory.mktemp("clips")
    known = next(p for p in faces["obama"] if "obama" in p.name)
    unknown = faces["biden"][0]
    return {
        "known": write_h264(walking_scenario(1280, 720, face=known), out / "known.mp4"),
        "unknown": write_h264(walking_scenario(1280, 720, face=unknown), out / "unknown.mp4"),
        "cell": write_h264(walking_scenario(640, 360), out / "cell.mp4"),
        # A person standing, then falling and staying down (the labelled clip set); the first frame
        # is held 6 s because the RTSP server sends a file's start faster than real time.
        "fall": write_mp4(FALL_CLIP, out / "fall.mp4", lead_in_s=6.0),
        "staff": _covered_after(walking_scenario(1280, 720, face=known), out / "staff.mp4"),
    }


def _covered_after(scene: Any, path: Path, covered_s: float = 10.0) -> Path:
    """The scene, then the lens covered (black frames) for ``covered_s``."""
    from kuzet.ingest.testing.videotest import encode_frames, render_frames

    black = np.zeros((scene.height, scene.width, 3), np.uint8)
    frames = itertools.chain(render_frames(scene), itertools.repeat(black, round(covered_s * scene.fps)))
    return encode_frames(frames, path, width=scene.width, height=scene.height, fps=scene.fps, gop=scene.fps)


@pytest.fixture(scope="module")
def rtsp(clips: dict[str, Path]) -> Iterator[object]:
    from kuzet.ingest.testing.rtsp import RtspServer

    with RtspServer(clips) as server:
        yield server


def _zone(width: int, height: int) -> list[tuple[float, float]]:
    from kuzet.ingest.testing.videotest import walking_scenario

    geometry = walking_scenario(width, height).geometry
    return list(geometry["restricted_zone"])  # type: ignore[call-overload]


def _of(camera: str, kind: str) -> object:
    return lambda m: m["alert"].get("source", {}).get("id") == camera and m["alert"].get("type") == kind


async def test_watchlist_person_in_staff_zone(platform: Platform, rtsp, clips) -> None:  # type: ignore[no-untyped-def]
    from kuzet.common.testdata import face_photos

    photos = [p for p in face_photos()["obama"] if "obama" in p.name][1:3]
    await create_watchlist(platform.address("identity"), AGENCY, "escape risk", {"Watch Person": photos})
    async with ConsoleFeed(platform.address("gateway"), platform.token("prison-operator")) as feed:
        await add_camera(
            platform.address("ingest"), AGENCY, SITE,
            CameraPlan("cam-known", "Staff corridor", rtsp.url("known"), 1280, 720, zone=_zone(1280, 720)),
        )  # fmt: skip
        intrusion = await feed.wait_for(_of("cam-known", "zone_intrusion"), ALERT_BUDGET_S)
        candidate = await feed.wait_for(_of("cam-known", "face_match_candidate"), ALERT_BUDGET_S)
    assert intrusion["alert"]["latest"]["snapshot"]["sha256"]
    with platform.api("prison-operator") as api:
        snapshot = (
            api.get(intrusion["alert"]["snapshot_url"]) if intrusion["alert"].get("snapshot_url") else None
        )
    assert snapshot is None or snapshot.content.startswith(b"\xff\xd8")
    frame_to_console = {"ingest", "inference", "alerting", "gateway"}
    assert frame_to_console <= await platform.trace_reaches(intrusion["traceparent"], frame_to_console)
    face_to_console = {"ingest", "identity", "inference", "alerting", "gateway"}
    assert face_to_console <= await platform.trace_reaches(candidate["traceparent"], face_to_console)

    with platform.api("prison-reviewer") as first, platform.api("prison-reviewer2") as second:
        queue = first.get("/api/v1/reviews").json()
        match_id = next(m["match_id"] for m in queue["matches"] if m["source"]["id"] == "cam-known")
        r1 = first.post(f"/api/v1/reviews/{match_id}", json={"decision": "confirm", "reason": "same person"})
        assert r1.status_code == 200, r1.text
        seen_by_second = second.get("/api/v1/reviews").json()
        again = next(m for m in seen_by_second["matches"] if m["match_id"] == match_id)
        assert again["state"] != "MATCH_STATE_CONFIRMED" and len(again["reviews"]) == 1
        r2 = second.post(f"/api/v1/reviews/{match_id}", json={"decision": "confirm", "reason": "agree"})
        assert r2.status_code == 200, r2.text
        assert r2.json()["match"]["state"] == "MATCH_STATE_CONFIRMED"


async def test_unknown_person_gives_intrusion_but_no_candidate(platform: Platform, rtsp) -> None:  # type: ignore[no-untyped-def]
    async with ConsoleFeed(platform.address("gateway"), platform.token("prison-operator")) as feed:
        await add_camera(
            platform.address("ingest"), AGENCY, SITE,
            CameraPlan("cam-unknown", "Staff corridor 2", rtsp.url("unknown"), 1280, 720, zone=_zone(1280, 720)),
        )  # fmt: skip
        await feed.wait_for(_of("cam-unknown", "zone_intrusion"), ALERT_BUDGET_S)
        await asyncio.sleep(10)  # the face was seen by now; a candidate would have arrived
        assert not feed.alerts(_of("cam-unknown", "face_match_candidate"))  # type: ignore[arg-type]


async def test_person_down_in_cell(platform: Platform, rtsp) -> None:  # type: ignore[no-untyped-def]
    async with ConsoleFeed(platform.address("gateway"), platform.token("prison-operator")) as feed:
        await add_camera(
            platform.address("ingest"), AGENCY, SITE,
            CameraPlan("cam-cell", "Cell 12", rtsp.url("fall"), FALL_CLIP.width, FALL_CLIP.height,
                       person_down=True, faces=False, analytic_fps=FALL_CLIP.fps),
        )  # fmt: skip
        down = await feed.wait_for(_of("cam-cell", "person_down"), ALERT_BUDGET_S)
        assert down["alert"]["severity"].lower().endswith("critical")
        # At once the clip of the seconds before; a few seconds later, the seconds after too.
        assert down["alert"]["clip_url"]

        def around(m: dict[str, Any]) -> bool:
            latest = m["alert"].get("latest", {})
            return m["alert"]["alert_id"] == down["alert"]["alert_id"] and "clip_after_s" in latest.get(
                "attributes", {}
            )

        later = await feed.wait_for(around, 20)
    assert later["alert"]["count"] == down["alert"]["count"]
    assert later["alert"]["latest"]["clip"]["key"] != down["alert"]["latest"]["clip"]["key"]
    with platform.api("prison-operator") as api:
        mp4 = api.get(later["alert"]["clip_url"])
    assert mp4.status_code == 200 and mp4.content[4:8] == b"ftyp"
    # The operator opens the cell's live view (MJPEG with zones and tracks drawn): on record.
    with platform.api("prison-operator") as api:
        params = {"seconds": "2", "fps": "2"}
        with api.stream("GET", "/api/v1/cameras/cam-cell/live", params=params) as live:
            assert live.status_code == 200, live.read()
            assert live.headers["content-type"].startswith("multipart/x-mixed-replace; boundary=")
            body = live.read()
    parts = [p for p in body.split(b"--kuzet-frame\r\n") if p]
    assert len(parts) >= 2 and all(b"\r\n\r\n\xff\xd8" in p for p in parts)
    # Per-site permissions: block B's operator learns nothing of block A's cell; block A's sees it.
    alert_id = down["alert"]["alert_id"]
    with platform.api("prison-operator-block-b") as other, platform.api("prison-operator-block-a") as same:
        assert other.get("/api/v1/me").json()["sites"] == ["block-b"]
        assert alert_id not in {a["alert_id"] for a in other.get("/api/v1/alerts").json()["alerts"]}
        assert other.get(f"/api/v1/alerts/{alert_id}").status_code == 404
        assert "cam-cell" not in {c["id"] for c in other.get("/api/v1/cameras").json().get("cameras", [])}
        assert other.get("/api/v1/cameras/cam-cell/live", params={"seconds": "1"}).status_code == 404
        assert same.get(f"/api/v1/alerts/{alert_id}").status_code == 200
        assert "cam-cell" in {c["id"] for c in same.get("/api/v1/cameras").json()["cameras"]}
    with platform.api("prison-auditor") as auditor:
        trail = auditor.get(
            "/api/v1/audit", params={"service": "gateway", "action_prefix": "camera.live"}
        ).json()
    assert "cam-cell" in {r["target"] for r in trail["records"]}


async def test_camera_covered_after_staff_were_in_view_goes_to_oversight(platform: Platform, rtsp) -> None:  # type: ignore[no-untyped-def]
    """Oversight against abuse: a staff member (recognised in the prison's STAFF gallery, no
    review) walks through the corridor, then the lens is covered: the ombudsman gets
    camera_obscured_with_staff; the prison's own operators do not see it."""
    from kuzet.common.testdata import face_photos

    photos = [p for p in face_photos()["obama"] if "obama" in p.name][1:3]
    await create_watchlist(
        platform.address("identity"), AGENCY, "block A officers", {"officer-17": photos}, staff=True
    )
    await add_camera(
        platform.address("ingest"), AGENCY, SITE,
        CameraPlan("cam-staff", "Corridor B", rtsp.url("staff"), 1280, 720, zone=_zone(1280, 720), intrusion=False),
    )  # fmt: skip

    def obscured(user: str) -> list[dict[str, Any]]:
        with platform.api(user) as api:
            alerts = api.get("/api/v1/alerts", params={"page_size": 200}).json()["alerts"]
        return [
            a
            for a in alerts
            if a["type"] == "camera_obscured_with_staff" and a["source"]["id"] == "cam-staff"
        ]

    for _ in range(60):
        if seen := obscured("ombudsman-oversight"):
            break
        await asyncio.sleep(1)
    assert seen, "no camera_obscured_with_staff for the ombudsman"
    attributes = seen[0]["latest"]["attributes"]
    assert attributes["fault"] in ("black", "covered", "offline") and "staff_seen_at" in attributes
    assert not obscured("prison-operator")


async def test_camera_offline_then_back(platform: Platform, rtsp) -> None:  # type: ignore[no-untyped-def]
    async with ConsoleFeed(platform.address("gateway"), platform.token("prison-operator")) as feed:
        await add_camera(
            platform.address("ingest"), AGENCY, SITE,
            CameraPlan("cam-flaky", "Yard", rtsp.url("cell"), 640, 360, intrusion=False, faces=False),
        )  # fmt: skip
        await asyncio.sleep(3)
        rtsp.stop()
        await feed.wait_for(_of("cam-flaky", "camera_offline"), 60)
        rtsp.start()
        resolved = await feed.wait_for(
            lambda m: (
                _of("cam-flaky", "camera_offline")(m)
                and m["alert"].get("state", "").lower().endswith("resolved")
            ),
            90,
        )
    assert resolved["kind"] in ("resolved", "updated")


def test_console_page_is_served(platform: Platform) -> None:
    page = httpx.get(platform.address("gateway") + "/", timeout=10)
    assert page.status_code == 200 and "<html" in page.text.lower()

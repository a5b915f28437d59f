"""Review that cannot be bypassed, through the gateway's REST API.

Real services in this process: inference (onnxruntime, shipped models), identity and alerting
(SQLite), the gateway in front (ASGI) with its local issuer and a second agency IdP. A watchlist
hit, by /identify in alert mode and by a tracked face from "ingest", must name nobody anywhere
until two distinct reviewers confirm it, and an operator may not close it as real before.
"""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from kuzet.alerting.config import AlertingSettings
from kuzet.alerting.server import build as build_alerting
from kuzet.common.caller import Caller, caller_metadata
from kuzet.common.config import Endpoints
from kuzet.common.testdata import face_photos
from kuzet.common.testing import free_port_number
from kuzet.common.tls import secure_channel
from kuzet.common.v1 import common_pb2
from kuzet.gateway.app import create_app
from kuzet.gateway.config import GatewaySettings
from kuzet.gateway.context import build_gateway
from kuzet.gateway.localissuer import DemoUser, LocalIssuer, SigningKey, hash_password
from kuzet.identity.config import IdentitySettings
from kuzet.identity.server import build as build_identity
from kuzet.identity.v1 import identity_pb2, identity_pb2_grpc
from kuzet.inference.config import InferenceSettings
from kuzet.inference.server import build as build_inference

OTHER_IDP = "https://sso.prison-hq.example/realms/staff"
INGEST = Caller("service:ingest", "prison", frozenset({"service"}))
NAME, EXTERNAL_ID = "Watch Person", "W-1047"


@dataclass
class Stack:
    client: httpx.AsyncClient
    headers: dict[str, dict[str, str]]
    identity_address: str

    async def call(self, method: str, url: str, who: str, **kw: Any) -> httpx.Response:
        return await self.client.request(method, url, headers=self.headers[who], **kw)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    inference = await build_inference(InferenceSettings(port=free_port_number(), data_dir=tmp_path / "inf"))
    inference_address = await inference.start()
    alerting, _ = await build_alerting(
        AlertingSettings(
            database_url=f"sqlite:///{tmp_path / 'alerting.db'}",
            data_dir=tmp_path / "a",
            escalation_interval_s=3600,
        ),
        port=0,
    )
    alerting_address = await alerting.start()
    identity, _ = await build_identity(
        IdentitySettings(database_url=f"sqlite:///{tmp_path / 'identity.db'}", data_dir=tmp_path / "id"),
        port=0,
        endpoints=Endpoints(inference=inference_address, alerting=alerting_address),
    )
    identity_address = await identity.start()
    # A second IdP of the same agency whose reviewer has the same username as a local one.
    other = LocalIssuer(OTHER_IDP, "kuzet", [], key=SigningKey.create())
    settings = GatewaySettings(
        data_dir=tmp_path / "gateway", rate_limit_per_second=1000, rate_limit_burst=1000
    )
    gw = build_gateway(
        settings,
        endpoints=Endpoints(
            inference=inference_address, identity=identity_address, alerting=alerting_address
        ),
        extra_issuers={OTHER_IDP: (other.jwks_source, frozenset({"prison"}))},
    )
    local = gw.local_issuer
    assert local is not None
    names = ["prison-admin", "prison-investigator", "prison-operator", "prison-reviewer", "prison-auditor"]
    headers = {n: {"Authorization": f"Bearer {local.issue(local.user(n))}"} for n in names}
    twin = DemoUser(
        username="prison-reviewer", password=hash_password("x"), agency="prison", roles=["reviewer"]
    )
    headers["hq-reviewer"] = {"Authorization": f"Bearer {other.issue(twin)}"}
    transport = httpx.ASGITransport(app=create_app(settings, gateway=gw))
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gateway.test", timeout=60
        ) as client:
            yield Stack(client, headers, identity_address)
    finally:
        await gw.close()
        await identity.stop(0)
        await alerting.stop(0)
        await inference.stop(0)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _crop(photo: bytes, box: dict[str, float]) -> bytes:
    """A loose crop around the face, as ingest sends it."""
    img = Image.open(io.BytesIO(photo)).convert("RGB")
    x1, y1, x2, y2 = (float(box.get(k, 0)) for k in ("x1", "y1", "x2", "y2"))
    pad_x, pad_y = (x2 - x1) * 0.3, (y2 - y1) * 0.3
    out = io.BytesIO()
    img.crop((int(max(0, x1 - pad_x)), int(max(0, y1 - pad_y)), int(x2 + pad_x), int(y2 + pad_y))).save(
        out, "JPEG"
    )
    return out.getvalue()


def _names_nobody(text: str, person_id: str, gallery_id: str) -> None:
    for secret in (NAME, EXTERNAL_ID, person_id, gallery_id):
        assert secret not in text, f"{secret!r} shown before review: {text[:400]}"


async def test_nothing_names_the_match_and_nothing_acts_on_it_before_review(stack: Stack) -> None:
    photos = [p.read_bytes() for p in face_photos()["obama"]]
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    gallery = await stack.call(
        "POST",
        "/api/v1/galleries",
        "prison-admin",
        json={
            "name": "escape risk",
            "kind": "watchlist",
            "purpose": "persons barred from staff areas",
            "legal_basis": "court order 1/2026",
            "owner": "warden",
            "expires_at": expires,
        },
    )
    assert gallery.status_code == 200, gallery.text
    gallery_id = gallery.json()["gallery"]["gallery_id"]
    enrolled = await stack.call(
        "POST",
        f"/api/v1/galleries/{gallery_id}/people",
        "prison-admin",
        json={"external_id": EXTERNAL_ID, "display_name": NAME, "images": [_b64(p) for p in photos[:2]]},
    )
    assert enrolled.status_code == 200, enrolled.text
    person_id = enrolled.json()["person"]["person_id"]

    # 1. /identify in alert mode: a review id and a score, nobody's name, id, gallery or image.
    found = await stack.call(
        "POST",
        "/api/v1/identify",
        "prison-investigator",
        json={"image": _b64(photos[2]), "mode": "alert", "purpose": "gate check 12"},
    )
    assert found.status_code == 200, found.text
    _names_nobody(found.text, person_id, gallery_id)
    (candidate,) = found.json()["candidates"]
    assert candidate["match_id"] and candidate["above_threshold"]
    assert not any(
        candidate.get(k) for k in ("person_id", "display_name", "external_id", "image_id", "gallery_id")
    )

    # 2. A tracked face from ingest: the live alert names nobody either.
    crop = _crop(photos[2], found.json()["probe_face"])
    async with secure_channel(stack.identity_address) as channel:
        hit = await identity_pb2_grpc.IdentityServiceStub(channel).MatchTrack(
            identity_pb2.MatchTrackRequest(
                crop=crop,
                source=common_pb2.Source(kind=common_pb2.SOURCE_KIND_CAMERA, id="cam-gate", site_id="f-12"),
                track_id=7,
            ),
            metadata=caller_metadata(INGEST, audience="identity"),
        )
    assert hit.outcome == identity_pb2.TRACK_OUTCOME_CANDIDATE
    alerts: list[dict[str, Any]] = []
    for _ in range(100):
        listed = await stack.call("GET", "/api/v1/alerts", "prison-operator")
        alerts = [a for a in listed.json()["alerts"] if a["type"] == "face_match_candidate"]
        if alerts:
            break
        await asyncio.sleep(0.1)
    (alert,) = alerts
    _names_nobody(listed.text, person_id, gallery_id)
    match_id = alert["latest"]["attributes"]["match_id"]
    assert alert["subject"] == f"match:{match_id}"
    shown = await stack.call("GET", f"/api/v1/alerts/{alert['alert_id']}", "prison-operator")
    _names_nobody(shown.text, person_id, gallery_id)

    # 3. Not closed as real before the review (409 with the reason); acknowledging is fine.
    early = await stack.call(
        "POST",
        f"/api/v1/alerts/{alert['alert_id']}/resolve",
        "prison-operator",
        json={"outcome": "action_taken"},
    )
    assert early.status_code == 409 and "unconfirmed face_match_candidate" in early.text
    ack = await stack.call(
        "POST", f"/api/v1/alerts/{alert['alert_id']}/acknowledge", "prison-operator", json={}
    )
    assert ack.status_code == 200, ack.text

    # 4. Reviewers open the review (audited) and see who it is; the same person counts once, the
    # same username at another IdP is another person.
    queue = await stack.call("GET", "/api/v1/reviews", "prison-reviewer")
    review = next(m for m in queue.json()["matches"] if m["match_id"] == match_id)
    assert review["candidate"]["display_name"] == NAME
    decision = {"decision": "confirm", "reason": "same person as on file"}
    first = await stack.call("POST", f"/api/v1/reviews/{match_id}", "prison-reviewer", json=decision)
    assert first.status_code == 200 and first.json()["match"]["state"] == "MATCH_STATE_PENDING"
    again = await stack.call("POST", f"/api/v1/reviews/{match_id}", "prison-reviewer", json=decision)
    assert again.status_code == 409
    second = await stack.call("POST", f"/api/v1/reviews/{match_id}", "hq-reviewer", json=decision)
    assert second.status_code == 200, second.text
    confirmed_match = second.json()["match"]
    assert confirmed_match["state"] == "MATCH_STATE_CONFIRMED"
    assert {r["reviewer"] for r in confirmed_match["reviews"]} == {
        "prison/prison-reviewer@local",
        f"prison/prison-reviewer@{OTHER_IDP.split('://')[1]}",
    }

    # 5. Confirmed: the face_match_confirmed alert names the person, and the candidate may be
    # closed as real.
    confirmed: list[dict[str, Any]] = []
    for _ in range(100):
        listed = await stack.call("GET", "/api/v1/alerts", "prison-operator")
        confirmed = [a for a in listed.json()["alerts"] if a["type"] == "face_match_confirmed"]
        if confirmed:
            break
        await asyncio.sleep(0.1)
    assert confirmed and confirmed[0]["latest"]["attributes"]["person_id"] == person_id
    assert confirmed[0]["subject"] == f"match:{match_id}"
    done = await stack.call(
        "POST",
        f"/api/v1/alerts/{alert['alert_id']}/resolve",
        "prison-operator",
        json={"outcome": "action_taken", "note": "stopped at the gate"},
    )
    assert done.status_code == 200, done.text

    # Every view of the review queue is on the audit trail.
    trail = await stack.call(
        "GET",
        "/api/v1/audit",
        "prison-auditor",
        params={"service": "identity", "action_prefix": "identity.review"},
    )
    assert trail.status_code == 200, trail.text
    actions = [r["action"] for r in trail.json()["records"]]
    assert "identity.review.list" in actions and actions.count("identity.review") == 2

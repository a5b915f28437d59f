"""HTTP surface: evidence links and their audit trail, limits, headers, CORS, errors, OpenAPI."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from kuzet.common.v1 import common_pb2
from kuzet.gateway.app import STATIC


async def _alert_with_snapshot(gw: Any, backing: Any, agency: str = "prison") -> tuple[str, bytes]:
    jpeg = b"\xff\xd8\xff\xe0fake-jpeg-bytes\xff\xd9"
    info = await gw.gateway.objects.put(f"{agency}/snapshots/cam-1/1.jpg", jpeg, content_type="image/jpeg")
    ref = common_pb2.ObjectRef(
        key=info.key, sha256=info.sha256, size_bytes=info.size, content_type="image/jpeg"
    )
    return await backing.publish(agency, "zone_intrusion", snapshot=ref), jpeg


async def test_evidence_link_serves_bytes_and_every_view_is_audited(stack: Any) -> None:
    gw, backing = stack
    alert_id, jpeg = await _alert_with_snapshot(gw, backing)
    op = gw.auth("prison-operator")
    alert = (await gw.client.get(f"/api/v1/alerts/{alert_id}", headers=op)).json()["alert"]
    url = alert["snapshot_url"]
    for _ in range(2):
        resp = await gw.client.get(url)  # no bearer token: the link itself is the grant
        assert resp.status_code == 200 and resp.content == jpeg
        assert resp.headers["content-type"] == "image/jpeg"
    trail = (
        await gw.client.get(
            "/api/v1/audit", params={"action_prefix": "evidence."}, headers=gw.auth("prison-auditor")
        )
    ).json()["records"]
    views = [r for r in trail if r["action"] == "evidence.view" and r["outcome"] == "ok"]
    assert len(views) == 2 and {v["actor"] for v in views} == {"prison/prison-operator@local"}
    assert views[0]["details"]["purpose"] == f"alert {alert_id}"
    # Tampered or expired links are refused.
    body, mac = url.removeprefix("/evidence/").split(".")
    bad = await gw.client.get(f"/evidence/{body[:-2]}AA.{mac}")
    assert bad.status_code == 403 and bad.json()["error"]["code"] == "PERMISSION_DENIED"
    expired = gw.gateway.signer.sign(
        "object", "prison/snapshots/cam-1/1.jpg", "prison", "x", "p", roles=["operator"], now=0
    )
    assert (await gw.client.get(f"/evidence/{expired}")).status_code == 403
    # Pilots read alerts but may not view evidence: no link for them.
    pilot = (await gw.client.get(f"/api/v1/alerts/{alert_id}", headers=gw.auth("prison-pilot"))).json()
    assert "snapshot_url" not in pilot["alert"]
    # The audit chain of the gateway verifies.
    verify = (
        await gw.client.post(
            "/api/v1/audit/verify", params={"service": "gateway"}, headers=gw.auth("prison-auditor")
        )
    ).json()
    result = verify["results"][0]["result"]
    # The trail says where its head is anchored (files beside the gateway here: no object lock).
    assert result["ok"] is True and result["anchor_store"] == "local files, no object lock"
    assert result["legacy_records"] == "0" and result["first_bad_seq"] == "0"


async def test_an_alerts_clip_is_an_evidence_link_that_serves_mp4_and_is_audited(stack: Any) -> None:
    gw, backing = stack
    objects = gw.gateway.objects
    jpeg = b"\xff\xd8\xff\xe0still\xff\xd9"
    mp4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2mp41" + b"\x00" * 64
    snap = await objects.put("prison/snapshots/cam-1/2.jpg", jpeg, content_type="image/jpeg")
    clip = await objects.put(
        "clips/prison/cam-1/2026/01/01/120000-7-person_down.mp4", mp4, content_type="video/mp4"
    )

    def ref(info: Any, content_type: str) -> common_pb2.ObjectRef:
        return common_pb2.ObjectRef(
            key=info.key, sha256=info.sha256, size_bytes=info.size, content_type=content_type
        )

    alert_id = await backing.publish(
        "prison", "person_down", snapshot=ref(snap, "image/jpeg"), clip=ref(clip, "video/mp4")
    )
    op = gw.auth("prison-operator")
    alert = (await gw.client.get(f"/api/v1/alerts/{alert_id}", headers=op)).json()["alert"]
    assert alert["latest"]["clip"]["key"] == clip.key
    url = alert["clip_url"]
    assert url.startswith("/evidence/") and url != alert["snapshot_url"]
    resp = await gw.client.get(url)
    # Served whole with its stored type: a <video> plays it from this one response.
    assert resp.status_code == 200 and resp.content == mp4
    assert resp.headers["content-type"] == "video/mp4"
    # The listing signs it too (the console opens the detail from a row of the list).
    listed = (await gw.client.get("/api/v1/alerts", headers=op)).json()["alerts"]
    assert next(a for a in listed if a["alert_id"] == alert_id)["clip_url"].startswith("/evidence/")
    trail = (
        await gw.client.get(
            "/api/v1/audit", params={"action_prefix": "evidence."}, headers=gw.auth("prison-auditor")
        )
    ).json()["records"]
    views = [r for r in trail if r["action"] == "evidence.view" and r["target"] == f"alert_object:{clip.key}"]
    assert len(views) == 1 and views[0]["outcome"] == "ok"
    assert views[0]["actor"] == "prison/prison-operator@local"
    assert views[0]["details"]["purpose"] == f"alert {alert_id}"
    # A role that reads alerts but may not view evidence gets neither link.
    pilot = (await gw.client.get(f"/api/v1/alerts/{alert_id}", headers=gw.auth("prison-pilot"))).json()
    assert "clip_url" not in pilot["alert"] and "snapshot_url" not in pilot["alert"]
    # An alert without a clip has no clip link.
    plain, _ = await _alert_with_snapshot(gw, backing)
    assert "clip_url" not in (await gw.client.get(f"/api/v1/alerts/{plain}", headers=op)).json()["alert"]


async def test_security_headers(gw: Any) -> None:
    for path in ("/", "/api/v1/roles", "/static/js/main.js"):
        resp = await gw.client.get(path)
        assert resp.status_code == 200, path
        csp = resp.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert resp.headers["x-frame-options"] == "DENY"
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert resp.headers["referrer-policy"] == "no-referrer"
    assert (await gw.client.get("/api/v1/roles")).headers["cache-control"] == "no-store"


def test_console_has_no_inline_script_or_markup_from_strings() -> None:
    for file in Path(STATIC).rglob("*.html"):
        html = file.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"inline script in {file}"
        assert not re.search(r"\son[a-z]+=", html) and " style=" not in html, (
            f"inline handler/style in {file}"
        )
    # Vendored libraries are copied unchanged (Leaflet sets string content as markup): the
    # console hands them text nodes and elements only.
    for file in Path(STATIC).rglob("*.js"):
        if "vendor" not in file.relative_to(STATIC).parts:
            assert ".innerHTML" not in file.read_text(), f"{file} builds markup from strings"


async def test_request_size_limit(gateway_factory: Any) -> None:
    gw = await gateway_factory(max_body_bytes=1024)
    headers = gw.auth("prison-investigator")
    big = {"image": "A" * 4096, "purpose": "x"}
    resp = await gw.client.post("/api/v1/identify", json=big, headers=headers)
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"

    async def chunks() -> Any:  # no Content-Length: counted as it arrives
        for _ in range(8):
            yield b"x" * 512

    resp = await gw.client.post("/api/v1/identify", content=chunks(), headers=headers)
    assert resp.status_code == 413


async def test_rate_limit_per_subject(gateway_factory: Any) -> None:
    gw = await gateway_factory(rate_limit_per_second=0.5, rate_limit_burst=3)
    a, b = gw.auth("prison-auditor"), gw.auth("police-auditor")
    codes = [(await gw.client.get("/api/v1/me", headers=a)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = await gw.client.get("/api/v1/me", headers=a)
    assert (
        limited.json()["error"]["code"] == "RESOURCE_EXHAUSTED" and int(limited.headers["retry-after"]) >= 1
    )
    assert (await gw.client.get("/api/v1/me", headers=b)).status_code == 200  # another subject


async def test_cors_only_where_configured(gateway_factory: Any) -> None:
    closed = await gateway_factory()
    pre = {"Origin": "https://console.example", "Access-Control-Request-Method": "GET"}
    resp = await closed.client.options("/api/v1/roles", headers=pre)
    assert "access-control-allow-origin" not in resp.headers
    opened = await gateway_factory(cors_origins=["https://console.example"])
    resp = await opened.client.options("/api/v1/roles", headers=pre)
    assert resp.headers["access-control-allow-origin"] == "https://console.example"
    resp = await opened.client.options("/api/v1/roles", headers={**pre, "Origin": "https://evil.example"})
    assert resp.headers.get("access-control-allow-origin") != "https://evil.example"


async def test_error_bodies_and_openapi(gw: Any) -> None:
    for method, path, status, code in [
        ("GET", "/api/v1/nothing", 404, "NOT_FOUND"),
        ("DELETE", "/api/v1/roles", 405, "METHOD_NOT_ALLOWED"),
        ("GET", "/api/v1/alerts?page_size=0", 401, "UNAUTHENTICATED"),
    ]:
        resp = await gw.client.request(method, path)
        assert resp.status_code == status and resp.json()["error"]["code"] == code
    bad = await gw.client.get("/api/v1/alerts", params={"page_size": 0}, headers=gw.auth("prison-operator"))
    assert bad.status_code == 400 and "page_size" in bad.json()["error"]["message"]
    bad = await gw.client.get(
        "/api/v1/alerts", params={"state": "sleeping"}, headers=gw.auth("prison-operator")
    )
    assert bad.status_code == 400 and "state" in bad.json()["error"]["message"]
    doc = (await gw.client.get("/openapi.json")).json()
    assert "ErrorBody" in doc["components"]["schemas"]
    assert "kuzet.alerting.v1.Alert" in doc["components"]["schemas"]
    assert all("422" not in op["responses"] for p in doc["paths"].values() for op in p.values())


async def test_local_issuer_mounted_and_marked(gw: Any) -> None:
    disc = (await gw.client.get("/oidc/.well-known/openid-configuration")).json()
    assert disc["issuer"].endswith("/oidc") and disc["jwks_uri"].endswith("/oidc/jwks.json")
    resp = await gw.client.post(
        "/oidc/token",
        data={"grant_type": "password", "username": "prison-operator", "password": "kuzet-demo"},
    )
    token = resp.json()["access_token"]
    me = (await gw.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).json()
    assert me["agency"] == "prison" and "alerts.act" in me["permissions"]
    bad = await gw.client.post(
        "/oidc/token", data={"grant_type": "password", "username": "prison-operator", "password": "guess"}
    )
    assert bad.status_code == 401
    signins = [e for e in gw.gateway.audit.list(action_prefix="auth.") if e.actor == "prison-operator"]
    assert [e.outcome for e in signins] == ["ok", "denied"]
    assert all("guess" not in str(e.details) for e in signins)
    assert (await gw.client.get("/api/v1/config")).json()["local_issuer"] is True


async def test_local_issuer_can_be_disabled(gateway_factory: Any) -> None:
    gw = await gateway_factory(
        local_issuer=False,
        issuers=["https://idp.example/realms/prison"],
        issuer_agencies={"https://idp.example/realms/prison": ["prison"]},
    )
    assert (await gw.client.post("/oidc/token", data={})).status_code == 404
    assert gw.gateway.validator.issuers == ["https://idp.example/realms/prison"]
    assert isinstance(gw.client, httpx.AsyncClient)


def test_no_issuer_at_all_is_a_configuration_error(make_settings: Any) -> None:
    from kuzet.common.errors import ConfigError
    from kuzet.gateway.context import build_gateway

    with pytest.raises(ConfigError, match="KUZET_GATEWAY_ISSUERS"):
        build_gateway(make_settings(local_issuer=False))


def test_every_issuer_is_bound_to_the_agencies_it_may_assert(make_settings: Any) -> None:
    from kuzet.common.errors import ConfigError
    from kuzet.gateway.context import build_gateway

    idp = "https://idp.example/realms/prison"
    with pytest.raises(
        ConfigError, match=re.escape(f"issuer {idp} has no entry in KUZET_GATEWAY_ISSUER_AGENCIES")
    ):
        build_gateway(make_settings(local_issuer=False, issuers=[idp]))
    with pytest.raises(
        ConfigError, match=re.escape("names issuers not in KUZET_GATEWAY_ISSUERS: https://typo.example")
    ):
        build_gateway(
            make_settings(
                local_issuer=False,
                issuers=[idp],
                issuer_agencies={idp: ["prison"], "https://typo.example": ["police"]},
            )
        )


async def test_access_log_masks_credentials(stack: Any, caplog: Any) -> None:
    gw, backing = stack
    alert_id, _ = await _alert_with_snapshot(gw, backing)
    op = gw.auth("prison-operator")
    url = (await gw.client.get(f"/api/v1/alerts/{alert_id}", headers=op)).json()["alert"]["snapshot_url"]
    with caplog.at_level("INFO", logger="kuzet.gateway.access"):
        await gw.client.get(url)
        await gw.client.get("/api/v1/alerts?token=secret-in-query", headers=op)
    lines = [r.getMessage() for r in caplog.records if r.name == "kuzet.gateway.access"]
    assert "GET /evidence/*** 200" in lines[0] and url.split("/")[-1] not in " ".join(lines)
    assert lines[1].startswith("GET /api/v1/alerts 200") and "secret-in-query" not in lines[1]
    assert caplog.records[-1].agency == "prison"


async def test_the_gateways_own_trail_pages_like_every_service_trail(stack: Any) -> None:
    gw, _ = stack
    for i in range(5):
        await gw.gateway.audit.record("test.paging", f"item-{i}", agency="prison")
    auditor = gw.auth("prison-auditor")
    seen: list[str] = []
    token = ""
    while True:
        params = {"action_prefix": "test.paging", "page_size": 2, "page_token": token}
        page = (await gw.client.get("/api/v1/audit", params=params, headers=auditor)).json()
        seen += [r["target"] for r in page["records"]]
        token = page["page"].get("next_page_token", "")
        if not token:
            break
    assert seen == [f"item-{i}" for i in range(5)]
    bad = await gw.client.get("/api/v1/audit", params={"page_token": "17"}, headers=auditor)
    assert bad.status_code == 400 and "page_token" in bad.json()["error"]["message"]

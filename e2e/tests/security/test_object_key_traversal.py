"""Path traversal through the ids that become object keys or file paths, at the platform's gateway.

Camera ids name the snapshot and clip keys (snapshots/<agency>/<camera>/...), hold item, case
and source ids name objects, and an evidence link names a key. Each hostile value ('..', an
absolute path, NUL, a backslash, a slash or a trailing newline) gets a 4xx with a message, and
nothing named after it appears anywhere under the platform's data directory (its local object
store included). The stores themselves refuse such keys on the local store and SeaweedFS
(services/common/tests/test_objectstore.py).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from kuzet.e2e.platform import Platform

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _hostile(marker: str) -> list[str]:
    """Values no id may be ("a/b" is one more for camera ids, whose keys put them in one segment)."""
    return [
        f"../../{marker}",
        f"../{marker}",
        f"/tmp/{marker}",
        f"{marker}/..",
        f"{marker}/../..",
        f"{marker}\x00.jpg",
        f"..\\..\\{marker}",
        f"{marker}\n",
        "..",
        ".",
    ]


def _quoted(value: str) -> str:
    """Every character percent-encoded, dots too: the client would resolve '..' itself."""
    return "".join(f"%{b:02X}" for b in value.encode())


def _named_after(root: Path, marker: str) -> list[Path]:
    return [p for p in root.parent.rglob(f"*{marker}*")]


def _send(client: httpx.Client, method: str, url: str, **kw: Any) -> httpx.Response:
    """The reply, once the gateway's rate limit lets the request through."""
    for _ in range(20):
        reply = client.request(method, url, **kw)
        if reply.status_code != 429:
            return reply
        time.sleep(float(reply.headers.get("retry-after", "1")))
    raise AssertionError(f"{method} {url}: still rate limited")


def _in_path(marker: str) -> list[str]:
    # "." and ".." alone are resolved by any HTTP client before they leave it (RFC 3986).
    return [v for v in _hostile(marker) if v not in (".", "..")]


def _refused(reply: httpx.Response, where: str) -> None:
    assert 400 <= reply.status_code < 500 and reply.status_code != 429, f"{where}: {reply.text}"
    assert reply.json()["error"]["message"], where


def test_hostile_camera_ids_are_refused(platform: Platform) -> None:
    marker = f"trav{uuid.uuid4().hex[:8]}"
    camera = {"site_id": "s1", "name": "x", "url": "rtsp://127.0.0.1:9/x", "enabled": True}
    with platform.api("prison-admin") as admin:
        for value in [*_hostile(marker), f"a/{marker}"]:
            reply = _send(admin, "POST", "/api/v1/cameras", json={**camera, "id": value})
            assert reply.status_code == 400, f"create {value!r}: {reply.status_code} {reply.text}"
            assert "camera.id" in reply.json()["error"]["message"], reply.text
        for value in [*_in_path(marker), f"a/{marker}"]:
            url = f"/api/v1/cameras/{_quoted(value)}"
            for method, kw in (("GET", {}), ("PUT", {"json": {**camera, "id": value}}), ("DELETE", {})):
                _refused(_send(admin, method, url, **kw), f"{method} camera {value!r}")
            _refused(_send(admin, "GET", url + "/snapshot", params={"reason": "x"}), f"snapshot {value!r}")
        listed = _send(admin, "GET", "/api/v1/cameras").text
    assert marker not in listed
    assert _named_after(platform.launcher.data_dir, marker) == []


@pytest.mark.parametrize("field", ["item_id", "case_id", "source_id"])
def test_hostile_hold_ids_are_refused(platform: Platform, field: str) -> None:
    marker = f"trav{uuid.uuid4().hex[:8]}"
    kinds = ("identity.match", "ingest.object", "alerting.alert")  # one service each
    with platform.api("prison-investigator") as investigator:
        for i, value in enumerate(_hostile(marker)):
            body = {"kind": kinds[i % len(kinds)], "reason": "hostile input", field: value}
            reply = _send(investigator, "POST", "/api/v1/holds", json=body)
            assert reply.status_code == 400, f"{body}: {reply.status_code} {reply.text}"
            assert field in reply.json()["error"]["message"], reply.text
        listed = _send(investigator, "GET", "/api/v1/holds").text
    assert marker not in listed
    assert _named_after(platform.launcher.data_dir, marker) == []


def test_an_evidence_link_naming_a_path_is_refused(platform: Platform) -> None:
    marker = f"trav{uuid.uuid4().hex[:8]}"
    with platform.api("prison-operator") as operator:
        for value in [*_in_path(marker), "../../../../etc/passwd", "objects/../gateway.db"]:
            reply = _send(operator, "GET", f"/evidence/{_quoted(value)}")
            _refused(reply, f"evidence {value!r}")
            assert b"root:" not in reply.content
    assert _named_after(platform.launcher.data_dir, marker) == []

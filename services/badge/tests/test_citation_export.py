"""`kuzet export-citations` against a real HTTP register started by the test: it fails half-way,
acknowledges some, rejects one and leaves one unanswered; re-runs send only what is not
acknowledged, each under the key it was first sent with."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from kuzet.badge.export import cli
from kuzet.badge.export.exporter import NOT_ACKNOWLEDGED, CitationExporter, ExportReport
from kuzet.badge.export.register import RegisterClient
from kuzet.badge.server import BadgeApp
from kuzet.badge.sim import register_badges
from kuzet.badge.v1 import badge_pb2 as A
from kuzet.common.httptesting import JsonHandler, JsonServer

from .conftest import AGENCY
from .test_citation_life_cycle import SUPERVISOR, Stub, issue, move
from .test_records import OFFICER

OPERATOR = "clerk-7"


class Register:
    """The register on loopback: numbers each citation once (the same number for a key sent
    again), rejects the citations in ``reject``, leaves those in ``unanswered`` out of its answer
    once, and answers 503 to the request numbered ``fail_request`` (from 1)."""

    def __init__(self) -> None:
        self.numbers: dict[str, str] = {}
        self.reject: dict[str, str] = {}
        self.unanswered: set[str] = set()
        self.fail_request = 0
        self.requests: list[list[dict[str, Any]]] = []
        self.authorization: list[str] = []
        register = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                items = self.read_json()["citations"]
                register.requests.append(items)
                register.authorization.append(self.headers.get("Authorization", ""))
                if len(register.requests) == register.fail_request:
                    self.send_json(503, {"error": "maintenance"})
                    return
                self.send_json(200, {"results": [r for item in items if (r := register.answer(item))]})

        self.server = JsonServer(Handler, "/v1/offences/citations")
        self.url = self.server.url

    def answer(self, item: dict[str, Any]) -> dict[str, Any] | None:
        key, citation_id = item["idempotency_key"], item["citation"]["citation_id"]
        if citation_id in self.unanswered:
            self.unanswered.discard(citation_id)
            return None
        if citation_id in self.reject:
            return {"idempotency_key": key, "outcome": "rejected", "reason": self.reject[citation_id]}
        number = self.numbers.setdefault(citation_id, f"AO-{len(self.numbers) + 1:06d}")
        return {"idempotency_key": key, "outcome": "accepted", "register_id": number}

    def keys(self, request: int) -> list[str]:
        return [item["idempotency_key"] for item in self.requests[request]]

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def register() -> Iterator[Register]:
    server = Register()
    try:
        yield server
    finally:
        server.close()


async def export(app: BadgeApp, register: Register, **kw: Any) -> ExportReport:
    client = RegisterClient(register.url, token="s3cret")
    exporter = CitationExporter(app.database, app.evidence.audit, client, batch_size=2)
    return await exporter.run(AGENCY, OPERATOR, **kw)


async def get(stub: Stub, citation_id: str) -> A.Citation:
    return (await stub.GetCitation(A.GetCitationRequest(citation_id=citation_id))).citation


async def test_a_failing_register_gets_only_what_it_has_not_acknowledged(
    app: BadgeApp, admin: Stub, stub_for: Any, register: Register
) -> None:
    await register_badges(admin, AGENCY, ["C-1"], unit="traffic-north")
    officer = stub_for(OFFICER)
    ids = sorted([(await issue(officer)).citation_id for _ in range(5)])
    a, b, c, d, e = ids
    register.reject[b] = "plate 01 A 123 BC is not in the vehicle register"
    register.unanswered.add(d)
    register.fail_request = 3  # [a, b] answered, [c, d] half answered, [e] meets a 503

    first = await export(app, register)
    assert (first.outcome, first.counts()) == (
        "failed",
        {"sent": 5, "acknowledged": 2, "rejected": 1, "unacknowledged": 2, "batches": 3},
    )
    assert "HTTP 503" in first.error
    assert [r.citation_id for r in first.rejected] == [b]
    assert register.authorization == ["Bearer s3cret"] * 3
    assert register.keys(0) == [f"{a}:1", f"{b}:1"]
    sent = register.requests[0][0]["citation"]
    assert sent["status"] == "CITATION_STATUS_ISSUED" and sent["unit_id"] == "traffic-north"
    assert sent["offence_code"] == "TR-201" and "register" not in sent
    assert "next_statuses" not in sent  # our life cycle's offer to callers, not the register's

    acknowledged = await get(officer, a)
    assert acknowledged.register.register_id == register.numbers[a]
    assert acknowledged.register.exported_version == 1 and acknowledged.register.HasField("exported_at")
    assert (await get(officer, c)).register.register_id == register.numbers[c]
    rejected = await get(officer, b)
    assert rejected.register.rejected and "not in the vehicle register" in rejected.register.last_error
    assert (await get(officer, d)).register.last_error == NOT_ACKNOWLEDGED
    assert "HTTP 503" in (await get(officer, e)).register.last_error

    # The re-run sends only d and e, under the keys they were first sent with; b is not retried.
    second = await export(app, register)
    assert (second.outcome, second.counts()) == (
        "exported",
        {"sent": 2, "acknowledged": 2, "rejected": 0, "unacknowledged": 0, "batches": 1},
    )
    assert register.keys(3) == [f"{d}:1", f"{e}:1"] and register.keys(2) == [f"{e}:1"]
    assert (await get(officer, e)).register.last_error == ""
    nothing = await export(app, register)
    assert nothing.counts()["sent"] == 0 and len(register.requests) == 4

    # A change of status is a new version: sent again with its register number and new key.
    await move(stub_for(SUPERVISOR), a, A.CITATION_STATUS_VOIDED, "duplicate of another citation")
    changed = await export(app, register)
    assert changed.counts()["acknowledged"] == 1 and register.keys(4) == [f"{a}:2"]
    body = register.requests[4][0]["citation"]
    assert body["register_id"] == register.numbers[a] and body["status"] == "CITATION_STATUS_VOIDED"
    assert [h["to_status"] for h in body["history"]] == ["CITATION_STATUS_ISSUED", "CITATION_STATUS_VOIDED"]
    assert (await get(officer, a)).register.exported_version == 2

    # Once the register's cause is fixed, the rejection is sent again on request.
    del register.reject[b]
    retried = await export(app, register, retry_rejected=True)
    assert retried.counts()["acknowledged"] == 1 and register.keys(5) == [f"{b}:1"]
    assert not (await get(officer, b)).register.rejected

    runs = app.evidence.audit.list(action_prefix="citation.export")
    assert [(r.outcome, r.actor, r.target) for r in runs][:2] == [
        ("failed", OPERATOR, register.url),
        ("ok", OPERATOR, register.url),
    ]
    assert {k: runs[0].details[k] for k in ("sent", "acknowledged", "rejected", "unacknowledged")} == {
        "sent": 5,
        "acknowledged": 2,
        "rejected": 1,
        "unacknowledged": 2,
    }
    assert runs[0].details["rejections"] == [{"citation_id": b, "reason": first.rejected[0].reason}]
    assert "not in the vehicle register" in first.rejected[0].reason
    assert "s3cret" not in json.dumps([r.details for r in runs])


async def test_the_command_exports_with_the_service_settings(
    app: BadgeApp, admin: Stub, stub_for: Any, register: Register, monkeypatch: pytest.MonkeyPatch
) -> None:
    await register_badges(admin, AGENCY, ["C-1"])
    citation = await issue(stub_for(OFFICER))
    monkeypatch.setenv(cli.TOKEN_ENV, "from-env")
    opts = cli.parser().parse_args(
        ["--register", register.url, "--agency", AGENCY, "--operator", OPERATOR, "--json"]
    )
    report = await cli.export_citations(opts, app.settings)
    assert report.outcome == "exported" and report.acknowledged == 1
    assert register.authorization == ["Bearer from-env"]
    out = io.StringIO()
    cli.print_report(report, as_json=True, out=out)
    assert json.loads(out.getvalue())["counts"]["acknowledged"] == 1
    assert (await get(stub_for(OFFICER), citation.citation_id)).register.register_id == "AO-000001"
    with pytest.raises(ValueError, match="http:// or https://"):
        RegisterClient("ftp://register")

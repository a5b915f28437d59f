"""Stolen or wanted vehicles into a hotlist (`kuzet import-vehicles`) while the real traffic service
runs on the same database: drops on a real S3 server (SeaweedFS) as CSV and JSON, a REST source
served by a real HTTP server, re-runs that change nothing, conflicting or malformed rows and a
source failing half-way that write nothing, and one audit record per run with its count."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.json_format import MessageToDict

from kuzet.common.connectors.base import ImportReport, RawSource
from kuzet.common.connectors.filedrop import FileDrop
from kuzet.common.connectors.rest import RestSource, Retry
from kuzet.common.httptesting import PagedServer
from kuzet.common.objectstore import ObjectStore
from kuzet.common.testing import S3Server
from kuzet.common.timeutil import utcnow
from kuzet.traffic.config import TrafficSettings
from kuzet.traffic.connectors import cli
from kuzet.traffic.connectors.cli import import_into_hotlist
from kuzet.traffic.connectors.hotlistsink import ACTION, HotlistTarget
from kuzet.traffic.v1 import traffic_pb2

from .conftest import ADMIN, AGENCY, Traffic, camera, observation, start_traffic
from .test_hotlists import audit_records, entries
from .test_observations import record

BASIS = "Criminal Procedure Code art. 231"
FEED = "national-stolen"
IMPORTER = "importer-3"
FAST = Retry(attempts=3, first_delay_s=0.01, max_delay_s=0.05)
FIELDS = ["external_id", "plate", "reason", "source", "legal_basis", "expires_at", "vehicle"]


def vehicle(external_id: str, plate: str, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "external_id": external_id,
        "plate": plate,
        "reason": "stolen vehicle",
        "source": "National Police stolen vehicles",
        "legal_basis": BASIS,
        "expires_at": (utcnow() + timedelta(days=60)).date().isoformat(),
        "vehicle": "white Toyota Camry",
    }
    record.update(fields)
    return record


def csv_bytes(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


@dataclass
class Setup:
    traffic: Traffic
    settings: TrafficSettings
    store: ObjectStore

    async def run(
        self, source: RawSource, *, delta: bool = False, feed: str = FEED, bases: tuple[str, ...] = ()
    ) -> ImportReport:
        target = HotlistTarget(AGENCY, IMPORTER, snapshot=not delta)
        return await import_into_hotlist(self.settings, source, target, feed, bases)

    async def drop(self, key: str, rows: list[dict[str, Any]]) -> FileDrop:
        data = csv_bytes(rows) if key.endswith(".csv") else json.dumps({"records": rows}).encode()
        await self.store.put(key, data)
        return FileDrop(self.store, key)

    async def hotlist(self, **kw: Any) -> dict[str, traffic_pb2.HotlistEntry]:
        return {e.plate: e for e in await entries(self.traffic, **kw)}

    async def audit(self) -> list[dict[str, Any]]:
        """The import runs' audit records, oldest first, as dicts."""
        found = await audit_records(self.traffic, ACTION)
        return sorted((MessageToDict(r) for r in found), key=lambda r: int(r["seq"]))


@pytest.fixture
async def setup(db_url: str, tmp_path: Path, s3_server: S3Server) -> AsyncIterator[Setup]:
    # The import writes to the service's database with the service's settings, as the CLI does.
    traffic = await start_traffic(db_url, tmp_path)
    try:
        await traffic.stub(ADMIN).ConfigureCamera(traffic_pb2.ConfigureCameraRequest(camera=camera()))
        yield Setup(
            traffic, TrafficSettings(database_url=db_url, data_dir=tmp_path / "cli"), s3_server.store()
        )
    finally:
        await traffic.close()


def details(audit: dict[str, Any]) -> dict[str, Any]:
    return dict(audit["details"])


async def test_csv_and_json_drops_go_on_the_hotlist_and_a_rerun_changes_nothing(setup: Setup) -> None:
    # v-2 is typed with a Cyrillic A, as a national register may hold it.
    rows = [vehicle("v-1", "123 abc 02"), vehicle("v-2", "\u0410585CUO", vehicle="")]
    report = await setup.run(await setup.drop("drops/2026-12-07/stolen.csv", rows))

    assert report.outcome == "applied", report
    assert (report.added, report.updated, report.removed, report.unchanged) == (2, 0, 0, 0)
    held = await setup.hotlist()
    assert sorted(held) == ["123ABC02", "A585CUO"]  # normalised as UpsertHotlistEntries does
    first = held["123ABC02"]
    assert (first.reason, first.source, first.legal_basis) == (
        "stolen vehicle",
        "National Police stolen vehicles",
        BASIS,
    )
    assert first.created_by == IMPORTER
    # The service matches read plates against the import at once.
    seen = await record(setup.traffic, [observation(1, utcnow(), plate="123ABC02")])
    assert seen.hotlist_hits == 1

    # The same list as JSON, rows reordered: the same content, nothing to change.
    again = await setup.run(await setup.drop("drops/2026-12-07/stolen.json", rows[::-1]))
    assert again.outcome == "applied" and again.changes == 0 and again.unchanged == 2
    assert again.content_sha256 == report.content_sha256

    first_audit, second_audit = await setup.audit()
    assert (first_audit["actor"], first_audit["agencyId"], first_audit["outcome"]) == (IMPORTER, AGENCY, "ok")
    assert details(first_audit)["count"] == 2
    assert details(first_audit)["plates"] == ["123ABC02", "A585CUO"]
    assert details(first_audit)["run_id"] == report.run_id
    assert details(first_audit)["source"] == "drops/2026-12-07/stolen.csv"
    assert details(second_audit)["count"] == 0 and details(second_audit)["counts"]["unchanged"] == 2


async def test_changes_and_absences_follow_the_source(setup: Setup) -> None:
    one, two = vehicle("v-1", "123ABC02"), vehicle("v-2", "456XYZ02")
    assert (await setup.run(await setup.drop("d/1.json", [one, two]))).added == 2

    # v-1 changes its reason, v-2 is gone from the snapshot: its entry expires, it is not erased.
    changed = dict(one, reason="used in a robbery")
    report = await setup.run(await setup.drop("d/2.json", [changed]))
    assert (report.added, report.updated, report.removed, report.unchanged) == (0, 1, 1, 0)
    held = await setup.hotlist()
    assert sorted(held) == ["123ABC02"] and held["123ABC02"].reason == "used in a robbery"
    assert "456XYZ02" in await setup.hotlist(include_expired=True)

    # A delta lists changes only: what it does not name stays.
    assert (await setup.run(await setup.drop("d/3.json", []), delta=True)).changes == 0
    assert sorted(await setup.hotlist()) == ["123ABC02"]

    # The record coming back restores its entry; a corrected plate moves it.
    moved = dict(changed, plate="789BCD01")
    report = await setup.run(await setup.drop("d/4.json", [moved, two]))
    assert (report.added, report.updated, report.removed) == (0, 2, 0)
    assert sorted(await setup.hotlist()) == ["456XYZ02", "789BCD01"]
    *_, last = await setup.audit()
    assert sorted(details(last)["updated"]) == ["v-1", "v-2"]
    assert details(last)["plates"] == ["123ABC02", "456XYZ02", "789BCD01"]  # the moved one's too


async def test_conflicting_or_malformed_rows_reject_the_whole_batch(setup: Setup) -> None:
    assert (await setup.run(await setup.drop("d/first.csv", [vehicle("v-0", "555KMN17")]))).added == 1
    rows = [
        vehicle("v-1", "123ABC02"),  # line 2
        vehicle("v-2", "123 ABC 02", reason="another reason"),  # the same plate, other data
        vehicle("v-3", "12-AB-C"),  # not a Kazakhstan plate
        vehicle("v-4", "456XYZ02", expires_at=(utcnow() - timedelta(days=1)).date().isoformat()),
        vehicle("v-5", "789BCD01", legal_basis=""),
        vehicle("v-6", "100AAA05", expires_at="soon"),
        vehicle("v-7", "321BBB02"),  # a good row: not applied either
    ]
    data = csv_bytes(rows) + b"v-8,888AAA02\n"
    await setup.store.put("d/bad.csv", data)

    report = await setup.run(FileDrop(setup.store, "d/bad.csv"))

    assert report.outcome == "rejected" and report.changes == 0
    found = {r.row: (r.external_id, r.reason) for r in report.rejected}
    assert sorted(found) == [2, 3, 4, 5, 6, 7, 9]
    assert found[2] == ("v-1", "plate 123ABC02 also on row(s) 3 of this batch")
    assert found[3] == ("v-2", "plate 123ABC02 also on row(s) 2 of this batch")
    assert "not a Kazakhstan plate" in found[4][1]
    assert "456XYZ02: it expired at" in found[5][1]
    assert found[6] == ("v-5", "legal_basis is missing")
    assert "neither a date" in found[7][1]
    assert found[9] == ("v-8", "2 cells, the header has 7")
    # Nothing of the batch was written, and the earlier import is untouched (no snapshot removal).
    assert sorted(await setup.hotlist(include_expired=True)) == ["555KMN17"]
    *_, audit = await setup.audit()
    assert audit["outcome"] == "rejected" and details(audit)["counts"]["rejected"] == 7
    assert details(audit)["rejected_rows"][4] == {
        "row": 6,
        "external_id": "v-5",
        "reason": "legal_basis is missing",
    }

    # A legal basis the import does not accept, and an entry another feed imports, are refused too.
    other = await setup.run(await setup.drop("d/other.json", [vehicle("x-1", "555KMN17")]), feed="regional")
    assert [r.reason for r in other.rejected] == [
        "plate 555KMN17 from 'National Police stolen vehicles' is already imported by feed 'national-stolen'"
    ]
    strict = await setup.run(
        await setup.drop("d/strict.json", [vehicle("v-0", "555KMN17")]), bases=("Act 9",)
    )
    assert [r.reason for r in strict.rejected] == [f"legal basis {BASIS!r} is not one this import accepts"]


@pytest.mark.parametrize(
    ("key", "data", "message"),
    [
        ("d/v.json", b'{"records": [{"external_id": "v-1"', "not JSON"),
        ("d/v.csv", b'external_id,plate\n"v-1,unterminated\n', "line"),
        ("d/v.csv", b"\xff\xfeexternal_id\n", "not UTF-8"),
        ("d/none.csv", None, "no such file"),
    ],
)
async def test_a_malformed_file_fails_the_run_and_writes_nothing(
    setup: Setup, key: str, data: bytes | None, message: str
) -> None:
    if data is not None:
        await setup.store.put(key, data)
    report = await setup.run(FileDrop(setup.store, key))
    assert report.outcome == "failed" and message in report.error
    assert await setup.hotlist(include_expired=True) == {}
    (audit,) = await setup.audit()
    assert audit["outcome"] == "failed" and details(audit)["error"] == report.error


async def test_a_rest_source_failing_half_way_applies_nothing(setup: Setup) -> None:
    server = PagedServer([vehicle(f"v-{i}", f"{100 + i}ABC02") for i in range(1, 6)], "/v1/vehicles")
    try:
        server.fail_page, server.fail_times = 2, -1
        report = await setup.run(RestSource(server.url, page_size=2, retry=FAST))
        assert report.outcome == "failed" and "page 2 failed after 3 attempt(s)" in report.error
        assert await setup.hotlist(include_expired=True) == {}

        server.fail_times = 0
        report = await setup.run(RestSource(server.url, page_size=2, retry=FAST))
        assert report.outcome == "applied" and report.added == 5
        assert server.pages_asked()[-3:] == [1, 2, 3]
        assert (await setup.run(RestSource(server.url, page_size=2, retry=FAST))).changes == 0
    finally:
        server.close()
    assert [a["outcome"] for a in await setup.audit()] == ["failed", "ok", "ok"]


async def test_the_command_imports_with_the_services_settings(
    setup: Setup,
    s3_server: S3Server,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bucket = s3_server.store(object_lock=False)
    await bucket.put("drop/v.csv", csv_bytes([vehicle("v-1", "123ABC02")]))
    await bucket.put("drop/bad.csv", csv_bytes([vehicle("v-1", "123ABC02", legal_basis="")]))
    monkeypatch.setenv("KUZET_TRAFFIC_DATABASE_URL", setup.settings.database_url)
    monkeypatch.setenv("KUZET_TRAFFIC_DATA_DIR", str(setup.settings.data_dir))
    monkeypatch.setenv("KUZET_S3_ACCESS_KEY", s3_server.access_key)
    monkeypatch.setenv("KUZET_S3_SECRET_KEY", s3_server.secret_key)
    store_url = f"s3://{bucket.bucket}?endpoint={s3_server.endpoint}&object_lock=false"
    args = ["--agency", AGENCY, "--feed", FEED, "--operator", IMPORTER, "--drop-store", store_url]

    # The command runs its own event loop, as it does from a shell.
    assert await asyncio.to_thread(cli.main, [*args, "--drop-key", "drop/v.csv", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["added"] == 1
    assert await asyncio.to_thread(cli.main, [*args, "--drop-key", "drop/v.csv"]) == 0
    assert "applied: feed national-stolen" in capsys.readouterr().out
    assert await asyncio.to_thread(cli.main, [*args, "--drop-key", "drop/bad.csv"]) == 1
    out = capsys.readouterr().out
    assert "rejected row 2 (v-1): legal_basis is missing" in out and "nothing was imported" in out
    assert await asyncio.to_thread(cli.main, [*args, "--drop-key", "drop/v.csv", "--rest", "http://x"]) == 2
    assert "give either --rest" in capsys.readouterr().err
    assert sorted(await setup.hotlist()) == ["123ABC02"]
    assert [details(a)["count"] for a in await setup.audit() if a["outcome"] == "ok"] == [1, 0]

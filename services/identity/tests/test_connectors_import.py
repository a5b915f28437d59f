"""Wanted persons into a watchlist through the real identity service and the real inference
service: enrolled from their photos, findable by Identify, re-runs change nothing, changes and
absences follow the source, and a batch with one bad row or a source failing half-way writes
nothing. Each run is one audit record with its counts."""

from __future__ import annotations

import argparse
import base64
import io
import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from kuzet.common.config import Endpoints
from kuzet.common.connectors.base import ImportReport, RawSource, run_import
from kuzet.common.connectors.cli import source_of
from kuzet.common.connectors.filedrop import FileDrop
from kuzet.common.connectors.reporting import print_report
from kuzet.common.connectors.rest import RestSource
from kuzet.common.errors import FailedPrecondition, PermissionDenied
from kuzet.common.httptesting import PagedServer
from kuzet.common.objectstore import ObjectStore
from kuzet.common.testing import S3Server
from kuzet.common.timeutil import as_utc, utcnow
from kuzet.identity.connectors import cli
from kuzet.identity.connectors.models import ImportedEntryRow
from kuzet.identity.connectors.wanted import WantedPersonsConnector
from kuzet.identity.connectors.watchlist import ACTION, WatchlistSink, WatchlistTarget
from kuzet.identity.models import ChangeRow, ImageRow, PersonRow
from kuzet.identity.v1 import identity_pb2 as pb

from .conftest import Photos, Running, jpeg
from .test_connectors_sources import BASIS, FAST, csv_bytes, wanted

pytestmark = pytest.mark.asyncio(loop_scope="session")

FEED = "national-wanted"
OPERATOR = "importer-7"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def no_face() -> bytes:
    return jpeg(Image.new("RGB", (320, 240), (128, 128, 128)))


def sink(
    running: Running, gallery_id: str, *, snapshot: bool = True, agency: str = "prison"
) -> WatchlistSink:
    app = running.app
    return WatchlistSink(
        app.database,
        app.audit,
        app.objects,
        app.servicer.faces,
        WatchlistTarget(gallery_id, agency, OPERATOR, snapshot=snapshot),
        after_commit=app.changes.catch_up,
    )


async def run(running: Running, gallery_id: str, source: RawSource, **kw: Any) -> ImportReport:
    return await run_import(WantedPersonsConnector(source, [BASIS]), sink(running, gallery_id, **kw), FEED)


async def drop_json(store: ObjectStore, key: str, records: list[dict[str, Any]]) -> FileDrop:
    await store.put(key, json.dumps(records).encode(), "application/json")
    return FileDrop(store, key)


def people(running: Running, gallery_id: str) -> dict[str, PersonRow]:
    with running.app.database.session() as s:
        rows = s.scalars(select(PersonRow).where(PersonRow.gallery_id == gallery_id))
        return {p.external_id: p for p in rows}


def expiry_of(person: PersonRow) -> datetime:
    assert person.expires_at is not None
    return as_utc(person.expires_at)


def entries(running: Running, gallery_id: str) -> dict[str, ImportedEntryRow]:
    with running.app.database.session() as s:
        rows = s.scalars(select(ImportedEntryRow).where(ImportedEntryRow.gallery_id == gallery_id))
        return {e.external_id: e for e in rows}


def counts(running: Running) -> tuple[int, int, int]:
    """People, images and change-feed rows: what any write would add to."""
    with running.app.database.session() as s:
        return (
            s.scalar(select(func.count()).select_from(PersonRow)) or 0,
            s.scalar(select(func.count()).select_from(ImageRow)) or 0,
            s.scalar(select(func.count()).select_from(ChangeRow)) or 0,
        )


def import_audit(running: Running, gallery_id: str) -> list[Any]:
    return running.app.audit.list(action_prefix=ACTION, target=gallery_id)


async def found(running: Running, photo: bytes) -> int:
    """How many candidates an Identify with ``photo`` gets."""
    return len((await running.identify(photo)).candidates)


async def test_a_drop_enrols_findable_entries_and_a_rerun_changes_nothing(
    identity: Running, photos: Photos, s3_server: S3Server
) -> None:
    store = s3_server.store()
    watchlist = await identity.gallery(legal_basis=BASIS)
    expiry = (utcnow() + timedelta(days=60)).replace(microsecond=0)
    await store.put("drop/photos/biden.jpg", photos.biden, "image/jpeg")
    drop = await drop_json(
        store,
        "drop/wanted.json",
        [
            wanted("w-1", photo=b64(photos.obama[0]), expires_at=expiry.isoformat()),
            wanted("w-2", photo_path="photos/biden.jpg", date_of_birth="1942-11-20"),
            wanted("w-3"),  # no photo
        ],
    )

    report = await run(identity, watchlist.gallery_id, drop)

    assert report.outcome == "applied", report
    assert (report.added, report.updated, report.removed, report.unchanged) == (2, 0, 0, 0)
    assert [(s.row, s.external_id, s.reason) for s in report.skipped] == [
        (3, "w-3", "no photo: a watchlist entry needs a face")
    ]
    held = people(identity, watchlist.gallery_id)
    assert sorted(held) == ["w-1", "w-2"]
    assert held["w-1"].display_name == "Given Surname-w-1" and held["w-1"].enrolled_by == OPERATOR
    assert expiry_of(held["w-1"]) == expiry  # the record's expiry is the entry's
    kept = entries(identity, watchlist.gallery_id)
    assert kept["w-2"].legal_basis == BASIS and kept["w-2"].reason == "arrest warrant 2026/551"
    assert kept["w-2"].source == "National Police wanted persons"
    assert kept["w-2"].date_of_birth == date(1942, 11, 20)
    assert {e.run_id for e in kept.values()} == {report.run_id}
    # Enrolled like EnrolPerson: another photo of the same person finds the entry.
    assert await found(identity, photos.obama[1]) == 1
    (record,) = import_audit(identity, watchlist.gallery_id)
    assert (record.actor, record.agency, record.outcome) == (OPERATOR, "prison", "ok")
    assert record.details["run_id"] == report.run_id and record.details["source"] == "drop/wanted.json"
    assert record.details["counts"] == {
        "added": 2,
        "updated": 0,
        "removed": 0,
        "unchanged": 0,
        "skipped": 1,
        "rejected": 0,
    }
    assert sorted(record.details["added"]) == ["w-1", "w-2"]

    before = counts(identity)
    again = await run(identity, watchlist.gallery_id, drop)

    assert again.outcome == "applied" and again.changes == 0 and again.unchanged == 2
    assert again.content_sha256 == report.content_sha256
    assert counts(identity) == before
    assert [r.details["counts"]["unchanged"] for r in import_audit(identity, watchlist.gallery_id)] == [0, 2]


async def test_a_changed_record_updates_its_entry_and_a_gone_one_expires(
    identity: Running, photos: Photos, tmp_path: Path
) -> None:
    from kuzet.common.objectstore import LocalObjectStore

    store = LocalObjectStore(tmp_path / "drop")
    watchlist = await identity.gallery(legal_basis=BASIS)
    obama = wanted("w-1", photo=b64(photos.obama[0]))
    biden = wanted("w-2", photo=b64(photos.biden))
    assert (
        await run(identity, watchlist.gallery_id, await drop_json(store, "d/1.json", [obama, biden]))
    ).added == 2
    first_image = entries(identity, watchlist.gallery_id)["w-1"].photo_sha256

    later = (utcnow() + timedelta(days=90)).replace(microsecond=0)
    obama_changed = dict(
        obama, photo=b64(photos.obama[1]), reason="second warrant", expires_at=later.isoformat()
    )
    report = await run(identity, watchlist.gallery_id, await drop_json(store, "d/2.json", [obama_changed]))

    assert (report.added, report.updated, report.removed, report.unchanged) == (0, 1, 1, 0)
    held = people(identity, watchlist.gallery_id)
    assert expiry_of(held["w-1"]) == later
    assert expiry_of(held["w-2"]) <= utcnow()  # expired, not erased
    kept = entries(identity, watchlist.gallery_id)
    assert kept["w-1"].reason == "second warrant" and kept["w-1"].photo_sha256 != first_image
    with identity.app.database.session() as s:
        images = list(s.scalars(select(ImageRow).where(ImageRow.person_id == held["w-1"].person_id)))
    assert len(images) == 1 and images[0].sha256 == kept["w-1"].photo_sha256
    assert await found(identity, photos.biden) == 0
    (_, record) = import_audit(identity, watchlist.gallery_id)
    assert record.details["updated"] == ["w-1"] and record.details["expired"] == ["w-2"]

    # The record coming back restores its entry; the same snapshot again changes nothing.
    back = await drop_json(store, "d/3.json", [obama_changed, biden])
    restored = await run(identity, watchlist.gallery_id, back)
    assert (restored.added, restored.updated, restored.removed, restored.unchanged) == (0, 1, 0, 1)
    assert await found(identity, photos.biden) == 1
    assert (await run(identity, watchlist.gallery_id, back)).changes == 0

    # A delta source lists changes only: entries it does not name stay as they are.
    delta = await run(identity, watchlist.gallery_id, await drop_json(store, "d/4.json", []), snapshot=False)
    assert delta.changes == 0 and await found(identity, photos.biden) == 1
    # A record whose expiry passed expires its entry.
    ended = dict(biden, expires_at=(utcnow() - timedelta(days=1)).date().isoformat())
    report = await run(
        identity, watchlist.gallery_id, await drop_json(store, "d/5.json", [ended]), snapshot=False
    )
    assert (report.updated, report.removed) == (0, 1)
    assert await found(identity, photos.biden) == 0


async def test_one_bad_row_rejects_the_whole_batch(
    identity: Running, photos: Photos, s3_server: S3Server
) -> None:
    store = s3_server.store()
    watchlist = await identity.gallery(legal_basis=BASIS)
    await store.put("drop/grey.jpg", no_face(), "image/jpeg")
    rows = [
        wanted("w-1", photo_path=""),
        wanted("w-2", photo_path="grey.jpg"),
        wanted("w-3", date_of_birth="20-11-1942"),
        wanted("w-4", legal_basis="unknown act"),
        wanted("w-1"),
    ]
    await store.put("drop/w.csv", csv_bytes(rows), "text/csv")
    before = counts(identity)

    report = await run(identity, watchlist.gallery_id, FileDrop(store, "drop/w.csv"))

    assert report.outcome == "rejected" and report.changes == 0
    assert [(r.row, r.external_id) for r in report.rejected] == [
        (2, "w-1"),
        (3, "w-2"),
        (4, "w-3"),
        (5, "w-4"),
        (6, "w-1"),
    ]
    assert report.rejected[1].reason.startswith("photo refused: no face")
    assert counts(identity) == before and entries(identity, watchlist.gallery_id) == {}
    assert await store.list("identity/") == [] and await identity.app.objects.list("identity/") == []
    (record,) = import_audit(identity, watchlist.gallery_id)
    assert record.outcome == "rejected" and record.details["counts"]["rejected"] == 5
    assert record.details["rejected_rows"][2] == {
        "row": 4,
        "external_id": "w-3",
        "reason": "date_of_birth '20-11-1942' is not a date (YYYY-MM-DD)",
    }

    # Corrected, the same list goes in whole.
    rows = [wanted("w-1", photo=b64(photos.obama[0])), wanted("w-2", photo=b64(photos.biden))]
    fixed = await run(identity, watchlist.gallery_id, await drop_json(store, "drop/fixed.json", rows))
    assert fixed.outcome == "applied" and fixed.added == 2


async def test_a_rest_source_failing_half_way_applies_nothing(identity: Running, photos: Photos) -> None:
    watchlist = await identity.gallery(legal_basis=BASIS)
    server = PagedServer(
        [
            wanted("w-1", photo=b64(photos.obama[0])),
            wanted("w-2", photo=b64(photos.biden)),
            wanted("w-3", photo=b64(photos.obama[1])),
        ]
    )
    try:
        server.fail_page, server.fail_times = 2, -1
        before = counts(identity)
        report = await run(identity, watchlist.gallery_id, RestSource(server.url, page_size=2, retry=FAST))

        assert report.outcome == "failed" and "page 2 failed after 3 attempt(s)" in report.error
        assert counts(identity) == before
        (record,) = import_audit(identity, watchlist.gallery_id)
        assert record.outcome == "failed" and record.details["error"] == report.error

        server.fail_times = 0
        report = await run(identity, watchlist.gallery_id, RestSource(server.url, page_size=2, retry=FAST))
        # w-1 and w-3 are one person: two entries of a wanted list may be, the reviewer decides.
        assert report.outcome == "applied" and report.added == 3
    finally:
        server.close()


async def test_imports_respect_the_watchlist_rules(identity: Running, photos: Photos, tmp_path: Path) -> None:
    from kuzet.common.objectstore import LocalObjectStore

    drop = await drop_json(
        LocalObjectStore(tmp_path / "d"), "w.json", [wanted("w-1", photo=b64(photos.biden))]
    )
    watchlist = await identity.gallery(legal_basis=BASIS)
    with pytest.raises(PermissionDenied, match="another agency"):
        await run(identity, watchlist.gallery_id, drop, agency="police")
    staff = await identity.gallery(kind=pb.GALLERY_KIND_STAFF, required_reviewers=1)
    with pytest.raises(FailedPrecondition, match="is not a watchlist"):
        await run(identity, staff.gallery_id, drop)
    assert people(identity, watchlist.gallery_id) == {}


async def test_the_cli_imports_through_the_same_code_and_replicas_see_it(
    identity: Running,
    photos: Photos,
    s3_server: S3Server,
    inference_address: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bucket = s3_server.store(object_lock=False)
    watchlist = await identity.gallery(legal_basis=BASIS)
    await bucket.put("drop/obama.jpg", photos.obama[0], "image/jpeg")
    await bucket.put("drop/w.csv", csv_bytes([wanted("w-1", photo_path="obama.jpg")]), "text/csv")
    monkeypatch.setenv("KUZET_S3_ACCESS_KEY", s3_server.access_key)
    monkeypatch.setenv("KUZET_S3_SECRET_KEY", s3_server.secret_key)
    opts = cli.parser().parse_args(
        [
            "--watchlist",
            watchlist.gallery_id,
            "--agency",
            "prison",
            "--feed",
            FEED,
            "--operator",
            OPERATOR,
            "--drop-store",
            f"s3://{bucket.bucket}?endpoint={s3_server.endpoint}&object_lock=false",
            "--drop-key",
            "drop/w.csv",
        ]
    )
    # No --legal-basis: records may cite the watchlist's own.
    # The service's own settings: the CLI writes to its database and object store.
    report = await cli.import_wanted(opts, identity.app.settings, Endpoints(inference=inference_address))
    assert report.outcome == "applied" and report.added == 1
    out = io.StringIO()
    print_report(report, as_json=True, out=out)
    assert json.loads(out.getvalue())["counts"]["added"] == 1
    # The service learns of the CLI's write through the change feed, as any replica does.
    await identity.app.changes.catch_up()
    assert await found(identity, photos.obama[1]) == 1
    with pytest.raises(ValueError, match="either --rest"):
        source_of(argparse.Namespace(rest="http://x", drop_key="k", drop_store="s"))

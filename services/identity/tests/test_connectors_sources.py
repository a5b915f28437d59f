"""Connector sources: a file dropped in an object store (the local store and a real SeaweedFS
S3 server) read as CSV or JSON, and a paged REST source served by a real HTTP server that the
test starts and can make fail on any page. Every malformed row is reported with its row."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from kuzet.common.connectors.base import Batch, SourceFailed, collect
from kuzet.common.connectors.filedrop import FileDrop
from kuzet.common.connectors.rest import RestSource, Retry
from kuzet.common.httptesting import PagedServer
from kuzet.common.objectstore import ObjectStore
from kuzet.identity.connectors.wanted import WantedPerson, WantedPersonsConnector

pytestmark = pytest.mark.asyncio(loop_scope="session")

BASIS = "Code of Criminal Procedure art. 98"
FIELDS = [
    "external_id",
    "surname",
    "given_names",
    "date_of_birth",
    "reason",
    "source",
    "legal_basis",
    "expires_at",
    "photo_path",
]
FAST = Retry(attempts=3, first_delay_s=0.01, max_delay_s=0.05)


def wanted(external_id: str | int, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "external_id": external_id,
        "surname": f"Surname-{external_id}",
        "given_names": "Given",
        "date_of_birth": "1980-04-02",
        "reason": "arrest warrant 2026/551",
        "source": "National Police wanted persons",
        "legal_basis": BASIS,
        "expires_at": (date.today() + timedelta(days=60)).isoformat(),
    }
    record.update(fields)
    return record


def csv_bytes(rows: list[dict[str, Any]], header: list[str] = FIELDS) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


async def read(source: Any, bases: list[str] | None = None) -> Batch[WantedPerson]:
    return await collect(WantedPersonsConnector(source, bases or [BASIS]), "national-wanted")


def reasons(batch: Batch[WantedPerson]) -> dict[int, str]:
    return {r.row: r.reason for r in batch.rejected}


# -- the file drop ------------------------------------------------------------------------------


async def test_a_csv_and_a_json_drop_give_the_same_records(object_store: ObjectStore) -> None:
    photo = b"\xff\xd8 photo bytes"
    await object_store.put("drops/2026-12-07/photos/w-1.jpg", photo, "image/jpeg")
    rows = [wanted("w-1", photo_path="photos/w-1.jpg"), wanted("w-2", date_of_birth="")]
    await object_store.put("drops/2026-12-07/wanted.csv", csv_bytes(rows), "text/csv")
    as_json = [dict(rows[0], photo_path=None, photo=base64.b64encode(photo).decode()), rows[1]]
    await object_store.put("drops/2026-12-07/wanted.json", json.dumps({"records": as_json}).encode())

    from_csv = await read(FileDrop(object_store, "drops/2026-12-07/wanted.csv"))
    from_json = await read(FileDrop(object_store, "drops/2026-12-07/wanted.json"))

    assert from_csv.rejected == [] and from_json.rejected == []
    first, second = from_csv.records
    assert (first.row, second.row) == (2, 3)  # CSV rows are the file's lines: the header is line 1
    assert [r.row for r in from_json.records] == [1, 2]
    assert first.photo == photo and second.photo is None and second.date_of_birth is None
    assert first.display_name == "Given Surname-w-1" and first.date_of_birth == date(1980, 4, 2)
    assert first.expires_at == datetime.combine(date.today() + timedelta(days=60), datetime.min.time(), UTC)
    # The run's key is its content, not its format or row order: the same list is the same run.
    assert from_csv.content_sha256 == from_json.content_sha256
    reordered = [as_json[1], as_json[0]]
    await object_store.put("drops/2026-12-07/again.json", json.dumps(reordered).encode())
    assert (await read(FileDrop(object_store, "drops/2026-12-07/again.json"))).content_sha256 == (
        from_json.content_sha256
    )


async def test_every_malformed_row_is_reported_with_its_row_and_reason(object_store: ObjectStore) -> None:
    rows = [
        wanted("w-1"),  # line 2, and again on line 6
        wanted(""),
        wanted("w-3", date_of_birth="1990-13-01"),
        wanted("w-4", legal_basis="Decree 7 of the Minister"),
        wanted("w-1", reason="second warrant"),
        wanted("w-6", photo_path="photos/missing.jpg"),
        wanted("w-7", photo_path="../other-agency/photo.jpg"),
        wanted("w-8", expires_at="2027-01-01T00:00:00"),
        wanted("w-9", expires_at="next year"),
        wanted("w-10", surname="", given_names=""),
        wanted("w-11", reason=""),
        wanted("w-12"),
    ]
    data = csv_bytes(rows) + b"w-13,too,few,cells\n"
    await object_store.put("drop/wanted.csv", data, "text/csv")

    batch = await read(FileDrop(object_store, "drop/wanted.csv"))

    assert [r.external_id for r in batch.records] == ["w-12"]
    found = reasons(batch)
    assert sorted(found) == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14]
    assert found[2] == "external id also on row(s) 6 of this batch"
    assert found[6] == "external id also on row(s) 2 of this batch"
    assert found[3] == "external_id is missing"
    assert "date_of_birth '1990-13-01' is not a date" in found[4]
    assert found[5] == "legal basis 'Decree 7 of the Minister' is not one this import accepts"
    assert "not in the drop" in found[7]
    assert "without '..'" in found[8]
    assert "has no UTC offset" in found[9]
    assert "neither a date" in found[10]
    assert found[11] == "surname or given_names is required"
    assert found[12] == "reason is missing"
    assert found[14] == "4 cells, the header has 9"
    assert {r.external_id for r in batch.rejected if r.row == 14} == {"w-13"}


async def test_malformed_json_records_are_reported(object_store: ObjectStore) -> None:
    records = [
        wanted("w-1", photo="not base64!"),
        "a string, not a record",
        wanted("w-3", photo=base64.b64encode(b"x").decode(), photo_path="photos/x.jpg"),
        wanted(4),  # a number is a usable id
        wanted("w-5", surname=["a", "list"]),
        wanted("w-6", photo=""),
    ]
    await object_store.put("drop/wanted.json", json.dumps(records).encode())

    batch = await read(FileDrop(object_store, "drop/wanted.json"))

    assert [r.external_id for r in batch.records] == ["4", "w-6"]
    assert reasons(batch) == {
        1: "photo is not valid base64",
        2: "not a JSON object",
        3: "give photo or photo_path, not both",
        5: "surname must be text, got list",
    }


@pytest.mark.parametrize(
    ("key", "data", "message"),
    [
        ("d/w.json", b'{"records": [{"external_id": "w-1"', "not JSON"),
        ("d/w.json", b'{"people": []}', "expected a list of records"),
        ("d/w.csv", b'external_id,surname\n"w-1,unterminated\n', "line"),
        ("d/w.csv", b"", "empty file"),
        ("d/w.csv", b"external_id,surname,surname\nw-1,a,b\n", "repeated column name"),
        ("d/w.csv", b"\xff\xfeexternal_id\n", "not UTF-8"),
    ],
)
async def test_a_broken_file_is_refused_as_a_whole(
    object_store: ObjectStore, key: str, data: bytes, message: str
) -> None:
    await object_store.put(key, data)
    with pytest.raises(SourceFailed, match=message):
        await read(FileDrop(object_store, key))


async def test_a_missing_drop_file_fails_and_other_formats_are_refused(object_store: ObjectStore) -> None:
    with pytest.raises(SourceFailed, match="no such file"):
        await read(FileDrop(object_store, "drop/none.csv"))
    with pytest.raises(ValueError, match=r"ends in \.csv or \.json"):
        FileDrop(object_store, "drop/wanted.xml")


# -- the REST source ----------------------------------------------------------------------------


@pytest.fixture
def paged() -> Iterator[PagedServer]:
    server = PagedServer([wanted(f"w-{i}") for i in range(1, 6)], "/v1/wanted")
    try:
        yield server
    finally:
        server.close()


async def test_the_rest_source_reads_every_page_with_its_token(paged: PagedServer) -> None:
    batch = await read(RestSource(paged.url, token="s3cret", page_size=2, retry=FAST))
    assert [r.external_id for r in batch.records] == [f"w-{i}" for i in range(1, 6)]
    assert [r.row for r in batch.records] == [1, 2, 3, 4, 5]
    assert paged.pages_asked() == [1, 2, 3]
    assert {auth for _, auth in paged.requests} == {"Bearer s3cret"}
    assert batch.source == paged.url  # the token is never part of what is reported or audited


async def test_a_page_that_fails_for_a_while_is_asked_for_again(paged: PagedServer) -> None:
    paged.fail_page, paged.fail_times, paged.fail_status = 2, 2, 503
    batch = await read(RestSource(paged.url, page_size=2, retry=FAST))
    assert len(batch.records) == 5
    assert paged.pages_asked() == [1, 2, 2, 2, 3]


async def test_a_source_failing_half_way_fails_the_whole_run(paged: PagedServer) -> None:
    paged.fail_page, paged.fail_times = 2, -1
    with pytest.raises(SourceFailed, match=r"page 2 failed after 3 attempt\(s\): HTTP 500"):
        await read(RestSource(paged.url, page_size=2, retry=FAST))
    assert paged.pages_asked() == [1, 2, 2, 2]


async def test_a_refusal_is_not_retried_and_an_unreachable_source_fails(paged: PagedServer) -> None:
    paged.fail_page, paged.fail_times, paged.fail_status = 1, -1, 403
    with pytest.raises(SourceFailed, match="HTTP 403"):
        await read(RestSource(paged.url, page_size=2, retry=FAST))
    assert paged.pages_asked() == [1]
    paged.close()
    with pytest.raises(SourceFailed, match=r"page 1 failed after 3 attempt\(s\): ConnectError"):
        await read(RestSource(paged.url, page_size=2, retry=FAST))

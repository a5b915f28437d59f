"""Evidence over real gRPC: resumable hashed upload, custody, export, verification, retention."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import update

from kuzet.badge.models import CustodyRow
from kuzet.badge.server import BadgeApp
from kuzet.badge.sim import register_badges
from kuzet.badge.v1 import badge_pb2 as A
from kuzet.badge.v1 import badge_pb2_grpc
from kuzet.common.caller import Caller, caller_metadata
from kuzet.common.errors import Unavailable
from kuzet.common.grpcclient import open_channel
from kuzet.common.objectstore import LocalObjectStore
from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.common.v1 import common_pb2

from .conftest import ADMIN, AGENCY

Stub = badge_pb2_grpc.BadgeServiceStub


def md() -> tuple[tuple[str, str], ...]:
    """The admin's caller metadata, minted now (tokens expire: never keep one for a session)."""
    return tuple(caller_metadata(ADMIN, audience="badge"))


CHUNK = 64 * 1024


def recording(size: int, seed: int = 1) -> bytes:
    return hashlib.sha256(str(seed).encode()).digest() * (size // 32) + b"x" * (size % 32)


def metadata(
    data: bytes, *, days_ago: float = 0.0, category: str = "evidential", **extra: Any
) -> A.EvidenceMetadata:
    captured = utcnow() - timedelta(days=days_ago)
    return A.EvidenceMetadata(
        upload_id=uuid.uuid4().hex,
        badge_id="E-1",
        captured_at=to_timestamp(captured),
        captured_until=to_timestamp(captured + timedelta(minutes=2)),
        category=category,
        content_type="video/mp4",
        total_size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        chunk_size=CHUNK,
        **extra,
    )


def chunks(data: bytes, indexes: Iterable[int] | None = None) -> list[A.EvidenceChunk]:
    count = -(-len(data) // CHUNK)
    result = []
    for i in indexes if indexes is not None else range(count):
        part = data[i * CHUNK : (i + 1) * CHUNK]
        result.append(A.EvidenceChunk(index=i, data=part, sha256=hashlib.sha256(part).hexdigest()))
    return result


async def upload(
    stub: Stub, meta: A.EvidenceMetadata, parts: list[A.EvidenceChunk]
) -> A.UploadEvidenceResponse:
    async def requests() -> AsyncIterator[A.UploadEvidenceRequest]:
        yield A.UploadEvidenceRequest(metadata=meta)
        for part in parts:
            yield A.UploadEvidenceRequest(chunk=part)

    response: A.UploadEvidenceResponse = await stub.UploadEvidence(requests(), metadata=md())
    return response


async def store_item(stub: Stub, size: int = 3 * CHUNK + 100, seed: int = 1, **meta: Any) -> A.Evidence:
    data = recording(size, seed)
    response = await upload(stub, metadata(data, **meta), chunks(data))
    assert response.complete, response
    return response.evidence


@pytest.fixture
async def badge(admin: Stub) -> None:
    await register_badges(admin, AGENCY, ["E-1"])


async def test_interrupted_upload_resumes_from_confirmed_chunks(
    app: BadgeApp, admin: Stub, badge: None
) -> None:
    data = recording(40 * CHUNK + 1234)
    meta = metadata(data)
    parts = chunks(data)
    sent = asyncio.Event()

    async def first_part() -> AsyncIterator[A.UploadEvidenceRequest]:
        yield A.UploadEvidenceRequest(metadata=meta)
        for part in parts[:25]:
            yield A.UploadEvidenceRequest(chunk=part)
        sent.set()
        await asyncio.Event().wait()  # the connection stalls here

    # (Iterator mode: the OpenTelemetry client interceptor waits for the end of a client stream
    # before handing out the call, so write() mode would block.)
    call = admin.UploadEvidence(first_part(), metadata=md())
    waiter = asyncio.ensure_future(call)
    await asyncio.wait_for(sent.wait(), 10)
    await asyncio.sleep(0.3)
    call.cancel()  # the badge lost its connection mid-upload
    with pytest.raises((asyncio.CancelledError, grpc.aio.AioRpcError)):
        await waiter
    status = A.GetUploadStatusResponse()
    for _ in range(50):
        await asyncio.sleep(0.1)
        status = await admin.GetUploadStatus(A.GetUploadStatusRequest(upload_id=meta.upload_id))
        if status.confirmed_chunks:
            break
    assert not status.complete and status.total_chunks == 41
    confirmed = set(status.confirmed_chunks)
    assert confirmed and confirmed <= set(range(25))
    assert list(status.missing_chunks) == [i for i in range(41) if i not in confirmed]
    # Resume: only the missing chunks, newest first to prove the order does not matter.
    response = await upload(admin, meta, chunks(data, reversed(list(status.missing_chunks))))
    assert response.complete, response
    evidence = response.evidence
    assert evidence.object.sha256 == hashlib.sha256(data).hexdigest() == meta.sha256
    assert evidence.status == A.EVIDENCE_STATUS_STORED and evidence.officer_id == "officer-E-1"
    assert await app.objects.get(evidence.object.key) == data
    # Sending the same upload again is a no-op that returns the same item.
    again = await upload(admin, meta, [])
    assert again.complete and again.evidence.evidence_id == evidence.evidence_id


async def test_the_store_adopts_the_staged_file_and_lists_no_staged_upload(
    app: BadgeApp, admin: Stub, badge: None
) -> None:
    # Staged in the local store's own staging directory: finishing moves the file, no copy.
    assert app.objects.staging_dir is not None and app.evidence.staging == app.objects.staging_dir
    data = recording(3 * CHUNK + 5)
    meta = metadata(data)
    parts = chunks(data)
    first = await upload(admin, meta, parts[:2])
    assert not first.complete and (app.evidence.staging / f"{meta.upload_id}.part").exists()
    assert await app.objects.list() == []  # half an upload is no object
    done = await upload(admin, meta, parts[2:])
    assert done.complete
    assert list(app.evidence.staging.iterdir()) == []
    assert await app.objects.list() == [done.evidence.object.key]
    assert await app.objects.get(done.evidence.object.key) == data


@pytest.mark.parametrize("object_kept", [True, False])
async def test_upload_stored_but_not_committed_resumes(
    app: BadgeApp, admin: Stub, badge: None, monkeypatch: pytest.MonkeyPatch, object_kept: bool
) -> None:
    data = recording(4 * CHUNK)
    meta = metadata(data)

    def lost_database(*args: Any) -> None:
        raise RuntimeError("database connection lost")

    monkeypatch.setattr(app.evidence, "_commit_evidence", lost_database)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await upload(admin, meta, chunks(data))
    assert err.value.code() == grpc.StatusCode.INTERNAL
    monkeypatch.undo()
    # put_file moved the staging file into the store; the commit never happened.
    assert not (app.evidence.staging / f"{meta.upload_id}.part").exists()
    [key] = await app.objects.list("evidence/")
    if object_kept:
        # Nothing to send again: the stored object is checked and committed.
        done = await upload(admin, meta, [])
        assert done.complete and done.evidence.object.key == key
    else:
        await app.objects.delete(key)  # lost as well: every chunk is asked for again
        again = await upload(admin, meta, [])
        assert not again.complete and list(again.missing_chunks) == [0, 1, 2, 3]
        done = await upload(admin, meta, chunks(data))
        assert done.complete
    assert await app.objects.get(done.evidence.object.key) == data
    assert done.evidence.object.sha256 == meta.sha256


async def test_store_unreachable_at_the_end_keeps_every_chunk_confirmed(
    app: BadgeApp, admin: Stub, badge: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = recording(3 * CHUNK)
    meta = metadata(data)

    async def unreachable(*args: Any, **kwargs: Any) -> None:
        raise Unavailable("object store unreachable: ConnectionRefusedError")

    monkeypatch.setattr(app.objects, "put_file", unreachable)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await upload(admin, meta, chunks(data))
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    monkeypatch.undo()
    status = await admin.GetUploadStatus(A.GetUploadStatusRequest(upload_id=meta.upload_id))
    assert sorted(status.confirmed_chunks) == [0, 1, 2] and not status.missing_chunks
    done = await upload(admin, meta, [])  # nothing to send again
    assert done.complete and await app.objects.get(done.evidence.object.key) == data


async def test_corrupted_chunk_is_rejected_and_re_requested(app: BadgeApp, admin: Stub, badge: None) -> None:
    data = recording(5 * CHUNK)
    meta = metadata(data)
    parts = chunks(data)
    broken = A.EvidenceChunk(index=2, data=b"\x00" + parts[2].data[1:], sha256=parts[2].sha256)
    response = await upload(admin, meta, [parts[0], parts[1], broken, parts[3], parts[4]])
    assert not response.complete
    assert list(response.rejected_chunks) == [2] and list(response.missing_chunks) == [2]
    response = await upload(admin, meta, [parts[2]])
    assert response.complete and response.evidence.object.sha256 == meta.sha256


async def test_whole_file_hash_mismatch_is_refused(app: BadgeApp, admin: Stub, badge: None) -> None:
    data = recording(2 * CHUNK)
    meta = metadata(data)
    meta.sha256 = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await upload(admin, meta, chunks(data))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "SHA-256" in (
        err.value.details() or ""
    )
    listing = await admin.ListEvidence(A.ListEvidenceRequest())
    assert len(listing.evidence) == 0


async def test_bad_upload_metadata_is_invalid_argument(app: BadgeApp, admin: Stub, badge: None) -> None:
    data = recording(CHUNK)
    for change, words in (
        ({"sha256": "abc"}, "sha256"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"category": "Bad Category"}, "category"),
        ({"upload_id": ""}, "upload_id"),
    ):
        meta = metadata(data)
        for key, value in change.items():
            setattr(meta, key, value)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await upload(admin, meta, chunks(data))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and words in (err.value.details() or "")
    meta = metadata(data)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await upload(admin, meta, [A.EvidenceChunk(index=7, data=b"x", sha256="0" * 64)])
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "index 7" in (err.value.details() or "")


async def test_evidence_is_listed_by_incident_page_by_page(app: BadgeApp, admin: Stub, badge: None) -> None:
    size = CHUNK + 10
    oldest = await store_item(admin, size, seed=11, days_ago=2, incident_id="INC-1")
    await store_item(admin, size, seed=12, days_ago=1.5, incident_id="INC-2")
    await store_item(admin, size, seed=13, days_ago=1.2)
    newest = await store_item(admin, size, seed=14, days_ago=1, incident_id="INC-1", case_id="CASE-9")

    listed = await admin.ListEvidence(A.ListEvidenceRequest(incident_id="INC-1"))
    assert [e.evidence_id for e in listed.evidence] == [oldest.evidence_id, newest.evidence_id]
    assert not listed.page.next_page_token
    # Each page holds only the incident's items: paging never hands out a page of others.
    first = await admin.ListEvidence(
        A.ListEvidenceRequest(incident_id="INC-1", page=common_pb2.PageRequest(page_size=1))
    )
    assert [e.evidence_id for e in first.evidence] == [oldest.evidence_id] and first.page.next_page_token
    second = await admin.ListEvidence(
        A.ListEvidenceRequest(
            incident_id="INC-1",
            page=common_pb2.PageRequest(page_size=1, page_token=first.page.next_page_token),
        )
    )
    assert [e.evidence_id for e in second.evidence] == [newest.evidence_id]
    assert not second.page.next_page_token
    # With the other filters, not instead of them.
    both = await admin.ListEvidence(A.ListEvidenceRequest(incident_id="INC-1", case_id="CASE-9"))
    assert [e.evidence_id for e in both.evidence] == [newest.evidence_id]
    assert not (await admin.ListEvidence(A.ListEvidenceRequest(incident_id="INC-3"))).evidence
    assert len((await admin.ListEvidence(A.ListEvidenceRequest())).evidence) == 4


async def test_custody_chain_records_every_step_and_export_manifest(
    app: BadgeApp, admin: Stub, badge: None
) -> None:
    evidence = await store_item(admin, case_id="CASE-1")
    await admin.GetEvidence(A.GetEvidenceRequest(evidence_id=evidence.evidence_id, reason="review"))
    await admin.ShareEvidence(
        A.ShareEvidenceRequest(
            evidence_id=evidence.evidence_id, recipient_agency_id="prosecutor", reason="case"
        )
    )
    export = await admin.ExportEvidence(
        A.ExportEvidenceRequest(evidence_ids=[evidence.evidence_id], recipient="city court", reason="trial")
    )
    custody = await admin.GetCustody(A.GetCustodyRequest(evidence_id=evidence.evidence_id))
    actions = [A.CustodyAction.Name(r.action) for r in custody.records]
    assert actions == [
        "CUSTODY_ACTION_CAPTURED",
        "CUSTODY_ACTION_RECEIVED",
        "CUSTODY_ACTION_STORED",
        "CUSTODY_ACTION_CASE_LINKED",
        "CUSTODY_ACTION_VIEWED",
        "CUSTODY_ACTION_SHARED",
        "CUSTODY_ACTION_EXPORTED",
    ]
    assert custody.chain_ok
    assert custody.records[0].actor == "badge:E-1"
    # Every step is also in the service's audit trail, which verifies.
    actions = {e.action for e in app.evidence.audit.list(agency=AGENCY, target=evidence.evidence_id)}
    assert {"evidence.upload", "evidence.view", "evidence.share"} <= actions
    assert app.evidence.audit.verify().ok
    assert hashlib.sha256(export.manifest.encode()).hexdigest() == export.manifest_sha256
    line = f"{evidence.evidence_id}\t{evidence.object.sha256}\t{evidence.object.size_bytes}\t{custody.records[-1].hash}"
    assert line in export.manifest.splitlines()
    assert export.items[0].custody[-1].hash == custody.records[-1].hash
    # The other agency can read the shared item; a third cannot.
    prosecutor = Caller("p-1", "prosecutor", frozenset({"investigator"}))
    stranger = Caller("s-1", "traffic", frozenset({"investigator"}))
    for caller, ok in ((prosecutor, True), (stranger, False)):
        channel = open_channel(app.server.address, audience="badge", caller=caller)
        try:
            stub = badge_pb2_grpc.BadgeServiceStub(channel)
            if ok:
                seen = await stub.GetEvidence(A.GetEvidenceRequest(evidence_id=evidence.evidence_id))
                assert seen.evidence.object.sha256 == evidence.object.sha256
            else:
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await stub.GetEvidence(A.GetEvidenceRequest(evidence_id=evidence.evidence_id))
                assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        finally:
            await channel.close()
    # Editing a custody step breaks the chain at that step.
    with app.database.session() as session:
        session.execute(
            update(CustodyRow)
            .where(CustodyRow.evidence_id == evidence.evidence_id, CustodyRow.seq == 5)
            .values(actor="someone-else")
        )
    custody = await admin.GetCustody(A.GetCustodyRequest(evidence_id=evidence.evidence_id))
    assert not custody.chain_ok


async def _flip_and_verify(app: BadgeApp, admin: Stub, flip: Callable[[str, bytes], Any]) -> None:
    good = await store_item(admin, seed=1)
    bad = await store_item(admin, seed=2)
    stored = await app.objects.get(bad.object.key)
    tampered = bytearray(stored)
    tampered[len(tampered) // 2] ^= 0x01
    await flip(bad.object.key, bytes(tampered))
    result = await admin.VerifyEvidence(A.VerifyEvidenceRequest())
    assert result.checked == 2 and result.failed == 1
    failed = next(r for r in result.results if not r.ok)
    assert failed.evidence_id == bad.evidence_id
    assert failed.actual_sha256 == hashlib.sha256(bytes(tampered)).hexdigest() != failed.expected_sha256
    item = await admin.GetEvidence(A.GetEvidenceRequest(evidence_id=bad.evidence_id))
    assert item.evidence.status == A.EVIDENCE_STATUS_CORRUPTED
    custody = await admin.GetCustody(A.GetCustodyRequest(evidence_id=bad.evidence_id))
    assert A.CustodyAction.Name(custody.records[-2].action) == "CUSTODY_ACTION_VERIFICATION_FAILED"
    # The periodic job (no caller) finds it too and leaves the good item alone.
    results = await app.evidence.verify(None)
    assert {r.evidence_id: r.ok for r in results} == {good.evidence_id: True, bad.evidence_id: False}


async def test_verification_detects_a_flipped_byte_in_local_store(
    app: BadgeApp, admin: Stub, badge: None
) -> None:
    assert isinstance(app.objects, LocalObjectStore)
    root = app.objects.root

    async def flip(key: str, data: bytes) -> None:
        # Someone with disk access edits the file in place.
        path = Path(root) / key
        os.chmod(path, 0o644)
        path.write_bytes(data)

    await _flip_and_verify(app, admin, flip)


async def test_verification_detects_a_flipped_byte_in_s3(
    make_app: Callable[..., Any], s3_server: Any, stub_for: Any
) -> None:
    store = s3_server.store()
    app: BadgeApp = await make_app(objects=store)
    channel = open_channel(app.server.address, audience="badge", caller=ADMIN)
    admin = badge_pb2_grpc.BadgeServiceStub(channel)
    await register_badges(admin, AGENCY, ["E-1"])

    async def flip(key: str, data: bytes) -> None:
        # The bucket keeps versions: a rogue PUT makes a new current version next to the locked one.
        await asyncio.to_thread(store.client.put_object, store.bucket, key, io.BytesIO(data), len(data))

    # Retention dates make the S3 lock apply to the non-evidential item.
    await _flip_and_verify(app, admin, flip)
    await channel.close()


async def test_retention_deletes_exactly_what_expired_never_held(
    app: BadgeApp, admin: Stub, badge: None, stub_for: Any
) -> None:
    await admin.SetRetentionPolicy(
        A.SetRetentionPolicyRequest(policy=A.RetentionPolicy(category="non_evidential", retention_days=31))
    )
    await admin.SetRetentionPolicy(
        A.SetRetentionPolicyRequest(
            policy=A.RetentionPolicy(category="evidential", until_case_closed=True, days_after_case_closed=0)
        )
    )
    expired = await store_item(admin, seed=1, category="non_evidential", days_ago=40)
    held = await store_item(admin, seed=2, category="non_evidential", days_ago=40)
    fresh = await store_item(admin, seed=3, category="non_evidential", days_ago=10)
    open_case = await store_item(admin, seed=4, category="evidential", days_ago=400, case_id="CASE-OPEN")
    closed_case = await store_item(admin, seed=5, category="evidential", days_ago=400, case_id="CASE-DONE")
    held_closed = await store_item(admin, seed=6, category="evidential", days_ago=400, case_id="CASE-DONE")
    for item in (held, held_closed):
        await admin.SetLegalHold(
            A.SetLegalHoldRequest(evidence_id=item.evidence_id, hold=True, reason="appeal")
        )
    closed = await admin.CloseCase(A.CloseCaseRequest(case_id="CASE-DONE"))
    assert closed.evidence_count == 2
    assert fresh.HasField("retain_until") and not open_case.HasField("retain_until")

    result = await admin.RunRetention(A.RunRetentionRequest())
    assert set(result.deleted_evidence_ids) == {expired.evidence_id, closed_case.evidence_id}
    for item in (expired, closed_case):
        assert not await app.objects.exists(item.object.key)
        custody = await admin.GetCustody(A.GetCustodyRequest(evidence_id=item.evidence_id))
        assert A.CustodyAction.Name(custody.records[-1].action) == "CUSTODY_ACTION_DELETED_BY_RETENTION"
        assert custody.chain_ok
    for item, seed in ((held, 2), (fresh, 3), (open_case, 4), (held_closed, 6)):
        assert await app.objects.get(item.object.key) == recording(3 * CHUNK + 100, seed)
    again = await admin.RunRetention(A.RunRetentionRequest())
    assert list(again.deleted_evidence_ids) == []
    # Releasing the hold takes two people: after the first request the item is still held.
    release = A.SetLegalHoldRequest(evidence_id=held.evidence_id, hold=False, reason="done")
    asked = await admin.SetLegalHold(release)
    assert asked.evidence.legal_hold
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await admin.SetLegalHold(release)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "second person" in (err.value.details() or "")
    assert list((await admin.RunRetention(A.RunRetentionRequest())).deleted_evidence_ids) == []
    second = stub_for(Caller("inv-2", AGENCY, frozenset({"investigator"})))
    released = await second.SetLegalHold(release)
    assert not released.evidence.legal_hold
    custody = await admin.GetCustody(A.GetCustodyRequest(evidence_id=held.evidence_id))
    assert A.CustodyAction.Name(custody.records[-1].action) == "CUSTODY_ACTION_LEGAL_HOLD_RELEASED"
    assert custody.records[-1].actor == "inv-2"
    hold_steps = app.evidence.audit.list(target=held.evidence_id, action_prefix="evidence.legal_hold")
    trail = [(e.action, e.actor) for e in hold_steps]
    assert trail[-2:] == [
        ("evidence.legal_hold_release_request", ADMIN.subject),
        ("evidence.legal_hold", "inv-2"),
    ]
    # Releasing the hold makes the item due on the next run.
    result = await admin.RunRetention(A.RunRetentionRequest())
    assert list(result.deleted_evidence_ids) == [held.evidence_id]


async def test_retention_policy_validation(app: BadgeApp, admin: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await admin.SetRetentionPolicy(
            A.SetRetentionPolicyRequest(
                policy=A.RetentionPolicy(category="non_evidential", retention_days=200)
            )
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "31 to 90" in (err.value.details() or "")


async def test_staged_bytes_lost_in_a_crash_are_asked_for_again(
    app: BadgeApp, admin: Stub, badge: None
) -> None:
    data = recording(5 * CHUNK)
    meta = metadata(data)
    parts = chunks(data)
    first = await upload(admin, meta, parts[:4])
    assert list(first.missing_chunks) == [4]
    # An OS crash lost part of the (not fsynced) staging file although chunk 1 was confirmed.
    staged = app.evidence.staging / f"{meta.upload_id}.part"
    with staged.open("r+b") as handle:
        handle.seek(CHUNK + 10)
        handle.write(b"\x00" * 100)
    second = await upload(admin, meta, [parts[4]])
    assert not second.complete and list(second.missing_chunks) == [1]
    third = await upload(admin, meta, [parts[1]])
    assert third.complete and third.evidence.object.sha256 == meta.sha256

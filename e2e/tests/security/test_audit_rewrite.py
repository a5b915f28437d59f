"""A database administrator rewrites or truncates the audit trail: VerifyAudit says so, and where.

The real alerting service on PostgreSQL keeps the trail; its head is anchored in a real S3 server
(SeaweedFS) under object lock in COMPLIANCE mode. The administrator edits the table directly
(switching the append-only trigger off, as the table's owner can) and re-hashes what follows,
with plain SHA-256, with the chain's own formula under a key of their own, or as "legacy"
records; the auditor calls the real AuditService.VerifyAudit (in process, as an auditor).
"""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from minio import Minio
from minio.error import S3Error
from sqlalchemy import update

from kuzet.alerting.config import AlertingSettings
from kuzet.alerting.server import Alerting, build
from kuzet.common.audit import AuditEntry, audit_table, record_hash, record_mac
from kuzet.common.auditkeys import AuditKey
from kuzet.common.auditservice import AuditServicer
from kuzet.common.caller import Caller, reset_current_caller, set_current_caller
from kuzet.common.testing import S3Server, audit_table_admin
from kuzet.common.timeutil import utcnow
from kuzet.common.v1 import audit_pb2

AUDITOR = Caller("auditor-1", "prison-a", frozenset({"auditor"}))
RECORDS = 6  # anchored head: record 6; records 7-8 follow the anchor


@pytest.fixture
async def alerting(
    pg_url: str, s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Alerting, AuditServicer, str]]:
    bucket = f"anchors-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv(
        "KUZET_AUDIT_ANCHOR_URL", f"s3://{bucket}?endpoint={s3_server.endpoint}&object_lock=true"
    )
    monkeypatch.setenv("KUZET_S3_ACCESS_KEY", s3_server.access_key)
    monkeypatch.setenv("KUZET_S3_SECRET_KEY", s3_server.secret_key)
    monkeypatch.setenv("KUZET_AUDIT_ANCHOR_INTERVAL_S", "3600")  # anchored when the test says
    _, app = await build(AlertingSettings(database_url=pg_url, data_dir=tmp_path), port=0)
    token = set_current_caller(AUDITOR)
    try:
        yield app, AuditServicer(app.audit), bucket
    finally:
        reset_current_caller(token)
        await app.stop()


async def _trail(app: Alerting, servicer: AuditServicer) -> None:
    """Records 1-6 through the service (each ListAudit is audited), the head anchored, then 7-8."""
    for _ in range(RECORDS):
        await servicer.ListAudit(audit_pb2.ListAuditRequest(), None)  # type: ignore[arg-type]
    anchor = await app.audit.anchor_once()
    assert anchor is not None and anchor.seq == RECORDS
    for _ in range(2):
        await servicer.ListAudit(audit_pb2.ListAuditRequest(), None)  # type: ignore[arg-type]


async def _verify(servicer: AuditServicer) -> audit_pb2.VerifyAuditResponse:
    return await servicer.VerifyAudit(audit_pb2.VerifyAuditRequest(), None)  # type: ignore[arg-type]


def _fields(e: AuditEntry, actor: str, prev: str) -> tuple[object, ...]:
    return (e.seq, e.recorded_at, e.agency, actor, e.action, e.target, e.outcome, e.details, prev)


def _sha256(e: AuditEntry, actor: str, prev: str) -> tuple[str, str]:
    return record_hash(*_fields(e, actor, prev)), e.key_id  # type: ignore[arg-type]


def _own_key(e: AuditEntry, actor: str, prev: str) -> tuple[str, str]:
    # The chain's formula exactly, under the key id the records name, but not the key.
    forged = AuditKey(e.key_id, b"the-administrator-guessed-this-secret")
    return record_mac(forged, *_fields(e, actor, prev)), e.key_id  # type: ignore[arg-type]


def _as_legacy(e: AuditEntry, actor: str, prev: str) -> tuple[str, str]:
    return record_hash(*_fields(e, actor, prev)), ""  # type: ignore[arg-type]


@pytest.mark.parametrize("rehash", [_sha256, _own_key, _as_legacy], ids=["sha256", "own-key", "as-legacy"])
async def test_a_rewritten_suffix_fails_at_the_edited_record(
    alerting: tuple[Alerting, AuditServicer, str], rehash: Callable[[AuditEntry, str, str], tuple[str, str]]
) -> None:
    app, servicer, bucket = alerting
    await _trail(app, servicer)
    before = await _verify(servicer)
    assert before.ok and before.records_checked == RECORDS + 2
    assert before.latest_anchor.seq == RECORDS and before.latest_anchor.object_key.endswith(
        f"{RECORDS:020d}.json"
    )
    assert "object lock COMPLIANCE" in before.anchor_store and bucket in before.anchor_store

    # Hide who read record 4, and re-hash it and every later record so that every link holds.
    entries = app.audit.list(limit=1000)
    with audit_table_admin(app.database) as s:
        prev = entries[2].hash
        for e in entries[3:]:
            actor = "nobody" if e.seq == 4 else e.actor
            digest, key_id = rehash(e, actor, prev)
            s.execute(
                update(audit_table)
                .where(audit_table.c.seq == e.seq)
                .values(actor=actor, prev_hash=prev, hash=digest, key_id=key_id)
            )
            prev = digest
    after = await _verify(servicer)
    assert not after.ok and after.first_bad_seq == 4, after.reason
    assert after.reason
    assert after.latest_anchor.seq == RECORDS


async def test_truncation_behind_the_anchor_fails(alerting: tuple[Alerting, AuditServicer, str]) -> None:
    app, servicer, _ = alerting
    await _trail(app, servicer)
    with audit_table_admin(app.database) as s:
        s.execute(audit_table.delete().where(audit_table.c.seq >= 5))
    # The chain left (records 1-4) is consistent in itself: only the anchor shows what is gone.
    assert app.audit.verify().ok
    result = await _verify(servicer)
    assert not result.ok and result.first_bad_seq == 5 and "removed" in result.reason
    assert result.latest_anchor.seq == RECORDS


async def test_the_anchor_cannot_be_deleted_or_replaced_before_its_retention(
    alerting: tuple[Alerting, AuditServicer, str], s3_server: S3Server
) -> None:
    app, servicer, bucket = alerting
    await _trail(app, servicer)
    latest = await app.audit.anchors.latest()  # type: ignore[union-attr]
    assert latest is not None
    key = latest.object_key
    # The bucket's owner, with the service's own credentials, tries to get rid of the anchor.
    owner = Minio(
        s3_server.endpoint, access_key=s3_server.access_key, secret_key=s3_server.secret_key, secure=False
    )
    original = owner.stat_object(bucket, key)
    assert original.version_id
    retention = owner.get_object_retention(bucket, key, version_id=original.version_id)
    assert retention is not None and retention.mode == "COMPLIANCE"
    assert retention.retain_until_date is not None
    assert retention.retain_until_date > utcnow() + timedelta(days=365 * 6)
    with pytest.raises(S3Error):
        owner.remove_object(bucket, key, version_id=original.version_id)

    # A version written over it and a delete marker (both allowed) hide nothing from VerifyAudit.
    forged = b'{"format": "kuzet.audit.anchor/1", "seq": 6, "mac": "0"}'
    owner.put_object(bucket, key, io.BytesIO(forged), len(forged))
    with audit_table_admin(app.database) as s:
        s.execute(audit_table.delete().where(audit_table.c.seq >= 5))
    replaced = await _verify(servicer)
    assert not replaced.ok and replaced.first_bad_seq == 5 and replaced.latest_anchor.hash == latest.mac
    owner.remove_object(bucket, key)  # a delete marker
    hidden = await _verify(servicer)
    assert not hidden.ok and hidden.latest_anchor.seq == RECORDS and hidden.latest_anchor.hash == latest.mac
    # The original version is still there, intact, under its retention.
    assert owner.stat_object(bucket, key, version_id=original.version_id).version_id == original.version_id

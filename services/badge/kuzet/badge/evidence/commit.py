"""The end of an upload: the whole-file check, the object stored once, the item and its custody committed.

When all chunks are there the whole file is checked against its SHA-256 (hashed as the chunks
arrive in order, so it is not read again), the staging file itself is stored once under a fresh
key with ObjectStore.put_file (moved into a local store, in whose staging directory it sits;
streamed to S3; object lock until the retention date where the store supports it) and the
evidence row and its first custody steps are committed.
"""

from __future__ import annotations

import asyncio
import logging
import os

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from kuzet.badge import convert
from kuzet.badge.custody import append_custody
from kuzet.badge.evidence.base import actor_of
from kuzet.badge.evidence.retention import refresh_retention
from kuzet.badge.evidence.staging import Staging, Upload, capture_time, forget_chunks, hash_fd, object_key
from kuzet.badge.models import EvidenceRow, ShiftRow, UploadRow
from kuzet.badge.v1 import badge_pb2
from kuzet.common.caller import Caller
from kuzet.common.errors import AlreadyExists, FailedPrecondition
from kuzet.common.objectstore import ObjectInfo
from kuzet.common.timeutil import as_utc, from_timestamp, utcnow

log = logging.getLogger(__name__)

A = badge_pb2


class Committing(Staging):
    """Storing a complete upload and committing it as an evidence item."""

    async def _finish(self, caller: Caller, upload: Upload) -> badge_pb2.Evidence | list[int]:
        """Check the staged file, store it and commit the item; or the chunks to send again."""
        row = upload.row
        try:
            if upload.next_in_order == row.total_chunks:
                digest = upload.hasher.hexdigest()
            else:
                digest = await asyncio.to_thread(hash_fd, upload.fd, row.total_size)
            if digest != row.sha256:
                await self._confirm(upload)  # the damaged-chunk check reads the recorded hashes
                damaged = await self._damaged_chunks(upload)
                if damaged:
                    return damaged
                await self.database.run(self._discard_upload, row.upload_id)
                upload.path.unlink(missing_ok=True)
                raise FailedPrecondition(
                    f"upload {row.upload_id}: the file's SHA-256 is {digest}, not the announced "
                    f"{row.sha256}; the upload was discarded, send it again"
                )
        finally:
            os.close(upload.fd)
        key = object_key(row)
        streamed = await self._streamed(upload, key)
        if streamed is not None:
            upload.path.unlink(missing_ok=True)
            return await self._commit(caller, upload, streamed)
        try:
            info = await self.objects.put_file(
                key,
                upload.path,
                upload.meta.content_type or "application/octet-stream",
                sha256=row.sha256,
                size=row.total_size,
                retain_until=upload.lock_until,
                overwrite=False,
            )
        except AlreadyExists:
            # A previous attempt stored it and failed before committing: the same bytes are fine.
            info = await self.objects.stat(key)
            upload.path.unlink(missing_ok=True)
        except BaseException:
            # Not stored (the store is unreachable): the chunks stay confirmed for the retry.
            await asyncio.shield(self._confirm(upload))
            raise
        return await self._commit(caller, upload, info)

    async def _streamed(self, upload: Upload, key: str) -> ObjectInfo | None:
        """The object stored while the chunks arrived; None: store the staged file instead."""
        if upload.stream is None:
            return None
        try:
            return await upload.stream.result
        except AlreadyExists:
            return await self.objects.stat(key)
        except Exception as exc:
            log.warning(
                "upload %s: storing while receiving failed (%s); storing the staged file",
                upload.row.upload_id,
                exc,
            )
            return None

    async def _commit(self, caller: Caller, upload: Upload, info: ObjectInfo) -> badge_pb2.Evidence:
        if info.sha256 and info.sha256 != upload.row.sha256:
            raise FailedPrecondition(f"object {info.key} exists with other content; refusing to continue")
        evidence: badge_pb2.Evidence = await self.database.run(
            self._commit_evidence, caller, upload, info.key
        )
        return evidence

    def _discard_upload(self, session: Session, upload_id: str) -> None:
        forget_chunks(session, upload_id)
        session.execute(delete(UploadRow).where(UploadRow.upload_id == upload_id))

    def _commit_evidence(
        self, session: Session, caller: Caller, upload: Upload, key: str
    ) -> badge_pb2.Evidence:
        row, meta = upload.row, upload.meta
        digest, captured_at = row.sha256, capture_time(meta)
        officer = session.scalar(
            select(ShiftRow.officer_id)
            .where(ShiftRow.badge_id == row.badge_id, ShiftRow.started_at <= captured_at)
            .where((ShiftRow.ended_at.is_(None)) | (ShiftRow.ended_at > captured_at))
            .order_by(ShiftRow.started_at.desc())
            .limit(1)
        )
        now = utcnow()
        evidence = EvidenceRow(
            evidence_id=row.evidence_id,
            agency_id=row.agency_id,
            badge_id=row.badge_id,
            officer_id=officer or "",
            category=meta.category,
            status=A.EVIDENCE_STATUS_STORED,
            captured_at=captured_at,
            captured_until=from_timestamp(meta.captured_until),
            stored_at=now,
            object_key=key,
            sha256=digest,
            size=row.total_size,
            content_type=meta.content_type or "application/octet-stream",
            latitude=meta.location.latitude,
            longitude=meta.location.longitude,
            case_id=meta.case_id,
            incident_id=meta.incident_id,
            legal_hold=False,
            description=meta.description,
            upload_id=row.upload_id,
        )
        refresh_retention(session, self.settings, evidence)  # by the policy as it is now
        session.add(evidence)
        agency, actor = row.agency_id, actor_of(caller)
        step = append_custody(
            session,
            row.evidence_id,
            A.CUSTODY_ACTION_CAPTURED,
            actor=f"badge:{row.badge_id}",
            actor_agency_id=agency,
            object_sha256=digest,
            at=captured_at,
            details={"officer_id": officer or "", "content_type": evidence.content_type},
        )
        step = append_custody(
            session,
            row.evidence_id,
            A.CUSTODY_ACTION_RECEIVED,
            actor=actor,
            actor_agency_id=caller.agency,
            object_sha256=digest,
            at=as_utc(row.created_at),
            details={"upload_id": row.upload_id, "chunks": row.total_chunks, "size": row.total_size},
            after=step,
        )
        step = append_custody(
            session,
            row.evidence_id,
            A.CUSTODY_ACTION_STORED,
            actor="system:badge",
            actor_agency_id=agency,
            object_sha256=digest,
            at=now,
            details={"key": key},
            after=step,
        )
        if meta.case_id:
            append_custody(
                session,
                row.evidence_id,
                A.CUSTODY_ACTION_CASE_LINKED,
                actor=actor,
                actor_agency_id=caller.agency,
                object_sha256=digest,
                details={"case_id": meta.case_id},
                after=step,
            )
        # The audit record commits with the item: an upload is never stored without its trail.
        self.audit.append(
            "evidence.upload",
            row.evidence_id,
            details={"sha256": digest, "size": row.total_size},
            agency=row.agency_id,
            actor=actor,
            session=session,
        )
        session.execute(update(UploadRow).where(UploadRow.upload_id == row.upload_id).values(complete=True))
        forget_chunks(session, row.upload_id)
        return convert.evidence_to_proto(evidence)

    async def _complete_response(self, upload: Upload) -> badge_pb2.UploadEvidenceResponse:
        evidence = await self.database.run(lambda s: s.get(EvidenceRow, upload.row.evidence_id))
        return A.UploadEvidenceResponse(
            upload_id=upload.row.upload_id, complete=True, evidence=convert.evidence_to_proto(evidence)
        )

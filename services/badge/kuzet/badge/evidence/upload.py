"""Evidence upload: a resumable, hashed UploadEvidence call, stored in a way that never overwrites.

The call is the metadata, then chunks (staging.py: each checked, staged and confirmed, received
ahead while the one before is written); a broken upload resumes with the chunks still missing,
a complete one is checked, stored and committed (commit.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import uuid
from collections.abc import AsyncIterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.badge import convert
from kuzet.badge.evidence.base import CATEGORY
from kuzet.badge.evidence.commit import Committing
from kuzet.badge.evidence.retention import compute_retain_until, retention_policy
from kuzet.badge.evidence.staging import (
    Chunk,
    ReadAhead,
    Upload,
    capture_time,
    drop_stream,
    forget_chunks,
    object_key,
)
from kuzet.badge.models import BadgeRow, EvidenceRow, UploadChunkRow, UploadRow
from kuzet.badge.v1 import badge_pb2
from kuzet.common.caller import Caller
from kuzet.common.errors import InvalidArgument, NotFound
from kuzet.common.objectstore import ObjectInfo
from kuzet.common.timeutil import utcnow

log = logging.getLogger(__name__)

A = badge_pb2
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
CONFIRM_EVERY = 16  # chunks per confirmation write
READ_AHEAD = 2  # chunks received ahead of the one being staged


class Uploads(Committing):
    """UploadEvidence and GetUploadStatus."""

    async def upload(
        self, caller: Caller, requests: AsyncIterator[badge_pb2.UploadEvidenceRequest]
    ) -> badge_pb2.UploadEvidenceResponse:
        first = await anext(aiter(requests), None)
        if first is None or first.WhichOneof("payload") != "metadata":
            raise InvalidArgument("the first UploadEvidence message must carry the metadata")
        meta = first.metadata
        self._check_metadata(meta)
        # The next chunks are received while the upload is opened and while each one is staged:
        # the transfer does not wait for the database or the disk.
        incoming = ReadAhead(requests, READ_AHEAD)
        try:
            return await self._receive(caller, meta, incoming)
        finally:
            incoming.close()

    async def _receive(
        self, caller: Caller, meta: badge_pb2.EvidenceMetadata, requests: ReadAhead
    ) -> badge_pb2.UploadEvidenceResponse:
        upload = await self.database.run(self._open_upload, caller, meta)
        if upload.row.complete:
            os.close(upload.fd)
            return await self._complete_response(upload)
        if upload.unstaged and (stored := await self._stored_earlier(upload)) is not None:
            os.close(upload.fd)
            upload.path.unlink(missing_ok=True)
            evidence = await self._commit(caller, upload, stored)
            return A.UploadEvidenceResponse(upload_id=meta.upload_id, complete=True, evidence=evidence)
        if not upload.confirmed and not upload.unstaged:
            # A fresh upload is stored as it arrives; a resumed one is stored from its staging file.
            upload.stream = self.objects.open_stream(
                object_key(upload.row),
                meta.content_type or "application/octet-stream",
                sha256=upload.row.sha256,
                size=upload.row.total_size,
                retain_until=upload.lock_until,
            )
        # One chunk is hashed and written on a worker thread while the next ones are received,
        # and its confirmation is written while later ones are: the upload is not the sum of
        # transfer, hashing and database time.
        staging: asyncio.Future[None] | None = None
        try:
            async for request in requests:
                if request.WhichOneof("payload") != "chunk":
                    raise InvalidArgument("only chunks may follow the metadata")
                chunk = Chunk.of(request.chunk)
                self._check_chunk(upload, chunk)
                if staging is not None:
                    await staging
                staging = asyncio.ensure_future(self._receive_chunk(upload, chunk))
                if len(upload.pending) >= CONFIRM_EVERY:
                    self._confirm_soon(upload)
            if staging is not None:
                await staging
            if self._missing(upload):
                await self._confirm(upload)
            elif upload.confirming is not None:
                # A complete upload's confirmations are dropped by its commit: the last batch is
                # only written if storing it fails (_finish).
                await upload.confirming
        except BaseException:
            # The client went away (or sent garbage): what was received and verified stays
            # confirmed so the upload resumes from there.
            drop_stream(upload, "the upload was interrupted")
            await asyncio.shield(self._confirm_and_close(upload, staging))
            raise
        missing = self._missing(upload)
        if missing:
            drop_stream(upload, "chunks are missing")
            os.close(upload.fd)
            return A.UploadEvidenceResponse(
                upload_id=meta.upload_id, missing_chunks=missing, rejected_chunks=upload.rejected
            )
        finished = await self._finish(caller, upload)
        if isinstance(finished, list):
            return A.UploadEvidenceResponse(
                upload_id=meta.upload_id, missing_chunks=finished, rejected_chunks=upload.rejected
            )
        return A.UploadEvidenceResponse(
            upload_id=meta.upload_id, complete=True, rejected_chunks=upload.rejected, evidence=finished
        )

    def _check_metadata(self, meta: badge_pb2.EvidenceMetadata) -> None:
        convert.check_id(meta.upload_id, "upload_id")
        convert.check_id(meta.badge_id, "badge_id")
        if not CATEGORY.fullmatch(meta.category):
            raise InvalidArgument(f"category must be lower_snake_case (got {meta.category!r})")
        if not meta.HasField("captured_at"):
            raise InvalidArgument("captured_at is required")
        if not 0 < meta.total_size <= self.settings.max_evidence_bytes:
            raise InvalidArgument(f"total_size must be 1..{self.settings.max_evidence_bytes} bytes")
        if not 0 < meta.chunk_size <= self.settings.max_chunk_bytes:
            raise InvalidArgument(f"chunk_size must be 1..{self.settings.max_chunk_bytes} bytes")
        if not _HEX64.fullmatch(meta.sha256):
            raise InvalidArgument("sha256 must be 64 lower-case hex characters")
        if meta.HasField("location"):
            convert.check_position(meta.location, "location")

    def _open_upload(self, session: Session, caller: Caller, meta: badge_pb2.EvidenceMetadata) -> Upload:
        badge = session.get(BadgeRow, meta.badge_id)
        if badge is None or not caller.sees_site(badge.agency_id, badge.unit_id):
            raise NotFound(f"badge {meta.badge_id} is not registered")
        caller.require_agency(badge.agency_id)
        row = session.get(UploadRow, meta.upload_id)
        total_chunks = -(-meta.total_size // meta.chunk_size)
        path = self.staging / f"{meta.upload_id}.part"
        unstaged = False
        if row is None:
            row = UploadRow(
                upload_id=meta.upload_id,
                agency_id=badge.agency_id,
                badge_id=meta.badge_id,
                metadata_payload=meta.SerializeToString(),
                total_size=meta.total_size,
                chunk_size=meta.chunk_size,
                total_chunks=total_chunks,
                sha256=meta.sha256,
                evidence_id=uuid.uuid4().hex,
                complete=False,
                created_at=utcnow(),
            )
            session.add(row)
            path.unlink(missing_ok=True)
            confirmed: set[int] = set()
        else:
            if (row.badge_id, row.sha256, row.total_size, row.chunk_size) != (
                meta.badge_id,
                meta.sha256,
                meta.total_size,
                meta.chunk_size,
            ):
                raise InvalidArgument(
                    f"upload {meta.upload_id} was started with other metadata (badge, size, chunk size or sha256)"
                )
            confirmed = set(
                session.scalars(
                    select(UploadChunkRow.chunk_index).where(UploadChunkRow.upload_id == row.upload_id)
                )
            )
            unstaged = not row.complete and not path.exists()
        # Object lock (S3 COMPLIANCE) until the retention date when it is known and ahead; items
        # kept until their case closes are protected by never-overwrite keys and the retention
        # job's rules instead, since no lock date fits a case that may close tomorrow. Read
        # here, not after the transfer, to save a round trip; the item's own retention date is
        # computed when it is committed.
        policy = retention_policy(session, self.settings, row.agency_id, meta.category)
        retain_until = compute_retain_until(policy, capture_time(meta), None, legal_hold=False)
        lock_until = retain_until if retain_until is not None and retain_until > utcnow() else None
        fd = (
            os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            if not row.complete
            else os.open(os.devnull, os.O_RDONLY)
        )
        return Upload(
            row=row,
            meta=meta,
            path=path,
            fd=fd,
            confirmed=confirmed,
            unstaged=unstaged,
            lock_until=lock_until,
        )

    async def _stored_earlier(self, upload: Upload) -> ObjectInfo | None:
        """The object an earlier call stored; None: the staging file was lost, chunks start again."""
        try:
            return await self.objects.stat(object_key(upload.row))
        except NotFound:
            pass
        if upload.confirmed:
            await self.database.run(forget_chunks, upload.row.upload_id)
            upload.confirmed = set()
            log.warning("upload %s: the staging file is gone, asking for every chunk", upload.row.upload_id)
        return None

    async def upload_status(self, caller: Caller, upload_id: str) -> badge_pb2.GetUploadStatusResponse:
        convert.check_id(upload_id, "upload_id")

        def read(session: Session) -> badge_pb2.GetUploadStatusResponse:
            row = session.get(UploadRow, upload_id)
            if row is None:
                raise NotFound(f"upload {upload_id} not found")
            caller.require_agency(row.agency_id)
            badge = session.get(BadgeRow, row.badge_id)
            if not caller.sees_site(row.agency_id, badge.unit_id if badge is not None else ""):
                raise NotFound(f"upload {upload_id} not found")
            response = A.GetUploadStatusResponse(
                upload_id=upload_id, complete=row.complete, total_chunks=row.total_chunks
            )
            if row.complete:
                evidence = session.get(EvidenceRow, row.evidence_id)
                if evidence is not None:
                    response.evidence.CopyFrom(convert.evidence_to_proto(evidence))
                response.confirmed_chunks.extend(range(row.total_chunks))
                return response
            confirmed = set(
                session.scalars(
                    select(UploadChunkRow.chunk_index).where(UploadChunkRow.upload_id == upload_id)
                )
            )
            if not (self.staging / f"{upload_id}.part").exists():
                confirmed = set()
            response.confirmed_chunks.extend(sorted(confirmed))
            response.missing_chunks.extend(i for i in range(row.total_chunks) if i not in confirmed)
            return response

        return await self.database.run(read)

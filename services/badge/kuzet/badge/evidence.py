"""Evidence: resumable hashed upload, storage that is never overwritten, custody, retention, verification.

Upload: chunks are checked against their SHA-256 and written into a staging file at their offset;
the chunks confirmed so far are recorded in the database (in batches, written while later chunks
arrive), so a broken upload resumes with the chunks still missing. The staging file is not fsynced per batch (that doubled the disk flushes of
an upload): if an OS crash loses staged bytes, the whole-file hash fails, every staged chunk is
re-checked against its recorded hash and the damaged ones are asked for again. When all are
there the whole file is checked against its SHA-256 (hashed as the chunks arrive in order, so it
is not read again), the staging file itself is stored once under a fresh key with
ObjectStore.put_file (moved into a local store, in whose staging directory it sits; streamed to
S3; object lock until the retention date where the store supports it) and the evidence row and
its first custody steps are committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kuzet.badge import convert
from kuzet.badge.config import BadgeSettings
from kuzet.badge.custody import append_custody, chain_ok, load_chain
from kuzet.badge.models import (
    BadgeRow,
    EvidenceRow,
    EvidenceShareRow,
    RetentionPolicyRow,
    ShiftRow,
    UploadChunkRow,
    UploadRow,
)
from kuzet.badge.v1 import badge_pb2
from kuzet.common.audit import AuditLog
from kuzet.common.caller import Caller
from kuzet.common.db import Database
from kuzet.common.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    KuzetError,
    NotFound,
    PermissionDenied,
)
from kuzet.common.holds import HOLD_ROLES, ensure_tables, pending_release, release_step
from kuzet.common.objectstore import (
    ObjectInfo,
    ObjectStore,
    ObjectStream,
    StreamFailed,
    sha256_hex,
    start_writeback,
)
from kuzet.common.paging import Keyset, Paging
from kuzet.common.timeutil import as_utc, from_timestamp, utcnow

log = logging.getLogger(__name__)

A = badge_pb2
EVIDENCE_PAGING = Paging(default=100, maximum=500, clamp=True)
EVIDENCE_KEYS = Keyset("badge.evidence", EvidenceRow.captured_at, EvidenceRow.evidence_id)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_CATEGORY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
NON_EVIDENTIAL = "non_evidential"
CONFIRM_EVERY = 16  # chunks per confirmation write
READ_AHEAD = 2  # chunks received ahead of the one being staged


class _ReadAhead:
    """Iterates over ``requests`` while a task already receives up to ``depth`` more."""

    _END = object()

    def __init__(self, requests: AsyncIterator[badge_pb2.UploadEvidenceRequest], depth: int) -> None:
        self._queue: asyncio.Queue[Any] = asyncio.Queue(depth)
        self._task = asyncio.ensure_future(self._pump(requests))

    async def _pump(self, requests: AsyncIterator[badge_pb2.UploadEvidenceRequest]) -> None:
        try:
            async for request in requests:
                await self._queue.put(request)
        except Exception as exc:  # the call's own error, raised to the reader in its turn
            await self._queue.put(exc)
        else:
            await self._queue.put(self._END)

    def __aiter__(self) -> _ReadAhead:
        return self

    async def __anext__(self) -> badge_pb2.UploadEvidenceRequest:
        item = await self._queue.get()
        if item is self._END:
            raise StopAsyncIteration
        if isinstance(item, Exception):
            raise item
        request: badge_pb2.UploadEvidenceRequest = item
        return request

    def close(self) -> None:
        self._task.cancel()


@dataclass(frozen=True, slots=True)
class _Chunk:
    index: int
    data: bytes
    sha256: str

    @classmethod
    def of(cls, chunk: badge_pb2.EvidenceChunk) -> _Chunk:
        # Every read of a bytes field of a (upb) message is a new copy: a 1 MiB one here.
        return cls(chunk.index, chunk.data, chunk.sha256)


@dataclass
class _Upload:
    """One UploadEvidence call's working state."""

    row: UploadRow
    meta: badge_pb2.EvidenceMetadata
    path: Path
    fd: int
    confirmed: set[int]
    # Hash of chunks 0..next_in_order-1, while they arrive in order (saves re-reading the file).
    hasher: Any = field(default_factory=hashlib.sha256)
    next_in_order: int = 0
    pending: list[tuple[int, str, int]] = field(default_factory=list)
    confirming: asyncio.Future[None] | None = None
    # The chunk being written on a worker thread, which a cancelled call does not stop: the
    # staging file is closed after it.
    writing: asyncio.Future[bool] | None = None
    rejected: list[int] = field(default_factory=list)
    # An upload already under way whose staging file is gone: an earlier call moved it into the
    # object store (put_file) and failed before its commit, or it was lost (a wiped disk).
    unstaged: bool = False
    lock_until: datetime | None = None
    # The object being stored while the chunks arrive (S3); None: put_file once all are in.
    stream: ObjectStream | None = None


def actor_of(caller: Caller) -> str:
    return caller.subject or "anonymous"


class EvidenceStore:
    def __init__(
        self, settings: BadgeSettings, database: Database, objects: ObjectStore, audit: AuditLog
    ) -> None:
        self.settings = settings
        self.database = database
        self.objects = objects
        self.audit = audit
        self.staging = settings.effective_staging_dir(objects.staging_dir)
        self.staging.mkdir(parents=True, exist_ok=True)
        # A store that keeps the staged file (local) fsyncs it in put_file: its bytes may as well
        # go to disk while the rest arrives. One that streams it elsewhere (S3) deletes it: no need.
        self.writeback = objects.staging_dir is not None
        ensure_tables(database)  # the release requests of the two-person release

    # -- upload ------------------------------------------------------------------------------

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
        incoming = _ReadAhead(requests, READ_AHEAD)
        try:
            return await self._receive(caller, meta, incoming)
        finally:
            incoming.close()

    async def _receive(
        self, caller: Caller, meta: badge_pb2.EvidenceMetadata, requests: _ReadAhead
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
                _object_key(upload.row),
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
                chunk = _Chunk.of(request.chunk)
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
            _drop_stream(upload, "the upload was interrupted")
            await asyncio.shield(self._confirm_and_close(upload, staging))
            raise
        missing = self._missing(upload)
        if missing:
            _drop_stream(upload, "chunks are missing")
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
        if not _CATEGORY.fullmatch(meta.category):
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

    def _open_upload(self, session: Session, caller: Caller, meta: badge_pb2.EvidenceMetadata) -> _Upload:
        badge = session.get(BadgeRow, meta.badge_id)
        if badge is None:
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
        policy = self._policy(session, row.agency_id, meta.category)
        retain_until = compute_retain_until(policy, _captured_at(meta), None, legal_hold=False)
        lock_until = retain_until if retain_until is not None and retain_until > utcnow() else None
        fd = (
            os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            if not row.complete
            else os.open(os.devnull, os.O_RDONLY)
        )
        return _Upload(
            row=row,
            meta=meta,
            path=path,
            fd=fd,
            confirmed=confirmed,
            unstaged=unstaged,
            lock_until=lock_until,
        )

    async def _stored_earlier(self, upload: _Upload) -> ObjectInfo | None:
        """The object an earlier call stored; None: the staging file was lost, chunks start again."""
        try:
            return await self.objects.stat(_object_key(upload.row))
        except NotFound:
            pass
        if upload.confirmed:
            await self.database.run(_forget_chunks, upload.row.upload_id)
            upload.confirmed = set()
            log.warning("upload %s: the staging file is gone, asking for every chunk", upload.row.upload_id)
        return None

    def _expected_size(self, upload: _Upload, index: int) -> int:
        row = upload.row
        if index == row.total_chunks - 1:
            return row.total_size - index * row.chunk_size
        return row.chunk_size

    def _check_chunk(self, upload: _Upload, chunk: _Chunk) -> None:
        if not 0 <= chunk.index < upload.row.total_chunks:
            raise InvalidArgument(f"chunk index {chunk.index} is outside 0..{upload.row.total_chunks - 1}")
        expected = self._expected_size(upload, chunk.index)
        if len(chunk.data) != expected:
            raise InvalidArgument(f"chunk {chunk.index} has {len(chunk.data)} bytes, expected {expected}")

    async def _receive_chunk(self, upload: _Upload, chunk: _Chunk) -> None:
        if chunk.index in upload.confirmed:
            return
        in_order = chunk.index == upload.next_in_order
        upload.writing = asyncio.ensure_future(asyncio.to_thread(self._stage, upload, chunk, in_order))
        ok = await asyncio.shield(upload.writing)
        if not ok:
            upload.rejected.append(chunk.index)
            log.warning(
                "upload %s: chunk %d failed its SHA-256, discarded", upload.row.upload_id, chunk.index
            )
            return
        if in_order:
            upload.next_in_order += 1
        upload.confirmed.add(chunk.index)
        upload.pending.append((chunk.index, chunk.sha256, len(chunk.data)))

    def _stage(self, upload: _Upload, chunk: _Chunk, in_order: bool) -> bool:
        # hashlib releases the GIL on large buffers, so this overlaps with receiving the next
        # chunk. Both hashes on one thread, while the chunk is in this core's cache: hashing it
        # on a second thread at the same time was not faster on two cores.
        if hashlib.sha256(chunk.data).hexdigest() != chunk.sha256:
            return False
        if in_order:
            upload.hasher.update(chunk.data)
        offset = chunk.index * upload.row.chunk_size
        os.pwrite(upload.fd, chunk.data, offset)
        if self.writeback:
            start_writeback(upload.fd, offset, len(chunk.data))
        stream = upload.stream
        if stream is not None and stream.usable:
            if not in_order:
                stream.fail(StreamFailed("a chunk arrived out of order"))
            elif chunk.index < upload.row.total_chunks - 1:
                stream.feed(chunk.data)
            elif upload.hasher.hexdigest() == upload.row.sha256:
                # Closing the stream completes the object: only once the whole file matches.
                stream.feed(chunk.data)
                stream.close()
            else:
                stream.fail(StreamFailed("the file's SHA-256 does not match"))
        return True

    def _confirm_soon(self, upload: _Upload) -> None:
        """Confirm the pending chunks in the background, one write at a time."""
        if upload.confirming is not None:
            if not upload.confirming.done():
                return  # the batch grows until the write in flight is done
            upload.confirming.result()  # a failed write fails the upload now
        upload.confirming = asyncio.ensure_future(self._write_confirmations(upload))

    async def _confirm(self, upload: _Upload) -> None:
        """Wait for the confirmation in flight, then confirm what is pending."""
        if upload.confirming is not None:
            confirming, upload.confirming = upload.confirming, None
            await confirming
        await self._write_confirmations(upload)

    async def _write_confirmations(self, upload: _Upload) -> None:
        if not upload.pending:
            return
        pending, upload.pending = upload.pending, []

        def write(session: Session) -> None:
            session.add_all(
                UploadChunkRow(upload_id=upload.row.upload_id, chunk_index=i, sha256=h, size=n)
                for i, h, n in pending
            )

        await self.database.run(write)

    async def _confirm_and_close(self, upload: _Upload, staging: asyncio.Future[None] | None) -> None:
        try:
            for work in (staging, upload.writing):
                if work is not None:
                    await asyncio.gather(work, return_exceptions=True)
            await self._confirm(upload)
        finally:
            os.close(upload.fd)

    def _missing(self, upload: _Upload) -> list[int]:
        return [i for i in range(upload.row.total_chunks) if i not in upload.confirmed]

    async def _damaged_chunks(self, upload: _Upload) -> list[int]:
        """Staged chunks whose bytes no longer match their hash; their confirmations are dropped."""
        upload_id = upload.row.upload_id
        query = select(UploadChunkRow.chunk_index, UploadChunkRow.sha256).where(
            UploadChunkRow.upload_id == upload_id
        )
        recorded: dict[int, str] = await self.database.run(
            lambda s: {index: digest for index, digest in s.execute(query)}
        )

        def check() -> list[int]:
            bad = []
            for index, digest in sorted(recorded.items()):
                data = os.pread(upload.fd, self._expected_size(upload, index), index * upload.row.chunk_size)
                if hashlib.sha256(data).hexdigest() != digest:
                    bad.append(index)
            return bad

        damaged = await asyncio.to_thread(check)
        if damaged:
            await self.database.run(_forget_chunks, upload_id, damaged)
            log.warning(
                "upload %s: %d staged chunks were damaged, asking for them again", upload_id, len(damaged)
            )
        return damaged

    async def _finish(self, caller: Caller, upload: _Upload) -> badge_pb2.Evidence | list[int]:
        """Check the staged file, store it and commit the item; or the chunks to send again."""
        row = upload.row
        try:
            if upload.next_in_order == row.total_chunks:
                digest = upload.hasher.hexdigest()
            else:
                digest = await asyncio.to_thread(_hash_fd, upload.fd, row.total_size)
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
        key = _object_key(row)
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

    async def _streamed(self, upload: _Upload, key: str) -> ObjectInfo | None:
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

    async def _commit(self, caller: Caller, upload: _Upload, info: ObjectInfo) -> badge_pb2.Evidence:
        if info.sha256 and info.sha256 != upload.row.sha256:
            raise FailedPrecondition(f"object {info.key} exists with other content; refusing to continue")
        evidence: badge_pb2.Evidence = await self.database.run(
            self._commit_evidence, caller, upload, info.key
        )
        return evidence

    def _discard_upload(self, session: Session, upload_id: str) -> None:
        _forget_chunks(session, upload_id)
        session.execute(delete(UploadRow).where(UploadRow.upload_id == upload_id))

    def _commit_evidence(
        self, session: Session, caller: Caller, upload: _Upload, key: str
    ) -> badge_pb2.Evidence:
        row, meta = upload.row, upload.meta
        digest, captured_at = row.sha256, _captured_at(meta)
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
        self._refresh_retention(session, evidence)  # by the policy as it is now
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
        _forget_chunks(session, row.upload_id)
        return convert.evidence_to_proto(evidence)

    async def _complete_response(self, upload: _Upload) -> badge_pb2.UploadEvidenceResponse:
        evidence = await self.database.run(lambda s: s.get(EvidenceRow, upload.row.evidence_id))
        return A.UploadEvidenceResponse(
            upload_id=upload.row.upload_id, complete=True, evidence=convert.evidence_to_proto(evidence)
        )

    async def upload_status(self, caller: Caller, upload_id: str) -> badge_pb2.GetUploadStatusResponse:
        convert.check_id(upload_id, "upload_id")

        def read(session: Session) -> badge_pb2.GetUploadStatusResponse:
            row = session.get(UploadRow, upload_id)
            if row is None:
                raise NotFound(f"upload {upload_id} not found")
            caller.require_agency(row.agency_id)
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

    # -- reading and custody -----------------------------------------------------------------

    def _readable(self, session: Session, caller: Caller, evidence_id: str) -> EvidenceRow:
        convert.check_id(evidence_id, "evidence_id")
        row = session.get(EvidenceRow, evidence_id)
        if row is None:
            raise NotFound(f"evidence {evidence_id} not found")
        if row.agency_id != caller.agency and "service" not in caller.roles:
            shared = session.get(EvidenceShareRow, (evidence_id, caller.agency))
            if shared is None:
                raise PermissionDenied(f"evidence {evidence_id} belongs to another agency and was not shared")
        return row

    async def get(
        self, caller: Caller, evidence_id: str, with_url: bool, reason: str
    ) -> badge_pb2.GetEvidenceResponse:
        def work(session: Session) -> EvidenceRow:
            row = self._readable(session, caller, evidence_id)
            append_custody(
                session,
                evidence_id,
                A.CUSTODY_ACTION_VIEWED,
                actor=actor_of(caller),
                actor_agency_id=caller.agency,
                object_sha256=row.sha256,
                details={"reason": reason, "download_url": with_url},
            )
            return row

        row = await self._with_retry(work)
        url = ""
        if with_url and row.status == A.EVIDENCE_STATUS_STORED:
            url = await self.objects.presigned_get_url(
                row.object_key, timedelta(seconds=self.settings.download_url_ttl_s)
            )
        await self.audit.record("evidence.view", evidence_id, details={"reason": reason, "url": with_url})
        return A.GetEvidenceResponse(evidence=convert.evidence_to_proto(row), download_url=url)

    async def _with_retry(self, work: Any, *args: Any) -> Any:
        """Two custody writers on one item collide on (evidence_id, seq): the loser tries again."""
        for attempt in range(5):
            try:
                return await self.database.run(work, *args)
            except IntegrityError:
                if attempt == 4:
                    raise
        raise AssertionError("unreachable")

    async def custody(self, caller: Caller, evidence_id: str) -> badge_pb2.GetCustodyResponse:
        def read(session: Session) -> badge_pb2.GetCustodyResponse:
            self._readable(session, caller, evidence_id)
            rows = load_chain(session, evidence_id)
            return A.GetCustodyResponse(
                records=[convert.custody_to_proto(r) for r in rows], chain_ok=chain_ok(rows)
            )

        response = await self.database.run(read)
        await self.audit.record("evidence.custody", evidence_id)
        return response

    async def list_evidence(
        self, caller: Caller, request: badge_pb2.ListEvidenceRequest
    ) -> badge_pb2.ListEvidenceResponse:
        agency = request.agency_id or caller.agency
        caller.require_agency(agency)
        size = EVIDENCE_PAGING.size(request.page)
        after = EVIDENCE_KEYS.after(request.page.page_token)

        def read(session: Session) -> badge_pb2.ListEvidenceResponse:
            query = select(EvidenceRow).where(EvidenceRow.agency_id == agency)
            if request.badge_id:
                query = query.where(EvidenceRow.badge_id == request.badge_id)
            if request.category:
                query = query.where(EvidenceRow.category == request.category)
            if request.case_id:
                query = query.where(EvidenceRow.case_id == request.case_id)
            if since := from_timestamp(request.since):
                query = query.where(EvidenceRow.captured_at >= since)
            if until := from_timestamp(request.until):
                query = query.where(EvidenceRow.captured_at < until)
            rows, token = EVIDENCE_KEYS.page(
                session.scalars(EVIDENCE_KEYS.query(query, after, size)).all(), size
            )
            response = A.ListEvidenceResponse(evidence=[convert.evidence_to_proto(r) for r in rows])
            response.page.next_page_token = token
            return response

        return await self.database.run(read)

    async def share(self, caller: Caller, request: badge_pb2.ShareEvidenceRequest) -> badge_pb2.Evidence:
        convert.check_id(request.recipient_agency_id, "recipient_agency_id")
        caller.require_role("investigator", "admin")

        def work(session: Session) -> badge_pb2.Evidence:
            row = self._readable(session, caller, request.evidence_id)
            caller.require_agency(row.agency_id)
            if session.get(EvidenceShareRow, (row.evidence_id, request.recipient_agency_id)) is None:
                session.add(
                    EvidenceShareRow(
                        evidence_id=row.evidence_id,
                        agency_id=request.recipient_agency_id,
                        shared_at=utcnow(),
                        shared_by=actor_of(caller),
                    )
                )
            append_custody(
                session,
                row.evidence_id,
                A.CUSTODY_ACTION_SHARED,
                actor=actor_of(caller),
                actor_agency_id=caller.agency,
                object_sha256=row.sha256,
                details={"recipient_agency_id": request.recipient_agency_id, "reason": request.reason},
            )
            return convert.evidence_to_proto(row)

        evidence: badge_pb2.Evidence = await self._with_retry(work)
        await self.audit.record(
            "evidence.share",
            request.evidence_id,
            details={"recipient_agency_id": request.recipient_agency_id, "reason": request.reason},
        )
        return evidence

    async def export(
        self, caller: Caller, request: badge_pb2.ExportEvidenceRequest
    ) -> badge_pb2.ExportEvidenceResponse:
        caller.require_role("investigator", "admin")
        if not request.evidence_ids:
            raise InvalidArgument("evidence_ids is empty")
        if not request.recipient:
            raise InvalidArgument("recipient is required (who receives the export)")
        export_id = uuid.uuid4().hex
        exported_at = utcnow()
        ttl = timedelta(seconds=request.url_ttl_s or self.settings.download_url_ttl_s)

        def work(session: Session) -> list[tuple[EvidenceRow, list[Any]]]:
            items = []
            for evidence_id in dict.fromkeys(request.evidence_ids):
                row = self._readable(session, caller, evidence_id)
                if row.status != A.EVIDENCE_STATUS_STORED:
                    raise FailedPrecondition(
                        f"evidence {evidence_id} is {A.EvidenceStatus.Name(row.status)}, not exportable"
                    )
                append_custody(
                    session,
                    evidence_id,
                    A.CUSTODY_ACTION_EXPORTED,
                    actor=actor_of(caller),
                    actor_agency_id=caller.agency,
                    object_sha256=row.sha256,
                    at=exported_at,
                    details={
                        "export_id": export_id,
                        "recipient": request.recipient,
                        "reason": request.reason,
                    },
                )
                items.append((row, load_chain(session, evidence_id)))
            return items

        items = await self._with_retry(work)
        response = A.ExportEvidenceResponse(export_id=export_id)
        response.exported_at.FromDatetime(exported_at)
        lines = [f"kuzet-evidence-export v1\t{export_id}\t{exported_at.isoformat()}\t{request.recipient}"]
        for row, chain in items:
            url = await self.objects.presigned_get_url(row.object_key, ttl)
            response.items.append(
                A.ExportItem(
                    evidence=convert.evidence_to_proto(row),
                    download_url=url,
                    custody=[convert.custody_to_proto(c) for c in chain],
                )
            )
            lines.append(f"{row.evidence_id}\t{row.sha256}\t{row.size}\t{chain[-1].hash}")
        response.manifest = "\n".join(lines) + "\n"
        response.manifest_sha256 = hashlib.sha256(response.manifest.encode()).hexdigest()
        await self.audit.record(
            "evidence.export",
            export_id,
            details={
                "evidence_ids": list(request.evidence_ids),
                "recipient": request.recipient,
                "manifest_sha256": response.manifest_sha256,
            },
        )
        return response

    # -- legal hold, cases, retention --------------------------------------------------------

    def _policy(self, session: Session, agency_id: str, category: str) -> RetentionPolicyRow:
        row = session.get(RetentionPolicyRow, (agency_id, category))
        if row is not None:
            return row
        if category == NON_EVIDENTIAL:
            return RetentionPolicyRow(
                agency_id=agency_id,
                category=category,
                retention_days=self.settings.default_non_evidential_days,
                until_case_closed=False,
                days_after_case_closed=0,
            )
        return RetentionPolicyRow(
            agency_id=agency_id,
            category=category,
            retention_days=0,
            until_case_closed=True,
            days_after_case_closed=self.settings.default_days_after_case_closed,
        )

    def _refresh_retention(self, session: Session, row: EvidenceRow) -> None:
        policy = self._policy(session, row.agency_id, row.category)
        row.retain_until = compute_retain_until(
            policy,
            as_utc(row.captured_at),
            as_utc(row.case_closed_at) if row.case_closed_at else None,
            legal_hold=row.legal_hold,
        )

    async def set_legal_hold(
        self, caller: Caller, request: badge_pb2.SetLegalHoldRequest
    ) -> badge_pb2.Evidence:
        """Place a hold, or take one step of its two-person release (kuzet.common.holds): the
        first release call records a request and the item stays held; a second call by another
        person completes it. Each step is audited in the same transaction."""
        caller.require_role(*HOLD_ROLES)
        if not request.reason:
            raise InvalidArgument("reason is required for a legal hold change")
        actor = actor_of(caller)

        def work(session: Session) -> badge_pb2.Evidence:
            row = self._readable(session, caller, request.evidence_id)
            caller.require_agency(row.agency_id)
            if row.status == A.EVIDENCE_STATUS_DELETED:
                raise FailedPrecondition(f"evidence {row.evidence_id} was already deleted by retention")
            details: dict[str, object] = {"hold": request.hold, "reason": request.reason}
            if not request.hold:
                if not row.legal_hold:
                    raise FailedPrecondition(f"evidence {row.evidence_id} is not under a legal hold")
                first = pending_release(session, _release_target(row.evidence_id))
                asked = release_step(
                    session,
                    _release_target(row.evidence_id),
                    agency=row.agency_id,
                    actor=actor,
                    reason=request.reason,
                    ttl_s=self.settings.hold_release_ttl_s,
                )
                if asked is not None:
                    self.audit.append(
                        "evidence.legal_hold_release_request",
                        row.evidence_id,
                        details={**details, "expires_at": asked.expires_at.isoformat()},
                        agency=row.agency_id,
                        actor=actor,
                        session=session,
                    )
                    return convert.evidence_to_proto(row)
                details["requested_by"] = first.requested_by if first else ""
            row.legal_hold = request.hold
            self._refresh_retention(session, row)
            action = A.CUSTODY_ACTION_LEGAL_HOLD_SET if request.hold else A.CUSTODY_ACTION_LEGAL_HOLD_RELEASED
            append_custody(
                session,
                row.evidence_id,
                action,
                actor=actor,
                actor_agency_id=caller.agency,
                object_sha256=row.sha256,
                details={k: v for k, v in details.items() if k != "hold"},
            )
            self.audit.append(
                "evidence.legal_hold",
                row.evidence_id,
                details=details,
                agency=row.agency_id,
                actor=actor,
                session=session,
            )
            return convert.evidence_to_proto(row)

        evidence: badge_pb2.Evidence = await self._with_retry(work)
        return evidence

    async def link_case(self, caller: Caller, evidence_id: str, case_id: str) -> badge_pb2.Evidence:
        convert.check_id(case_id, "case_id")
        caller.require_role("investigator", "admin", "operator")

        def work(session: Session) -> badge_pb2.Evidence:
            row = self._readable(session, caller, evidence_id)
            caller.require_agency(row.agency_id)
            row.case_id, row.case_closed_at = case_id, None
            self._refresh_retention(session, row)
            append_custody(
                session,
                evidence_id,
                A.CUSTODY_ACTION_CASE_LINKED,
                actor=actor_of(caller),
                actor_agency_id=caller.agency,
                object_sha256=row.sha256,
                details={"case_id": case_id},
            )
            return convert.evidence_to_proto(row)

        evidence: badge_pb2.Evidence = await self._with_retry(work)
        await self.audit.record("evidence.link_case", evidence_id, details={"case_id": case_id})
        return evidence

    async def close_case(self, caller: Caller, agency_id: str, case_id: str) -> int:
        agency = agency_id or caller.agency
        caller.require_agency(agency)
        caller.require_role("investigator", "admin")
        convert.check_id(case_id, "case_id")

        def work(session: Session) -> int:
            now = utcnow()
            rows = list(
                session.scalars(
                    select(EvidenceRow).where(
                        EvidenceRow.agency_id == agency,
                        EvidenceRow.case_id == case_id,
                        EvidenceRow.case_closed_at.is_(None),
                    )
                )
            )
            for row in rows:
                row.case_closed_at = now
                self._refresh_retention(session, row)
            return len(rows)

        count = await self.database.run(work)
        await self.audit.record("evidence.close_case", case_id, details={"evidence": count}, agency=agency)
        return count

    async def set_policy(
        self, caller: Caller, policy: badge_pb2.RetentionPolicy
    ) -> badge_pb2.RetentionPolicy:
        agency = policy.agency_id or caller.agency
        caller.require_agency(agency)
        caller.require_role("admin")
        if not _CATEGORY.fullmatch(policy.category):
            raise InvalidArgument(f"category must be lower_snake_case (got {policy.category!r})")
        if policy.retention_days < 0 or policy.days_after_case_closed < 0:
            raise InvalidArgument("retention days cannot be negative")
        if not policy.until_case_closed and policy.retention_days == 0:
            raise InvalidArgument("retention_days must be set unless until_case_closed")
        if policy.category == NON_EVIDENTIAL and not 31 <= policy.retention_days <= 90:
            raise InvalidArgument("non_evidential recordings are kept 31 to 90 days")

        def work(session: Session) -> badge_pb2.RetentionPolicy:
            row = session.get(RetentionPolicyRow, (agency, policy.category))
            if row is None:
                row = RetentionPolicyRow(agency_id=agency, category=policy.category)
                session.add(row)
            row.retention_days = policy.retention_days
            row.until_case_closed = policy.until_case_closed
            row.days_after_case_closed = policy.days_after_case_closed
            session.flush()
            for item in session.scalars(
                select(EvidenceRow).where(
                    EvidenceRow.agency_id == agency,
                    EvidenceRow.category == policy.category,
                    EvidenceRow.status != A.EVIDENCE_STATUS_DELETED,
                )
            ):
                self._refresh_retention(session, item)
            return convert.policy_to_proto(row)

        result = await self.database.run(work)
        await self.audit.record(
            "evidence.retention_policy",
            policy.category,
            agency=agency,
            details={
                "retention_days": policy.retention_days,
                "until_case_closed": policy.until_case_closed,
                "days_after_case_closed": policy.days_after_case_closed,
            },
        )
        return result

    async def list_policies(self, caller: Caller, agency_id: str) -> list[badge_pb2.RetentionPolicy]:
        agency = agency_id or caller.agency
        caller.require_agency(agency)
        rows = await self.database.run(
            lambda s: list(
                s.scalars(select(RetentionPolicyRow).where(RetentionPolicyRow.agency_id == agency))
            )
        )
        return [convert.policy_to_proto(r) for r in rows]

    async def run_retention(self, agency_id: str | None = None, now: datetime | None = None) -> list[str]:
        """Delete every item whose retention date passed and that is not held; record each deletion."""
        moment = now or utcnow()

        def due(session: Session) -> list[tuple[str, str, str]]:
            query = select(EvidenceRow.evidence_id, EvidenceRow.object_key, EvidenceRow.agency_id).where(
                EvidenceRow.status.in_([A.EVIDENCE_STATUS_STORED, A.EVIDENCE_STATUS_CORRUPTED]),
                EvidenceRow.legal_hold.is_(False),
                EvidenceRow.retain_until.is_not(None),
                EvidenceRow.retain_until <= moment,
            )
            if agency_id is not None:
                query = query.where(EvidenceRow.agency_id == agency_id)
            return [tuple(r) for r in session.execute(query)]  # type: ignore[misc]

        loop = asyncio.get_running_loop()
        deleted: list[str] = []
        for evidence_id, key, agency in await self.database.run(due):
            # One transaction per item that re-checks it, marks it and deletes the object before
            # committing: a legal hold placed meanwhile waits on the row and then finds it deleted
            # (or wins and the item is kept); a failed object delete rolls the mark back.
            def remove(session: Session, evidence_id: str = evidence_id, key: str = key) -> bool:
                row = session.get(EvidenceRow, evidence_id, with_for_update=True)
                if (
                    row is None
                    or row.legal_hold
                    or row.retain_until is None
                    or as_utc(row.retain_until) > moment
                ):
                    return False
                row.status = A.EVIDENCE_STATUS_DELETED
                append_custody(
                    session,
                    evidence_id,
                    A.CUSTODY_ACTION_DELETED_BY_RETENTION,
                    actor="system:retention",
                    actor_agency_id=row.agency_id,
                    object_sha256=row.sha256,
                    details={"retain_until": as_utc(row.retain_until).isoformat(), "key": key},
                )
                session.flush()
                with contextlib.suppress(NotFound):
                    asyncio.run_coroutine_threadsafe(self.objects.delete(key), loop).result(timeout=120)
                return True

            try:
                removed = await self._with_retry(remove)
            except KuzetError as exc:
                log.error(
                    "retention could not delete evidence %s: %s",
                    evidence_id,
                    exc.message,
                    extra={"agency": agency},
                )
                continue
            if not removed:
                continue
            deleted.append(evidence_id)
            await self.audit.record(
                "evidence.retention_delete",
                evidence_id,
                agency=agency,
                actor="system:retention",
                details={"key": key},
            )
        if deleted:
            log.info("retention deleted %d evidence items", len(deleted))
        return deleted

    # -- verification ------------------------------------------------------------------------

    async def verify(
        self, caller: Caller | None, evidence_id: str = "", agency_id: str = ""
    ) -> list[badge_pb2.VerificationResult]:
        """Re-hash stored objects; a mismatch marks the item CORRUPTED with a custody step."""

        def targets(session: Session) -> list[tuple[str, str, str, str]]:
            if evidence_id:
                row = (
                    self._readable(session, caller, evidence_id)
                    if caller
                    else session.get(EvidenceRow, evidence_id)
                )
                if row is None:
                    raise NotFound(f"evidence {evidence_id} not found")
                rows = [row]
            else:
                query = select(EvidenceRow).where(
                    EvidenceRow.status.in_([A.EVIDENCE_STATUS_STORED, A.EVIDENCE_STATUS_CORRUPTED])
                )
                if agency_id:
                    query = query.where(EvidenceRow.agency_id == agency_id)
                rows = list(session.scalars(query))
            return [(r.evidence_id, r.object_key, r.sha256, r.agency_id) for r in rows]

        results = []
        for item_id, key, expected, agency in await self.database.run(targets):
            try:
                data = await self.objects.get(key)
                actual = await asyncio.to_thread(sha256_hex, data)
                reason = "" if actual == expected else "stored bytes do not match the recorded SHA-256"
            except NotFound:
                actual, reason = "", "object is missing from the store"
            ok = not reason
            results.append(
                A.VerificationResult(
                    evidence_id=item_id, ok=ok, expected_sha256=expected, actual_sha256=actual, reason=reason
                )
            )
            await self._with_retry(self._record_verification, item_id, ok, expected, actual, reason, caller)
            if not ok:
                log.error("evidence %s failed verification: %s", item_id, reason, extra={"agency": agency})
                await self.audit.record(
                    "evidence.verification_failed",
                    item_id,
                    outcome="error: " + reason,
                    agency=agency,
                    actor=actor_of(caller) if caller else "system:verification",
                    details={"expected": expected, "actual": actual},
                )
        return results

    def _record_verification(
        self,
        session: Session,
        evidence_id: str,
        ok: bool,
        expected: str,
        actual: str,
        reason: str,
        caller: Caller | None,
    ) -> None:
        row = session.get(EvidenceRow, evidence_id)
        if row is None:
            return
        if ok and caller is None:
            return  # the periodic job only records findings, not a step per item per run
        row.status = A.EVIDENCE_STATUS_STORED if ok else A.EVIDENCE_STATUS_CORRUPTED
        append_custody(
            session,
            evidence_id,
            A.CUSTODY_ACTION_VERIFIED if ok else A.CUSTODY_ACTION_VERIFICATION_FAILED,
            actor=actor_of(caller) if caller else "system:verification",
            actor_agency_id=caller.agency if caller else row.agency_id,
            object_sha256=actual,
            details={"expected_sha256": expected, "reason": reason},
        )


def compute_retain_until(
    policy: RetentionPolicyRow, captured_at: datetime, case_closed_at: datetime | None, *, legal_hold: bool
) -> datetime | None:
    """None means "keep": held, or waiting for its case to close."""
    if legal_hold:
        return None
    if not policy.until_case_closed:
        return as_utc(captured_at) + timedelta(days=policy.retention_days)
    if case_closed_at is None:
        return None
    return as_utc(case_closed_at) + timedelta(days=policy.days_after_case_closed)


def _drop_stream(upload: _Upload, reason: str) -> None:
    """Abandon storing while receiving: the store aborts its multipart upload, nothing is kept."""
    if upload.stream is not None:
        upload.stream.fail(StreamFailed(reason))


def _release_target(evidence_id: str) -> str:
    return f"badge.evidence:{evidence_id}"


def _object_key(row: UploadRow) -> str:
    return f"evidence/{row.agency_id}/{row.evidence_id}"


def _captured_at(meta: badge_pb2.EvidenceMetadata) -> datetime:
    return from_timestamp(meta.captured_at) or utcnow()


def _forget_chunks(session: Session, upload_id: str, indexes: list[int] | None = None) -> None:
    """Drop chunk confirmations (all, or ``indexes``): those chunks are asked for again."""
    query = delete(UploadChunkRow).where(UploadChunkRow.upload_id == upload_id)
    if indexes is not None:
        query = query.where(UploadChunkRow.chunk_index.in_(indexes))
    session.execute(query)


def _hash_fd(fd: int, size: int, block: int = 4 * 1024 * 1024) -> str:
    hasher = hashlib.sha256()
    offset = 0
    while offset < size:
        data = os.pread(fd, min(block, size - offset), offset)
        if not data:
            break
        hasher.update(data)
        offset += len(data)
    return hasher.hexdigest()

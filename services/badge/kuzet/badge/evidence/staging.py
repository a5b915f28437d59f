"""The staging side of an upload: chunks received ahead, checked, written at their offset and confirmed.

Chunks are checked against their SHA-256 and written into a staging file at their offset; the
chunks confirmed so far are recorded in the database (in batches, written while later chunks
arrive), so a broken upload resumes with the chunks still missing. The staging file is not fsynced
per batch (that doubled the disk flushes of an upload): if an OS crash loses staged bytes, the
whole-file hash fails, every staged chunk is re-checked against its recorded hash and the damaged
ones are asked for again (commit.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kuzet.badge.evidence.base import EvidenceBase
from kuzet.badge.models import UploadChunkRow, UploadRow
from kuzet.badge.v1 import badge_pb2
from kuzet.common.errors import InvalidArgument
from kuzet.common.objectstore import ObjectStream, StreamFailed, start_writeback
from kuzet.common.timeutil import from_timestamp, utcnow

log = logging.getLogger(__name__)


class ReadAhead:
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

    def __aiter__(self) -> ReadAhead:
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
class Chunk:
    index: int
    data: bytes
    sha256: str

    @classmethod
    def of(cls, chunk: badge_pb2.EvidenceChunk) -> Chunk:
        # Every read of a bytes field of a (upb) message is a new copy: a 1 MiB one here.
        return cls(chunk.index, chunk.data, chunk.sha256)


@dataclass
class Upload:
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


class Staging(EvidenceBase):
    """Receiving, staging and confirming the chunks of an upload."""

    def _expected_size(self, upload: Upload, index: int) -> int:
        row = upload.row
        if index == row.total_chunks - 1:
            return row.total_size - index * row.chunk_size
        return row.chunk_size

    def _check_chunk(self, upload: Upload, chunk: Chunk) -> None:
        if not 0 <= chunk.index < upload.row.total_chunks:
            raise InvalidArgument(f"chunk index {chunk.index} is outside 0..{upload.row.total_chunks - 1}")
        expected = self._expected_size(upload, chunk.index)
        if len(chunk.data) != expected:
            raise InvalidArgument(f"chunk {chunk.index} has {len(chunk.data)} bytes, expected {expected}")

    async def _receive_chunk(self, upload: Upload, chunk: Chunk) -> None:
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

    def _stage(self, upload: Upload, chunk: Chunk, in_order: bool) -> bool:
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

    def _confirm_soon(self, upload: Upload) -> None:
        """Confirm the pending chunks in the background, one write at a time."""
        if upload.confirming is not None:
            if not upload.confirming.done():
                return  # the batch grows until the write in flight is done
            upload.confirming.result()  # a failed write fails the upload now
        upload.confirming = asyncio.ensure_future(self._write_confirmations(upload))

    async def _confirm(self, upload: Upload) -> None:
        """Wait for the confirmation in flight, then confirm what is pending."""
        if upload.confirming is not None:
            confirming, upload.confirming = upload.confirming, None
            await confirming
        await self._write_confirmations(upload)

    async def _write_confirmations(self, upload: Upload) -> None:
        if not upload.pending:
            return
        pending, upload.pending = upload.pending, []

        def write(session: Session) -> None:
            session.add_all(
                UploadChunkRow(upload_id=upload.row.upload_id, chunk_index=i, sha256=h, size=n)
                for i, h, n in pending
            )

        await self.database.run(write)

    async def _confirm_and_close(self, upload: Upload, staging: asyncio.Future[None] | None) -> None:
        try:
            for work in (staging, upload.writing):
                if work is not None:
                    await asyncio.gather(work, return_exceptions=True)
            await self._confirm(upload)
        finally:
            os.close(upload.fd)

    def _missing(self, upload: Upload) -> list[int]:
        return [i for i in range(upload.row.total_chunks) if i not in upload.confirmed]

    async def _damaged_chunks(self, upload: Upload) -> list[int]:
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
            await self.database.run(forget_chunks, upload_id, damaged)
            log.warning(
                "upload %s: %d staged chunks were damaged, asking for them again", upload_id, len(damaged)
            )
        return damaged


def drop_stream(upload: Upload, reason: str) -> None:
    """Abandon storing while receiving: the store aborts its multipart upload, nothing is kept."""
    if upload.stream is not None:
        upload.stream.fail(StreamFailed(reason))


def object_key(row: UploadRow) -> str:
    return f"evidence/{row.agency_id}/{row.evidence_id}"


def capture_time(meta: badge_pb2.EvidenceMetadata) -> datetime:
    return from_timestamp(meta.captured_at) or utcnow()


def forget_chunks(session: Session, upload_id: str, indexes: list[int] | None = None) -> None:
    """Drop chunk confirmations (all, or ``indexes``): those chunks are asked for again."""
    query = delete(UploadChunkRow).where(UploadChunkRow.upload_id == upload_id)
    if indexes is not None:
        query = query.where(UploadChunkRow.chunk_index.in_(indexes))
    session.execute(query)


def hash_fd(fd: int, size: int, block: int = 4 * 1024 * 1024) -> str:
    hasher = hashlib.sha256()
    offset = 0
    while offset < size:
        data = os.pread(fd, min(block, size - offset), offset)
        if not data:
            break
        hasher.update(data)
        offset += len(data)
    return hasher.hexdigest()

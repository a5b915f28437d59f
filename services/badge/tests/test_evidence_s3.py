"""Evidence on a real S3 server: stored while it arrives, and nothing stored that should not be."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import grpc
import pytest

from kuzet.badge.server import BadgeApp
from kuzet.badge.sim import register_badges
from kuzet.badge.v1 import badge_pb2 as A
from kuzet.badge.v1 import badge_pb2_grpc
from kuzet.common.grpcclient import open_channel

from .conftest import ADMIN, AGENCY
from .test_evidence import chunks, metadata, recording, upload

SIZE = 6 * 1024 * 1024 + 777  # over S3's 5 MiB smallest part: stored as a multipart upload


@pytest.fixture
async def s3_app(make_app: Callable[..., Any], s3_server: Any) -> Any:
    app: BadgeApp = await make_app(objects=s3_server.store())
    channel = open_channel(app.server.address, audience="badge", caller=ADMIN)
    stub = badge_pb2_grpc.BadgeServiceStub(channel)
    await register_badges(stub, AGENCY, ["E-1"])
    yield app, stub
    await channel.close()


async def test_upload_is_stored_while_it_arrives(s3_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    app, stub = s3_app

    async def not_needed(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a fresh in-order upload is stored while it arrives, not from staging")

    monkeypatch.setattr(app.objects, "put_file", not_needed)
    data = recording(SIZE, seed=7)
    response = await upload(stub, metadata(data), chunks(data))
    assert response.complete, response
    assert await app.objects.get(response.evidence.object.key) == data
    assert response.evidence.object.sha256 == hashlib.sha256(data).hexdigest()
    assert list(app.evidence.staging.iterdir()) == []


async def test_interrupted_upload_stores_nothing_until_resumed(s3_app: Any) -> None:
    app, stub = s3_app
    data = recording(SIZE, seed=8)
    meta = metadata(data)
    parts = chunks(data)
    half = len(parts) // 2 + 1  # past the first 5 MiB part
    first = await upload(stub, meta, parts[:half])
    assert not first.complete and len(first.missing_chunks) == len(parts) - half
    assert await app.objects.list() == []  # the multipart upload was aborted: no object
    done = await upload(stub, meta, parts[half:])  # resumed: stored from the staging file
    assert done.complete
    assert await app.objects.get(done.evidence.object.key) == data


async def test_whole_file_mismatch_stores_nothing(s3_app: Any) -> None:
    app, stub = s3_app
    data = recording(SIZE, seed=9)
    meta = metadata(data)
    meta.sha256 = hashlib.sha256(b"not this file").hexdigest()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await upload(stub, meta, chunks(data))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    # Under object lock a stored object could not be removed: it must never have been completed.
    assert await app.objects.list() == []


async def test_corrupted_chunk_falls_back_to_the_staged_file(s3_app: Any) -> None:
    app, stub = s3_app
    data = recording(SIZE, seed=10)
    meta = metadata(data)
    parts = chunks(data)
    broken = A.EvidenceChunk(index=3, data=b"\x00" + parts[3].data[1:], sha256=parts[3].sha256)
    response = await upload(stub, meta, [*parts[:3], broken, *parts[4:]])
    assert list(response.missing_chunks) == [3] and list(response.rejected_chunks) == [3]
    assert await app.objects.list() == []
    done = await upload(stub, meta, [parts[3]])
    assert done.complete and await app.objects.get(done.evidence.object.key) == data

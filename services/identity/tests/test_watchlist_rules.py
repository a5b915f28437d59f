"""Watchlists end by a set date within the operator's maximum and need at least two reviewers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.identity.v1 import identity_pb2 as pb

from .conftest import ADMIN, Running, md, start_identity

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _refused(running: Running, match: str, **kw: object) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await running.gallery(**kw)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert match in (err.value.details() or "")


async def test_watchlist_needs_an_expiry_within_the_maximum_and_two_reviewers(
    identity_sqlite: Running,
) -> None:
    await _refused(identity_sqlite, "needs expires_at", expires_at=None)
    await _refused(
        identity_sqlite, "more than 365 days ahead", expires_at=to_timestamp(utcnow() + timedelta(days=400))
    )
    await _refused(identity_sqlite, "at least 2 required_reviewers, got 1", required_reviewers=1)
    ok = await identity_sqlite.gallery(
        expires_at=to_timestamp(utcnow() + timedelta(days=364)), required_reviewers=3
    )
    assert ok.required_reviewers == 3 and ok.HasField("expires_at")
    # Other galleries keep their own rules: a staff gallery may live on with one reviewer.
    staff = await identity_sqlite.gallery(kind=pb.GALLERY_KIND_STAFF, required_reviewers=1)
    assert staff.required_reviewers == 1 and not staff.HasField("expires_at")


async def test_the_operator_sets_the_longest_watchlist_lifetime(
    tmp_path: Path, inference_address: str
) -> None:
    running = await start_identity(
        f"sqlite:///{tmp_path / 'id.db'}", tmp_path, inference_address, watchlist_max_days=7
    )
    try:
        await _refused(
            running, "more than 7 days ahead", expires_at=to_timestamp(utcnow() + timedelta(days=8))
        )
        assert (await running.gallery(expires_at=to_timestamp(utcnow() + timedelta(days=6)))).HasField(
            "expires_at"
        )
    finally:
        await running.channel.close()
        await running.server.stop(0)


async def test_update_keeps_a_watchlist_within_the_rules(identity_sqlite: Running) -> None:
    stub, metadata = identity_sqlite.stub, md(ADMIN)
    gallery = await identity_sqlite.gallery()
    later = to_timestamp(utcnow() + timedelta(days=200))
    updated = await stub.UpdateGallery(
        pb.UpdateGalleryRequest(gallery_id=gallery.gallery_id, expires_at=later, required_reviewers=3),
        metadata=metadata,
    )
    assert updated.gallery.expires_at.seconds == later.seconds and updated.gallery.required_reviewers == 3
    for request, words in (
        (pb.UpdateGalleryRequest(gallery_id=gallery.gallery_id, required_reviewers=1), "at least 2"),
        (
            pb.UpdateGalleryRequest(
                gallery_id=gallery.gallery_id, expires_at=to_timestamp(utcnow() + timedelta(days=900))
            ),
            "days ahead",
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.UpdateGallery(request, metadata=metadata)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and words in (err.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.UpdateGallery(pb.UpdateGalleryRequest(gallery_id="nope"), metadata=metadata)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND

"""Identity's listings page by keyset through kuzet.common.paging."""

from __future__ import annotations

import grpc
import pytest

from kuzet.common.v1 import common_pb2
from kuzet.identity.v1 import identity_pb2 as pb

from .conftest import ADMIN, REVIEWER_1, Running, md

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_galleries_page_to_the_end_and_tokens_are_checked(identity_sqlite: Running) -> None:
    stub = identity_sqlite.stub
    made = [(await identity_sqlite.gallery(name=f"g{i}")).gallery_id for i in range(5)]
    seen: list[str] = []
    token = ""
    for _ in range(10):
        page = await stub.ListGalleries(
            pb.ListGalleriesRequest(page=common_pb2.PageRequest(page_size=2, page_token=token)),
            metadata=md(ADMIN),
        )
        seen += [g.gallery_id for g in page.galleries]
        token = page.page.next_page_token
        if not token:
            break
    # Each gallery once (those made in the same microsecond are ordered by id), and the walk ends.
    assert len(seen) == 5 and set(seen) == set(made)

    first = await stub.ListGalleries(
        pb.ListGalleriesRequest(page=common_pb2.PageRequest(page_size=2)), metadata=md(ADMIN)
    )
    issued = first.page.next_page_token
    tampered = issued[:12] + ("B" if issued[12] != "B" else "C") + issued[13:]
    bad = [
        stub.ListGalleries(
            pb.ListGalleriesRequest(page=common_pb2.PageRequest(page_token="2")), metadata=md(ADMIN)
        ),
        stub.ListGalleries(
            pb.ListGalleriesRequest(page=common_pb2.PageRequest(page_token=tampered)),
            metadata=md(ADMIN),
        ),
        # A token of one listing is no token of another.
        stub.ListReviews(
            pb.ListReviewsRequest(page=common_pb2.PageRequest(page_token=first.page.next_page_token)),
            metadata=md(REVIEWER_1),
        ),
        stub.ListGalleries(
            pb.ListGalleriesRequest(page=common_pb2.PageRequest(page_size=501)), metadata=md(ADMIN)
        ),
    ]
    for call in bad:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "page_" in (err.value.details() or "")

"""Badge listings page by keyset through kuzet.common.paging: ties, last page, bad tokens."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import grpc
import pytest

from kuzet.badge.server import BadgeApp
from kuzet.badge.sim import register_badges
from kuzet.badge.v1 import badge_pb2 as A
from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.common.v1 import common_pb2

from .conftest import AGENCY
from .test_records import OFFICER, Stub, citation


async def _walk(
    list_page: Callable[[common_pb2.PageRequest], Awaitable[Any]], field: str, size: int
) -> list[Any]:
    items: list[Any] = []
    token = ""
    for pages in range(1, 50):
        response = await list_page(common_pb2.PageRequest(page_size=size, page_token=token))
        got = list(getattr(response, field))
        assert len(got) <= size
        items += got
        token = response.page.next_page_token
        if not token:
            assert pages == max(1, -(-len(items) // size))  # no empty page after a full one
            return items
    raise AssertionError("the listing never ended")


async def test_badges_and_citations_page_with_ties(app: BadgeApp, admin: Stub, stub_for: Any) -> None:
    await register_badges(admin, AGENCY, ["B-4", "B-2", "B-5", "B-1", "B-3"])
    for size in (1, 2, 5):
        badges = await _walk(lambda page: admin.ListBadges(A.ListBadgesRequest(page=page)), "badges", size)
        assert [b.badge_id for b in badges] == ["B-1", "B-2", "B-3", "B-4", "B-5"]

    officer = stub_for(OFFICER)
    same_time = to_timestamp(utcnow() - timedelta(minutes=5))
    created = [
        (
            await officer.CreateCitation(
                A.CreateCitationRequest(citation=citation(badge_id="B-1", occurred_at=same_time))
            )
        ).citation.citation_id
        for _ in range(4)
    ]
    for size in (1, 3):
        listed = await _walk(
            lambda page: officer.ListCitations(A.ListCitationsRequest(page=page)), "citations", size
        )
        # One occurrence time for all: the citation id orders them, each exactly once.
        assert [c.citation_id for c in listed] == sorted(created)

    # Above the maximum a badge listing gets its maximum, as before; a bad token is refused.
    assert (
        len(
            (await admin.ListBadges(A.ListBadgesRequest(page=common_pb2.PageRequest(page_size=10**6)))).badges
        )
        == 5
    )
    for bad in (common_pb2.PageRequest(page_token="B-2"), common_pb2.PageRequest(page_size=-1)):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await admin.ListBadges(A.ListBadgesRequest(page=bad))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT

"""WatchWatchlistChanges: the watchlist entries' changes in commit order, as they are now (photos
when enrolled, who and why when erased), for the federation service only, audited per agency."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from kuzet.common.caller import Caller
from kuzet.common.v1 import audit_pb2
from kuzet.identity.v1 import identity_pb2 as pb

from .conftest import ADMIN, AUDITOR, INGEST, Photos, Running, md

pytestmark = pytest.mark.asyncio(loop_scope="session")

FEDERATION = Caller("service:federation", "", frozenset({"service"}))


class Watch:
    """One WatchWatchlistChanges call: its changes one by one, then cancel()."""

    def __init__(self, running: Running, after_seq: int = 0, caller: Caller = FEDERATION) -> None:
        self.call = running.stub.WatchWatchlistChanges(
            pb.WatchWatchlistChangesRequest(after_seq=after_seq), metadata=md(caller)
        )
        self.responses: AsyncIterator[pb.WatchWatchlistChangesResponse] = aiter(self.call)

    async def next(self) -> pb.WatchlistChange:
        return (await anext(self.responses)).change

    def cancel(self) -> None:
        self.call.cancel()


async def test_only_the_federation_service_watches(identity: Running) -> None:
    for caller, after_seq, code in (
        (ADMIN, 0, grpc.StatusCode.PERMISSION_DENIED),
        (INGEST, 0, grpc.StatusCode.PERMISSION_DENIED),
        (FEDERATION, -1, grpc.StatusCode.INVALID_ARGUMENT),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await Watch(identity, after_seq, caller).next()
        assert err.value.code() == code


async def test_enrolments_and_erasures_of_watchlists_in_order(identity: Running, photos: Photos) -> None:
    watchlist = await identity.gallery()
    inmates = await identity.gallery(kind=pb.GALLERY_KIND_INMATES, name="block-c")
    await identity.enrol(inmates.gallery_id, [photos.biden], "Inmate")  # not a watchlist: not sent
    enrolled = await identity.enrol(watchlist.gallery_id, photos.obama[:2], "W-17")

    watch = Watch(identity)
    first = await watch.next()
    assert first.kind == pb.WATCHLIST_CHANGE_KIND_ENROL
    assert first.watchlist.gallery_id == watchlist.gallery_id and first.watchlist.agency_id == "prison"
    assert first.watchlist.legal_basis == "Penal Code art. 83"
    assert first.person.external_id == "w-17" and first.person.image_count == 2
    assert [i.image for i in first.images] == photos.obama[:2]

    # Followed live: an erasure committed now comes next, with who and why.
    await identity.stub.RemovePerson(
        pb.RemovePersonRequest(person_id=enrolled.person.person_id, reason="warrant withdrawn"),
        metadata=md(ADMIN),
    )
    second = await watch.next()
    watch.cancel()
    assert second.kind == pb.WATCHLIST_CHANGE_KIND_REMOVE and second.seq > first.seq
    assert second.person.external_id == "w-17" and second.reason == "warrant withdrawn"
    assert not second.images

    # Resumed after the enrolment: the erasure only; an erased entry's enrolment is not read again.
    again = Watch(identity, after_seq=first.seq)
    assert (await again.next()).seq == second.seq
    again.cancel()
    replay = Watch(identity)
    assert (await replay.next()).kind == pb.WATCHLIST_CHANGE_KIND_REMOVE
    replay.cancel()

    trail = await identity.audit_stub.ListAudit(
        audit_pb2.ListAuditRequest(action_prefix="identity.watchlist_changes"), metadata=md(AUDITOR)
    )
    assert trail.records, "every read is in the agency's trail"
    read = trail.records[0]
    assert read.actor == "service:federation" and watchlist.gallery_id in read.target
    assert {c["external_id"] for c in read.details["changes"]} == {"w-17"}

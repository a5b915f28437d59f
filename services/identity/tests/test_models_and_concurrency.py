"""Model versions never mix (re-embedding after a model change), and enrolment while searching
over gRPC gives consistent answers."""

from __future__ import annotations

import asyncio

import grpc
import numpy as np
import pytest
from sqlalchemy import update

from kuzet.identity.models import EmbeddingRow, GalleryRow
from kuzet.identity.v1 import identity_pb2 as pb

from .conftest import ADMIN, INVESTIGATOR, Photos, Running, md

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_searches_never_mix_model_versions_and_reembedding_fixes_it(
    identity_sqlite: Running, photos: Photos
) -> None:
    app = identity_sqlite.app
    gallery = await identity_sqlite.gallery(kind=pb.GALLERY_KIND_INMATES)
    obama = await identity_sqlite.enrol(gallery.gallery_id, photos.obama[:2], "Obama")
    # Pretend the gallery was enrolled by an older model, as after an upgrade of inference.
    with app.database.session() as s:
        s.execute(update(EmbeddingRow).values(model="sface@2019old"))
        s.execute(update(GalleryRow).values(model="sface@2019old"))
    app.changes.load_gallery(gallery.gallery_id)

    implicit = await identity_sqlite.identify(photos.obama[2], mode=pb.MATCH_MODE_INVESTIGATION)
    assert list(implicit.candidates) == []  # skipped, not compared across models
    with pytest.raises(grpc.aio.AioRpcError) as named:
        await identity_sqlite.identify(photos.obama[2], gallery_ids=[gallery.gallery_id])
    assert named.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "re-embed" in (named.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as enrol:
        await identity_sqlite.enrol(gallery.gallery_id, [photos.biden], "Biden")
    assert enrol.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    probe = pb.Probe(embedding=pb.Embedding(values=np.ones(128).tolist(), model="other@1"))
    with pytest.raises(grpc.aio.AioRpcError) as embedding:
        await identity_sqlite.stub.Identify(
            pb.IdentifyRequest(
                probe=probe, gallery_ids=[gallery.gallery_id], mode=pb.MATCH_MODE_ALERT, purpose="p"
            ),
            metadata=md(INVESTIGATOR),
        )
    assert embedding.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    done = await identity_sqlite.stub.ReembedGallery(
        pb.ReembedGalleryRequest(gallery_id=gallery.gallery_id), metadata=md(ADMIN)
    )
    assert (done.model, done.images_reembedded, done.images_failed) == ("sface@2021dec", 2, 0)
    found = await identity_sqlite.identify(photos.obama[2], gallery_ids=[gallery.gallery_id])
    assert await identity_sqlite.matched(found) == [obama.person.person_id]
    with app.database.session() as s:
        models = set(s.scalars(EmbeddingRow.__table__.select().with_only_columns(EmbeddingRow.model)))
    assert models == {"sface@2021dec"}


async def test_enrolment_while_searching_gives_consistent_results(
    identity_sqlite: Running, photos: Photos
) -> None:
    gallery = await identity_sqlite.gallery(kind=pb.GALLERY_KIND_INMATES, required_reviewers=1)
    first = await identity_sqlite.enrol(gallery.gallery_id, [photos.obama[0]], "Obama 0")
    enrolled = {first.person.person_id}
    stop = asyncio.Event()
    seen: list[list[str]] = []

    async def search() -> None:
        while not stop.is_set():
            found = await identity_sqlite.identify(
                photos.obama[2], mode=pb.MATCH_MODE_INVESTIGATION, top_k=20
            )
            ids = [c.person_id for c in found.candidates]
            scores = [c.score for c in found.candidates]
            assert len(set(ids)) == len(ids) and scores == sorted(scores, reverse=True)
            seen.append(ids)

    async def enrol() -> None:
        try:
            for i, photo in enumerate([photos.obama[1], photos.obama[3], photos.obama[4], photos.biden]):
                response = await identity_sqlite.enrol(gallery.gallery_id, [photo], f"P{i}")
                enrolled.add(response.person.person_id)
        finally:
            stop.set()

    await asyncio.gather(search(), search(), enrol())
    final = await identity_sqlite.identify(photos.obama[2], mode=pb.MATCH_MODE_INVESTIGATION, top_k=20)
    assert {c.person_id for c in final.candidates} == enrolled
    # Every intermediate answer only ever held people enrolled at the time (never a torn one).
    assert all(set(ids) <= enrolled for ids in seen) and seen

from datetime import timedelta

import pytest

from kuzet.common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from kuzet.common.objectstore import open_object_store, sha256_hex
from kuzet.common.timeutil import utcnow


async def test_put_get_stat_list_delete(object_store) -> None:  # type: ignore[no-untyped-def]
    info = await object_store.put("snapshots/cam-1/a.jpg", b"jpeg-bytes", "image/jpeg")
    assert info.sha256 == sha256_hex(b"jpeg-bytes") and info.size == 10
    assert await object_store.get("snapshots/cam-1/a.jpg") == b"jpeg-bytes"
    stat = await object_store.stat("snapshots/cam-1/a.jpg")
    assert stat.sha256 == info.sha256 and stat.content_type == "image/jpeg"
    assert await object_store.list("snapshots/") == ["snapshots/cam-1/a.jpg"]
    await object_store.delete("snapshots/cam-1/a.jpg")
    assert not await object_store.exists("snapshots/cam-1/a.jpg")
    with pytest.raises(NotFound):
        await object_store.get("snapshots/cam-1/a.jpg")


async def test_evidence_is_never_overwritten(object_store) -> None:  # type: ignore[no-untyped-def]
    await object_store.put("evidence/e1", b"original", overwrite=False)
    with pytest.raises(AlreadyExists):
        await object_store.put("evidence/e1", b"tampered", overwrite=False)
    assert await object_store.get("evidence/e1") == b"original"


async def test_retention_blocks_deletion(object_store) -> None:  # type: ignore[no-untyped-def]
    await object_store.put("evidence/held", b"x", retain_until=utcnow() + timedelta(days=1))
    with pytest.raises(FailedPrecondition):
        await object_store.delete("evidence/held")
    assert await object_store.get("evidence/held") == b"x"


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a//b", ""])
async def test_bad_keys_are_refused(object_store, key: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidArgument):
        await object_store.put(key, b"x")


def test_open_object_store_urls(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert type(open_object_store(f"file://{tmp_path}")).__name__ == "LocalObjectStore"
    monkeypatch.delenv("KUZET_S3_ACCESS_KEY", raising=False)
    with pytest.raises(InvalidArgument, match="KUZET_S3_ACCESS_KEY"):
        open_object_store("s3://bucket?endpoint=127.0.0.1:9000")
    with pytest.raises(InvalidArgument, match="scheme"):
        open_object_store("ftp://x")

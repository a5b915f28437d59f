import asyncio
import hashlib
import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from kuzet.common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from kuzet.common.objectstore import (
    LocalObjectStore,
    ObjectStream,
    StreamFailed,
    open_object_store,
    sha256_hex,
)
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


BAD_KEYS = [
    "../etc/passwd",
    "evidence/../../etc/passwd",
    "evidence/..",
    "..",
    "/abs",
    "/etc/passwd",
    "a//b",
    "evidence/./kept",  # the local store's "evidence/kept"
    "evidence/kept/",
    "",
    "evidence/a\x00b",
    "evidence\\..\\..\\x",
    "evidence/kept\n",
    "C:/x",
]


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_bad_keys_are_refused(object_store, tmp_path: Path, key: str) -> None:  # type: ignore[no-untyped-def]
    """Every operation refuses the key, and nothing is written, changed or removed anywhere."""
    await object_store.put("evidence/kept", b"kept")
    files_before = _files(tmp_path)
    upload = staged(object_store, tmp_path, b"x")
    attempts = {
        "put": lambda: object_store.put(key, b"x", overwrite=True),
        "put_file": lambda: object_store.put_file(
            key, upload, sha256=sha256_hex(b"x"), size=1, overwrite=True
        ),
        "get": lambda: object_store.get(key),
        "stat": lambda: object_store.stat(key),
        "exists": lambda: object_store.exists(key),
        "delete": lambda: object_store.delete(key),
        "presigned_get_url": lambda: object_store.presigned_get_url(key),
    }
    for name, attempt in attempts.items():
        with pytest.raises(InvalidArgument, match="invalid object key"):
            await attempt()
        assert await object_store.list() == ["evidence/kept"], name
    assert await object_store.get("evidence/kept") == b"kept"
    upload.unlink(missing_ok=True)
    assert _files(tmp_path) == files_before


def test_open_object_store_urls(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert type(open_object_store(f"file://{tmp_path}")).__name__ == "LocalObjectStore"
    monkeypatch.delenv("KUZET_S3_ACCESS_KEY", raising=False)
    with pytest.raises(InvalidArgument, match="KUZET_S3_ACCESS_KEY"):
        open_object_store("s3://bucket?endpoint=127.0.0.1:9000")
    with pytest.raises(InvalidArgument, match="scheme"):
        open_object_store("ftp://x")


def staged(store, tmp_path: Path, data: bytes, name: str = "upload.part") -> Path:  # type: ignore[no-untyped-def]
    """A file staged where the store adopts it without a copy (anywhere for S3)."""
    path = (store.staging_dir or tmp_path) / name
    path.write_bytes(data)
    return path


async def test_put_file_stores_a_staged_file_once(object_store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = os.urandom(6 * 1024 * 1024 + 7)  # above minio's 5 MiB part: a multipart upload on S3
    source = staged(object_store, tmp_path, data)
    info = await object_store.put_file(
        "evidence/p1", source, "video/mp4", sha256=sha256_hex(data), size=len(data)
    )
    assert (info.sha256, info.size, info.content_type) == (sha256_hex(data), len(data), "video/mp4")
    assert not source.exists()
    assert await object_store.get("evidence/p1") == data
    stat = await object_store.stat("evidence/p1")
    assert (stat.sha256, stat.size, stat.content_type) == (info.sha256, info.size, "video/mp4")

    again = staged(object_store, tmp_path, b"tampered")
    with pytest.raises(AlreadyExists):
        await object_store.put_file("evidence/p1", again, sha256=sha256_hex(b"tampered"), size=8)
    assert again.read_bytes() == b"tampered"  # an error leaves the file to the caller
    assert await object_store.get("evidence/p1") == data


async def test_put_file_honours_retention(object_store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = staged(object_store, tmp_path, b"held")
    await object_store.put_file(
        "evidence/held", source, sha256=sha256_hex(b"held"), size=4, retain_until=utcnow() + timedelta(days=1)
    )
    with pytest.raises(FailedPrecondition):
        await object_store.delete("evidence/held")
    assert await object_store.get("evidence/held") == b"held"


async def test_put_file_refuses_a_file_that_is_not_what_was_announced(object_store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = staged(object_store, tmp_path, b"12345")
    with pytest.raises(InvalidArgument, match="5 bytes"):
        await object_store.put_file("evidence/x", source, sha256=sha256_hex(b"12345"), size=6)
    with pytest.raises(InvalidArgument, match="sha256"):
        await object_store.put_file("evidence/x", source, sha256="not-a-digest", size=5)
    with pytest.raises(NotFound):
        await object_store.put_file("evidence/x", tmp_path / "missing", sha256=sha256_hex(b""), size=0)
    assert source.exists() and not await object_store.exists("evidence/x")


async def test_local_put_file_adopts_the_staged_file_without_a_copy(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    assert store.staging_dir is not None and store.staging_dir.is_relative_to(store.root)
    source = staged(store, tmp_path, b"recording")
    inode = source.stat().st_ino
    leftover = staged(store, tmp_path, b"half an upload", "other.part")
    await store.put_file("evidence/a", source, sha256=sha256_hex(b"recording"), size=9)
    assert (store.root / "evidence/a").stat().st_ino == inode
    assert await store.list() == ["evidence/a"]  # staged files are not objects
    assert leftover.exists()


@pytest.fixture
def other_filesystem(tmp_path: Path) -> Path:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second filesystem (/dev/shm) to stage on")
    return shm


async def test_local_put_file_copies_from_another_filesystem(tmp_path: Path, other_filesystem: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    source = other_filesystem / f"kuzet-test-{uuid.uuid4().hex}.part"
    source.write_bytes(b"from elsewhere")
    try:
        await store.put_file("evidence/b", source, sha256=sha256_hex(b"from elsewhere"), size=14)
    finally:
        leftover = source.exists()
        source.unlink(missing_ok=True)
    assert not leftover
    assert await store.get("evidence/b") == b"from elsewhere"
    assert sorted(p.name for p in (store.root / "evidence").iterdir()) == ["b", "b.meta.json"]


async def test_stream_stores_while_fed_and_a_failed_stream_stores_nothing(object_store) -> None:  # type: ignore[no-untyped-def]
    data = os.urandom(6 * 1024 * 1024 + 123)
    digest = hashlib.sha256(data).hexdigest()
    stream = object_store.open_stream("ev/streamed", "video/mp4", sha256=digest, size=len(data))
    if isinstance(object_store, LocalObjectStore):
        assert stream is None  # put_file of the staged file is a rename: nothing to gain
        return
    assert stream is not None

    def feed() -> None:
        for start in range(0, len(data), 1024 * 1024):
            stream.feed(data[start : start + 1024 * 1024])
        stream.close()

    await asyncio.to_thread(feed)
    info = await stream.result
    assert (info.sha256, info.size) == (digest, len(data))
    assert await object_store.get("ev/streamed") == data
    # Never overwritten, streamed or not.
    again = object_store.open_stream("ev/streamed", "video/mp4", sha256=digest, size=len(data))
    await asyncio.to_thread(feed_all, again, data)
    with pytest.raises(AlreadyExists):
        await again.result

    failed = object_store.open_stream("ev/abandoned", "video/mp4", sha256=digest, size=len(data))
    await asyncio.to_thread(failed.feed, data[: 5 * 1024 * 1024 + 1])
    failed.fail(RuntimeError("the badge went away"))
    with pytest.raises(StreamFailed):
        await failed.result
    assert not await object_store.exists("ev/abandoned")


def feed_all(stream: ObjectStream, data: bytes) -> None:
    stream.feed(data)
    stream.close()

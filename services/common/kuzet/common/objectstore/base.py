"""Object storage for snapshots, clips and evidence: a local directory or any S3 server.

Both implementations record each object's SHA-256 at write time and can refuse overwrites and
honour a retention date, so evidence code is the same on one machine and in production (where S3
object lock enforces the retention on the server side).

``put_file`` stores a file that is already on disk and whose SHA-256 the caller has verified (a
staged upload): it is streamed, never read into memory nor hashed again, and the local store
adopts it without a copy when it was staged in the store's ``staging_dir``.

``open_stream`` (S3) stores an object while its bytes are still arriving: the caller feeds them in
order and the store sends each multipart part as soon as it is full, so an upload finishes about
one part after its last byte instead of one whole object later. The object only becomes visible
when the caller closes the stream; failing it aborts the multipart upload and stores nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import hashlib
import io
import json
import os
import re
import shutil
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import parse_qs, urlparse

from kuzet.common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, Unavailable
from kuzet.common.timeutil import as_utc, utcnow

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/=]{0,1023}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# Inside a local store's root; no key can start with a dot, so it never collides with an object.
STAGING_DIR = ".staging"


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    sha256: str
    size: int
    content_type: str
    retain_until: datetime | None = None


def check_key(key: str) -> str:
    # fullmatch: `$` would let a trailing newline through. A "." or empty segment names another
    # key's object on a filesystem ("a/./b" and "a//b" are "a/b"), so they go with "..".
    if not _KEY.fullmatch(key) or {"", ".", ".."} & set(key.split("/")):
        raise InvalidArgument(
            f"invalid object key {key!r}: letters, digits and ._-= in /-separated parts, "
            "none of them empty, '.' or '..'"
        )
    return key


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_staged(path: Path, sha256: str, size: int) -> None:
    if not _HEX64.fullmatch(sha256):
        raise InvalidArgument("sha256 must be 64 lower-case hex characters")
    try:
        actual = path.stat().st_size
    except FileNotFoundError:
        raise NotFound(f"file {path} to store is missing") from None
    if actual != size:
        raise InvalidArgument(f"file {path} has {actual} bytes, the caller announced {size}")


def _load_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_sync_file_range = _load_sync_file_range()
_SYNC_FILE_RANGE_WRITE = 2


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Have the kernel start writing a range just written to disk, without waiting for it.

    For a file staged for ``put_file`` while it arrives: its bytes go to disk meanwhile, and the
    fsync that put_file makes finds little left to write. Linux sync_file_range (advisory: no
    error is raised); nothing elsewhere.
    """
    if _sync_file_range is not None:
        _sync_file_range(fd, offset, length, _SYNC_FILE_RANGE_WRITE)


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _synced_temp(directory: Path, content: bytes | Path) -> Path:
    """A new fsynced hidden file in ``directory`` holding ``content`` (bytes, or a file's bytes)."""
    fd, name = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        if isinstance(content, bytes):
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
        else:
            os.close(fd)
            # sendfile() on Linux: page cache to page cache, never through this process's memory.
            shutil.copyfile(content, name)
            _fsync_path(Path(name))
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


class StreamFailed(Exception):
    """Raised to the store's reader when the caller gives up on a stream."""


class ObjectStream:
    """Bytes handed in order from the event loop's side to a store reading them on its own thread.

    ``feed`` blocks (it runs on a worker thread) while more than ``limit`` bytes wait, so a slow
    store slows the sender rather than filling memory.
    """

    def __init__(self, size: int, limit: int = 32 * 1024 * 1024) -> None:
        self.size = size
        self.limit = limit
        self._parts: deque[memoryview] = deque()
        self._buffered = 0
        self._fed = 0
        self._closed = False
        self._error: BaseException | None = None
        self._reader_done = False
        self._cond = threading.Condition()
        self.result: asyncio.Future[ObjectInfo] = asyncio.get_running_loop().create_future()
        # A failed stream's error is read by whoever awaits it, or by nobody without a warning.
        self.result.add_done_callback(lambda f: f.cancelled() or f.exception())

    @property
    def usable(self) -> bool:
        """Still able to store the object (not failed, the store has not given up)."""
        return self._error is None and not self._reader_done

    def feed(self, data: bytes) -> None:
        with self._cond:
            if not self.usable:
                return
            if self._fed + len(data) > self.size:
                raise ValueError("more bytes than the object's announced size")
            self._parts.append(memoryview(data))
            self._buffered += len(data)
            self._fed += len(data)
            self._cond.notify_all()
            while self._buffered > self.limit and self.usable:
                self._cond.wait()

    def close(self) -> None:
        """Everything was fed: the store may complete the object."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def fail(self, error: BaseException) -> None:
        with self._cond:
            if self._error is None:
                self._error = error
            self._cond.notify_all()

    def read(self, size: int = -1) -> bytes:
        """The store's side: up to ``size`` bytes, b"" at the end; raises once the stream failed."""
        with self._cond:
            while True:
                if self._error is not None:
                    raise StreamFailed(str(self._error))
                if self._parts and (self._buffered >= size > 0 or self._closed):
                    break
                if self._closed and not self._parts:
                    return b""
                self._cond.wait()
            pieces: list[memoryview] = []
            taken = 0
            while self._parts and (size < 0 or taken < size):
                part = self._parts[0]
                take = len(part) if size < 0 else min(len(part), size - taken)
                pieces.append(part[:take])
                taken += take
                if take == len(part):
                    self._parts.popleft()
                else:
                    self._parts[0] = part[take:]
            self._buffered -= taken
            self._cond.notify_all()
        # One copy, outside the lock: a part is 5 MiB or more.
        return b"".join(pieces)

    def reader_finished(self) -> None:
        with self._cond:
            self._reader_done = True
            self._cond.notify_all()


class ObjectStore(Protocol):
    async def put(
        self,
        key: str,
        data: bytes,
        content_type: str = "application/octet-stream",
        *,
        retain_until: datetime | None = None,
        overwrite: bool = True,
    ) -> ObjectInfo: ...

    async def put_file(
        self,
        key: str,
        path: Path,
        content_type: str = "application/octet-stream",
        *,
        sha256: str,
        size: int,
        retain_until: datetime | None = None,
        overwrite: bool = False,
    ) -> ObjectInfo:
        """Store the file at ``path``, whose SHA-256 the caller has already checked, and remove it.

        On success ``path`` no longer exists (the object is not shared with a file the caller
        could still write to); on an error, AlreadyExists included, it is left where it was.
        """
        ...

    @property
    def staging_dir(self) -> Path | None:
        """Where to stage files for ``put_file`` so they are adopted without a copy; None: anywhere."""
        ...

    def open_stream(
        self,
        key: str,
        content_type: str,
        *,
        sha256: str,
        size: int,
        retain_until: datetime | None = None,
    ) -> ObjectStream | None:
        """Start storing ``key`` (never overwritten) from bytes fed while they arrive; None where
        the store has nothing faster than ``put_file`` of the staged file (the local store)."""
        ...

    async def get(self, key: str) -> bytes: ...

    async def stat(self, key: str) -> ObjectInfo: ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None: ...

    async def list(self, prefix: str = "") -> list[str]: ...

    async def presigned_get_url(self, key: str, expires: timedelta = timedelta(minutes=5)) -> str: ...


class _BlockingStore:
    """The async ObjectStore API over a blocking implementation, run on worker threads."""

    def _put(
        self, key: str, data: bytes, content_type: str, retain_until: datetime | None, overwrite: bool
    ) -> ObjectInfo:
        raise NotImplementedError

    def _put_file(
        self,
        key: str,
        path: Path,
        content_type: str,
        sha256: str,
        size: int,
        retain_until: datetime | None,
        overwrite: bool,
    ) -> ObjectInfo:
        raise NotImplementedError

    def _get(self, key: str) -> bytes:
        raise NotImplementedError

    def _stat(self, key: str) -> ObjectInfo:
        raise NotImplementedError

    def _exists(self, key: str) -> bool:
        raise NotImplementedError

    def _delete(self, key: str) -> None:
        raise NotImplementedError

    def _list(self, prefix: str) -> list[str]:
        raise NotImplementedError

    async def put(
        self,
        key: str,
        data: bytes,
        content_type: str = "application/octet-stream",
        *,
        retain_until: datetime | None = None,
        overwrite: bool = True,
    ) -> ObjectInfo:
        return await asyncio.to_thread(self._put, key, data, content_type, retain_until, overwrite)

    async def put_file(
        self,
        key: str,
        path: Path,
        content_type: str = "application/octet-stream",
        *,
        sha256: str,
        size: int,
        retain_until: datetime | None = None,
        overwrite: bool = False,
    ) -> ObjectInfo:
        return await asyncio.to_thread(
            self._put_file, key, path, content_type, sha256, size, retain_until, overwrite
        )

    def open_stream(
        self,
        key: str,
        content_type: str,
        *,
        sha256: str,
        size: int,
        retain_until: datetime | None = None,
    ) -> ObjectStream | None:
        return None

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._get, key)

    async def stat(self, key: str) -> ObjectInfo:
        return await asyncio.to_thread(self._stat, key)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._exists, key)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._delete, key)

    async def list(self, prefix: str = "") -> list[str]:
        return await asyncio.to_thread(self._list, prefix)


class LocalObjectStore(_BlockingStore):
    """Objects as files under ``root``, metadata in a sidecar JSON file; writes are atomic."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        # Files staged here are on the store's filesystem: put_file links them into place
        # instead of copying (evidence is up to gigabytes); listing hides the directory.
        self._staging = self.root / STAGING_DIR
        self._staging.mkdir(exist_ok=True)

    @property
    def staging_dir(self) -> Path | None:
        return self._staging

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _meta_path(self, key: str) -> Path:
        path = self._path(key)
        return path.with_name(path.name + ".meta.json")

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(_synced_temp(path.parent, data), path)

    def _read_meta(self, key: str) -> dict[str, str]:
        try:
            return dict(json.loads(self._meta_path(key).read_text()))
        except FileNotFoundError:
            raise NotFound(f"object {key} not found") from None

    def _place(self, source: Path, key: str, overwrite: bool) -> None:
        """Give the synced file ``source`` (on this filesystem) the name of ``key``, atomically."""
        path = self._path(key)
        if overwrite:
            if path.exists():
                self._check_unlocked(key)
            os.replace(source, path)
            return
        try:
            # link() refuses an existing name: the never-overwrite check and the write are one step.
            os.link(source, path)
        except FileExistsError:
            raise AlreadyExists(f"object {key} already exists and is never overwritten") from None
        os.unlink(source)

    def _place_temp(self, temp: Path, key: str, overwrite: bool) -> None:
        try:
            self._place(temp, key, overwrite)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def _write_meta(self, info: ObjectInfo) -> None:
        meta = {"sha256": info.sha256, "size": str(info.size), "content_type": info.content_type}
        if info.retain_until is not None:
            meta["retain_until"] = as_utc(info.retain_until).isoformat()
        self._write(self._meta_path(info.key), json.dumps(meta).encode())

    def _put(
        self, key: str, data: bytes, content_type: str, retain_until: datetime | None, overwrite: bool
    ) -> ObjectInfo:
        path = self._path(key)
        if path.exists() and not overwrite:
            # Refused before writing anything; _place checks again, atomically.
            raise AlreadyExists(f"object {key} already exists and is never overwritten")
        info = ObjectInfo(key, sha256_hex(data), len(data), content_type, retain_until)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._place_temp(_synced_temp(path.parent, data), key, overwrite)
        self._write_meta(info)
        return info

    def _put_file(
        self,
        key: str,
        path: Path,
        content_type: str,
        sha256: str,
        size: int,
        retain_until: datetime | None,
        overwrite: bool,
    ) -> ObjectInfo:
        target = self._path(key)
        _check_staged(path, sha256, size)
        target.parent.mkdir(parents=True, exist_ok=True)
        _fsync_path(path)
        try:
            self._place(path, key, overwrite)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            # Staged on another filesystem (or mount): copied in the kernel, never through memory.
            self._place_temp(_synced_temp(target.parent, path), key, overwrite)
            path.unlink()
        info = ObjectInfo(key, sha256, size, content_type, retain_until)
        self._write_meta(info)
        return info

    def _check_unlocked(self, key: str) -> None:
        until = self._read_meta(key).get("retain_until")
        if until and datetime.fromisoformat(until) > utcnow():
            raise FailedPrecondition(f"object {key} is under retention until {until}")

    def _stat(self, key: str) -> ObjectInfo:
        meta = self._read_meta(key)
        until = meta.get("retain_until")
        return ObjectInfo(
            key,
            meta["sha256"],
            int(meta["size"]),
            meta["content_type"],
            datetime.fromisoformat(until) if until else None,
        )

    def _exists(self, key: str) -> bool:
        return self._path(key).exists()

    def _get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"object {key} not found") from None

    def _delete(self, key: str) -> None:
        self._check_unlocked(key)
        self._path(key).unlink(missing_ok=True)
        self._meta_path(key).unlink(missing_ok=True)

    def _list(self, prefix: str) -> list[str]:
        keys = []
        for path in self.root.rglob("*"):
            rel = path.relative_to(self.root).as_posix()
            hidden = (
                rel.endswith(".meta.json")
                or path.name.startswith(".tmp-")
                or rel.startswith(STAGING_DIR + "/")
            )
            if path.is_file() and not hidden and rel.startswith(prefix):
                keys.append(rel)
        return sorted(keys)

    async def presigned_get_url(self, key: str, expires: timedelta = timedelta(minutes=5)) -> str:
        # No server to sign for: callers that need a URL (the gateway) stream the bytes instead.
        return self._path(key).resolve().as_uri()


# Below this an object is a single PUT anyway (S3's smallest multipart part is 5 MiB).
MIN_STREAMED_SIZE = 5 * 1024 * 1024 + 1
# Streams held open at once per store, each with a thread and up to 32 MiB buffered.
MAX_STREAMS = 8


def _settle(future: asyncio.Future[ObjectInfo], outcome: ObjectInfo | BaseException) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class S3ObjectStore(_BlockingStore):
    """Objects in an S3 bucket through the minio SDK; retention uses S3 object lock (COMPLIANCE)."""

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        secure: bool = False,
        region: str = "us-east-1",
        object_lock: bool = True,
    ) -> None:
        from minio import Minio

        self.bucket = bucket
        self.object_lock = object_lock
        self.client = Minio(
            endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region
        )
        self._ready = False
        self._streams = threading.BoundedSemaphore(MAX_STREAMS)

    @property
    def staging_dir(self) -> Path | None:
        return None  # every file is streamed to the server, wherever it is staged

    def _ensure_bucket(self) -> None:
        if self._ready:
            return
        if not self.client.bucket_exists(self.bucket):
            self.client.make_bucket(self.bucket, object_lock=self.object_lock)
        self._ready = True

    def _call(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        from minio.error import S3Error
        from urllib3.exceptions import HTTPError

        try:
            self._ensure_bucket()
            return fn(*args, **kwargs)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NoSuchVersion"):
                raise NotFound(f"object {args[1] if len(args) > 1 else ''} not found") from None
            raise Unavailable(f"object store error {exc.code}: {exc.message}") from None
        except HTTPError as exc:
            raise Unavailable(f"object store unreachable: {type(exc).__name__}") from None

    def _exists(self, key: str) -> bool:
        try:
            self._stat(key)
            return True
        except NotFound:
            return False

    def _upload(
        self,
        info: ObjectInfo,
        stream: BinaryIO | ObjectStream,
        overwrite: bool,
    ) -> ObjectInfo:
        from minio.retention import COMPLIANCE, Retention

        check_key(info.key)
        if not overwrite and self._exists(info.key):
            raise AlreadyExists(f"object {info.key} already exists and is never overwritten")
        until = info.retain_until
        retention = Retention(COMPLIANCE, as_utc(until)) if until is not None else None
        # minio reads the stream part by part (multipart above 5 MiB, parts sent in parallel).
        self._call(
            self.client.put_object,
            self.bucket,
            info.key,
            stream,
            info.size,
            content_type=info.content_type,
            metadata={"sha256": info.sha256},
            retention=retention,
        )
        return info

    def _put(
        self, key: str, data: bytes, content_type: str, retain_until: datetime | None, overwrite: bool
    ) -> ObjectInfo:
        info = ObjectInfo(key, sha256_hex(data), len(data), content_type, retain_until)
        return self._upload(info, io.BytesIO(data), overwrite)

    def _put_file(
        self,
        key: str,
        path: Path,
        content_type: str,
        sha256: str,
        size: int,
        retain_until: datetime | None,
        overwrite: bool,
    ) -> ObjectInfo:
        _check_staged(path, sha256, size)
        with path.open("rb") as stream:
            info = self._upload(ObjectInfo(key, sha256, size, content_type, retain_until), stream, overwrite)
        path.unlink()
        return info

    def open_stream(
        self,
        key: str,
        content_type: str,
        *,
        sha256: str,
        size: int,
        retain_until: datetime | None = None,
    ) -> ObjectStream | None:
        check_key(key)
        if size < MIN_STREAMED_SIZE or not self._streams.acquire(blocking=False):
            return None  # one part anyway, or enough streams running: put_file it is
        stream = ObjectStream(size)
        info = ObjectInfo(key, sha256, size, content_type, retain_until)
        loop = asyncio.get_running_loop()

        def run() -> None:
            try:
                outcome: ObjectInfo | BaseException = self._upload(info, stream, overwrite=False)
            except BaseException as exc:  # handed to the awaiting side
                outcome = exc
            finally:
                stream.reader_finished()
                self._streams.release()
            loop.call_soon_threadsafe(_settle, stream.result, outcome)

        # Its own thread: it waits on bytes that the default executor's threads stage.
        threading.Thread(target=run, name=f"s3-stream-{key[-24:]}", daemon=True).start()
        return stream

    def _stat(self, key: str) -> ObjectInfo:
        check_key(key)
        stat = self._call(self.client.stat_object, self.bucket, key)
        meta = {k.lower(): v for k, v in (stat.metadata or {}).items()}
        digest = meta.get("x-amz-meta-sha256", "")
        return ObjectInfo(key, digest, int(stat.size or 0), stat.content_type or "application/octet-stream")

    def _get(self, key: str) -> bytes:
        check_key(key)
        response = self._call(self.client.get_object, self.bucket, key)
        try:
            return bytes(response.read())
        finally:
            response.close()
            response.release_conn()

    def _delete(self, key: str) -> None:
        """Remove every version of ``key``; S3 object lock refuses versions still under retention."""
        from minio.error import S3Error

        check_key(key)
        versions = self._call(self.client.list_objects, self.bucket, prefix=key, include_version=True)
        for obj in [o for o in versions if o.object_name == key]:
            try:
                self._call(self.client.remove_object, self.bucket, key, version_id=obj.version_id)
            except Unavailable as exc:
                raise FailedPrecondition(f"object {key} cannot be deleted: {exc.message}") from None
            except S3Error as exc:  # pragma: no cover - _call maps S3 errors
                raise FailedPrecondition(str(exc)) from None

    def _list(self, prefix: str) -> list[str]:
        objects = self._call(self.client.list_objects, self.bucket, prefix=prefix, recursive=True)
        return sorted(o.object_name for o in objects if o.object_name)

    def _first_versions(self, prefix: str, start_after: str) -> dict[str, str]:
        # S3 lists each key's versions newest first; ties in time keep the later-listed (older) one.
        first: dict[str, tuple[datetime, str]] = {}
        objects = self._call(
            self.client.list_objects,
            self.bucket,
            prefix=prefix,
            recursive=True,
            include_version=True,
            start_after=start_after or None,
        )
        for o in objects:
            if o.is_delete_marker or not o.object_name or not o.version_id or o.last_modified is None:
                continue
            seen = first.get(o.object_name)
            if seen is None or o.last_modified <= seen[0]:
                first[o.object_name] = (o.last_modified, o.version_id)
        return {key: version for key, (_, version) in first.items()}

    async def first_versions(self, prefix: str = "", *, start_after: str = "") -> dict[str, str]:
        """Each key under ``prefix`` (after ``start_after``) with its oldest version that is not a
        delete marker.

        Under object lock that version can be neither removed nor changed before its retention
        date, whatever was written or deleted over it since (a new version, a delete marker).
        """
        return await asyncio.to_thread(self._first_versions, prefix, start_after)

    def _get_version(self, key: str, version_id: str) -> bytes:
        check_key(key)
        response = self._call(self.client.get_object, self.bucket, key, version_id=version_id)
        try:
            return bytes(response.read())
        finally:
            response.close()
            response.release_conn()

    async def get_version(self, key: str, version_id: str) -> bytes:
        return await asyncio.to_thread(self._get_version, key, version_id)

    def _presign(self, key: str, expires: timedelta) -> str:
        check_key(key)
        return str(self._call(self.client.presigned_get_object, self.bucket, key, expires=expires))

    async def presigned_get_url(self, key: str, expires: timedelta = timedelta(minutes=5)) -> str:
        return await asyncio.to_thread(self._presign, key, expires)


def open_object_store(url: str) -> ObjectStore:
    """``file:///dir`` or ``s3://bucket?endpoint=host:port&secure=false&object_lock=true``.

    S3 credentials come from KUZET_S3_ACCESS_KEY / KUZET_S3_SECRET_KEY (never from the URL, which
    may be logged).
    """
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalObjectStore(parsed.path)
    if parsed.scheme == "s3":
        params = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        endpoint = params.get("endpoint")
        if not parsed.netloc or not endpoint:
            raise InvalidArgument("s3 object store URL needs a bucket and ?endpoint=host:port")
        access = os.environ.get("KUZET_S3_ACCESS_KEY", "")
        secret = os.environ.get("KUZET_S3_SECRET_KEY", "")
        if not access or not secret:
            raise InvalidArgument("KUZET_S3_ACCESS_KEY and KUZET_S3_SECRET_KEY must be set for an s3 store")
        return S3ObjectStore(
            endpoint,
            access,
            secret,
            parsed.netloc,
            secure=params.get("secure", "false").lower() == "true",
            region=params.get("region", "us-east-1"),
            object_lock=params.get("object_lock", "true").lower() == "true",
        )
    raise InvalidArgument(f"unsupported object store URL scheme {parsed.scheme!r} (use file:// or s3://)")

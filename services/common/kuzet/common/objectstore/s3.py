"""The S3 object store: a bucket on any S3 server, through the minio SDK."""

from __future__ import annotations

import asyncio
import io
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from kuzet.common.errors import AlreadyExists, FailedPrecondition, NotFound, Unavailable
from kuzet.common.objectstore.base import BlockingStore, ObjectInfo, check_key, check_staged, sha256_hex
from kuzet.common.objectstore.streaming import ObjectStream, settle
from kuzet.common.timeutil import as_utc

# Below this an object is a single PUT anyway (S3's smallest multipart part is 5 MiB).
MIN_STREAMED_SIZE = 5 * 1024 * 1024 + 1
# Streams held open at once per store, each with a thread and up to 32 MiB buffered.
MAX_STREAMS = 8


class S3ObjectStore(BlockingStore):
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
        check_staged(path, sha256, size)
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
            loop.call_soon_threadsafe(settle, stream.result, outcome)

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

"""What every object store shares: the ObjectStore interface, object metadata, key checks, and
the async API over a blocking implementation.

``put_file`` stores a file that is already on disk and whose SHA-256 the caller has verified (a
staged upload): it is streamed, never read into memory nor hashed again, and the local store
adopts it without a copy when it was staged in the store's ``staging_dir``.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from kuzet.common.errors import InvalidArgument, NotFound

if TYPE_CHECKING:
    from kuzet.common.objectstore.streaming import ObjectStream

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/=]{0,1023}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


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


def check_staged(path: Path, sha256: str, size: int) -> None:
    """Refuse a file for ``put_file`` whose announced digest is malformed or size is wrong."""
    if not _HEX64.fullmatch(sha256):
        raise InvalidArgument("sha256 must be 64 lower-case hex characters")
    try:
        actual = path.stat().st_size
    except FileNotFoundError:
        raise NotFound(f"file {path} to store is missing") from None
    if actual != size:
        raise InvalidArgument(f"file {path} has {actual} bytes, the caller announced {size}")


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


class BlockingStore:
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

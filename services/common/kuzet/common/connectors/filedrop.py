"""A file dropped in an object store (S3 in production): one CSV or JSON file, and the photos
its rows name by a path relative to the file's folder."""

from __future__ import annotations

import posixpath
from collections.abc import AsyncIterator

from kuzet.common.connectors.base import RawRecord, RowRejected, SourceFailed
from kuzet.common.connectors.formats import format_of, parse
from kuzet.common.errors import InvalidArgument, KuzetError, NotFound
from kuzet.common.objectstore import ObjectStore
from kuzet.common.objectstore.base import check_key


class FileDrop:
    def __init__(self, store: ObjectStore, key: str, *, label: str = "") -> None:
        self.store = store
        self.key = check_key(key)
        self.format = format_of(key)
        self.folder = posixpath.dirname(key)
        self._label = label or key

    @property
    def name(self) -> str:
        return self._label

    async def rows(self) -> AsyncIterator[RawRecord]:
        try:
            data = await self.store.get(self.key)
        except NotFound:
            raise SourceFailed(f"{self.name}: no such file in the drop") from None
        except KuzetError as exc:
            raise SourceFailed(f"{self.name}: {exc}") from None
        for record in parse(data, self.format, self.name):
            yield record

    async def attachment(self, path: str) -> bytes:
        # Only files under the drop file's folder: a row cannot reach other objects of the store.
        if path.startswith("/") or ".." in path.split("/"):
            raise RowRejected(f"photo path {path!r} must be relative to the drop file, without '..'")
        try:
            key = check_key(posixpath.join(self.folder, path) if self.folder else path)
            return await self.store.get(key)
        except InvalidArgument as exc:
            raise RowRejected(f"photo path {path!r}: {exc}") from None
        except NotFound:
            raise RowRejected(f"photo {path!r} is not in the drop next to {self.key}") from None

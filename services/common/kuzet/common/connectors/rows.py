"""A connector that reads each row on its own: a record type says how one row becomes a record
(``parse``), this turns a whole source into records and rejections."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from typing import Generic, TypeVar

from kuzet.common.connectors.base import R, RawRecord, RawSource, Rejection, RowRejected
from kuzet.common.connectors.fields import loose_id

T = TypeVar("T")


async def parsed_rows(
    source: RawSource, parse: Callable[[RawRecord], Awaitable[T]]
) -> AsyncIterator[T | Rejection]:
    """Each row of ``source`` as ``parse`` reads it, or its rejection: one bad row never stops
    the others from being checked, so a report names them all."""
    async for raw in source.rows():
        if raw.problem:
            yield Rejection(raw.row, loose_id(raw.fields), raw.problem)
            continue
        try:
            yield await parse(raw)
        except RowRejected as exc:
            yield Rejection(raw.row, loose_id(raw.fields), str(exc))


class RowConnector(Generic[R]):
    """``legal_bases``: the ones records may cite (empty: any they state)."""

    def __init__(self, source: RawSource, legal_bases: Collection[str] = ()) -> None:
        self._source = source
        self.legal_bases = frozenset(legal_bases)

    @property
    def source(self) -> RawSource:
        return self._source

    def records(self) -> AsyncIterator[R | Rejection]:
        return parsed_rows(self._source, self.parse)

    async def parse(self, raw: RawRecord) -> R:
        """The row's record; RowRejected says why there is none."""
        raise NotImplementedError

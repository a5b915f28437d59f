"""Paging for every list RPC: page sizes, opaque page tokens and keyset queries.

A listing pages by keyset: its order ends in a unique key, and a page token carries the sort
key of the last row sent, so the next page starts right after it however many rows were added
or removed before it (an offset would skip or repeat rows then, and costs a scan of every row
it skips). A listing declares itself once::

    PAGING = Paging(default=100, maximum=500)
    KEYS = Keyset("badge.evidence", EvidenceRow.captured_at, EvidenceRow.evidence_id)

    size = PAGING.size(request.page)
    after = KEYS.after(request.page.page_token)      # before any database work: bad tokens fail fast
    rows = session.scalars(KEYS.query(query, after, size)).all()
    rows, token = KEYS.page(rows, size)

Tokens are opaque to clients. Each is tagged with a checksum keyed by the listing's scope, so a
garbled token, one edited by hand or one from another listing (or another order of the same
listing) is INVALID_ARGUMENT rather than a wrong page. The checksum is not a secret: a token is no
authority, as every page applies the caller's visibility afresh, and a forged one can only move
the caller within rows it may already see.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, Select, and_, or_, tuple_

from kuzet.common.errors import InvalidArgument
from kuzet.common.v1 import common_pb2

R = TypeVar("R")
S = TypeVar("S", bound=Select[*tuple[Any, ...]])

# Values a token can carry: what sort keys hold.
KeyValue = int | str | datetime
_KINDS: tuple[type, ...] = (int, str, datetime)
_MAC_BYTES = 8
NOT_ISSUED = "page_token is not one this service issued"


@dataclass(frozen=True)
class Paging:
    """How one list RPC sizes its pages.

    ``clamp``: a page_size above ``maximum`` gets ``maximum`` (True) or INVALID_ARGUMENT (False).
    A negative page_size is always INVALID_ARGUMENT; 0 means ``default``.
    """

    default: int = 100
    maximum: int = 500
    clamp: bool = False

    def size(self, page: common_pb2.PageRequest) -> int:
        size = page.page_size
        if size == 0:
            return self.default
        if size < 0 or (size > self.maximum and not self.clamp):
            raise InvalidArgument(f"page_size must be between 1 and {self.maximum}, got {size}")
        return min(size, self.maximum)


class PageToken:
    """Encodes and checks the tokens of one listing: a fixed tuple of typed values."""

    def __init__(self, scope: str, *kinds: type) -> None:
        if not kinds or any(kind not in _KINDS for kind in kinds):
            raise TypeError(f"a page token holds {', '.join(k.__name__ for k in _KINDS)} values")
        self.scope = scope
        self.kinds = kinds
        self._key = scope.encode()

    def _mac(self, payload: bytes) -> bytes:
        return hashlib.blake2b(payload, key=self._key, digest_size=_MAC_BYTES).digest()

    def encode(self, values: Sequence[Any]) -> str:
        if len(values) != len(self.kinds):
            raise ValueError(f"{self.scope}: {len(values)} values for {len(self.kinds)} keys")
        parts: list[KeyValue] = []
        for value, kind in zip(values, self.kinds, strict=True):
            # bool is an int to Python, not a key this helper was told about.
            if not isinstance(value, kind) or isinstance(value, bool):
                raise TypeError(f"{self.scope}: {value!r} is not {kind.__name__}")
            parts.append(value.isoformat() if isinstance(value, datetime) else cast(KeyValue, value))
        payload = json.dumps(parts, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(self._mac(payload) + payload).rstrip(b"=").decode()

    def decode(self, token: str) -> tuple[Any, ...] | None:
        """The values a token carries; None for the empty token (the first page)."""
        if not token:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise InvalidArgument(NOT_ISSUED) from None
        mac, payload = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
        if len(mac) != _MAC_BYTES or not hmac.compare_digest(mac, self._mac(payload)):
            raise InvalidArgument(NOT_ISSUED)
        try:
            parts = json.loads(payload)
            if not isinstance(parts, list) or len(parts) != len(self.kinds):
                raise ValueError(payload)
            return tuple(_value(part, kind) for part, kind in zip(parts, self.kinds, strict=True))
        except (ValueError, TypeError):
            # Only a token this scope signed gets here: one from an older layout of the listing.
            raise InvalidArgument(NOT_ISSUED) from None

    def page(self, rows: Sequence[R], size: int, key: Callable[[R], Sequence[Any]]) -> tuple[list[R], str]:
        """The first ``size`` of ``rows`` (read one past a page) and the token after the last of them.

        The token is empty on the last page: when ``rows`` holds no row beyond the page.
        """
        if len(rows) <= size:
            return list(rows), ""
        return list(rows[:size]), self.encode(key(rows[size - 1]))


def _value(part: Any, kind: type) -> KeyValue:
    if kind is datetime:
        if not isinstance(part, str):
            raise TypeError(part)
        return datetime.fromisoformat(part)
    if not isinstance(part, kind) or isinstance(part, bool):
        raise TypeError(part)
    return cast(KeyValue, part)


@dataclass(frozen=True)
class Key:
    """One column of a keyset's order."""

    column: ColumnElement[Any]
    descending: bool = False

    @property
    def name(self) -> str:
        name = self.column.key
        if not name:
            raise TypeError(f"a keyset column needs a name: {self.column}")
        return name


def descending(column: Any) -> Key:
    return Key(column, descending=True)


class Keyset:
    """A listing's order over SQL rows and the page tokens that resume it.

    The last key must be unique (a primary key) so that the order is total and ties in the
    earlier keys are broken the same way on every page. Key columns must not hold NULL.
    """

    def __init__(self, scope: str, *keys: Any) -> None:
        self.keys = tuple(k if isinstance(k, Key) else Key(k) for k in keys)
        self.token = PageToken(scope, *(_python_type(k.column) for k in self.keys))

    def after(self, token: str) -> tuple[Any, ...] | None:
        """The last row's keys a page token stands for (INVALID_ARGUMENT when it is not ours)."""
        return self.token.decode(token)

    def query(self, query: S, after: tuple[Any, ...] | None, size: int) -> S:
        """``query`` from just after ``after``, in key order, one row past a page (is there more?)."""
        if after is not None:
            query = query.where(self._beyond(after))
        order = [k.column.desc() if k.descending else k.column.asc() for k in self.keys]
        return query.order_by(*order).limit(size + 1)

    def _beyond(self, after: tuple[Any, ...]) -> ColumnElement[bool]:
        columns = [k.column for k in self.keys]
        if len({k.descending for k in self.keys}) == 1:
            # One direction: a row-value comparison, which an index on the keys serves directly.
            if self.keys[0].descending:
                return tuple_(*columns) < tuple_(*after)
            return tuple_(*columns) > tuple_(*after)
        # Mixed directions: past the row on the first key that differs.
        terms: list[ColumnElement[bool]] = []
        for i, key in enumerate(self.keys):
            ties = [columns[j] == after[j] for j in range(i)]
            step = key.column < after[i] if key.descending else key.column > after[i]
            terms.append(and_(*ties, step))
        return or_(*terms)

    def values(self, row: Any) -> tuple[Any, ...]:
        """A row's keys: a mapping's items, else attributes (ORM objects, result rows)."""
        if isinstance(row, Mapping):
            return tuple(row[k.name] for k in self.keys)
        return tuple(getattr(row, k.name) for k in self.keys)

    def page(
        self, rows: Sequence[R], size: int, key_of: Callable[[R], Any] | None = None
    ) -> tuple[list[R], str]:
        """The page out of the rows ``query`` read, and its next_page_token ('' on the last page).

        ``key_of`` picks the keyed object out of a row (e.g. the entity of an (entity, count) row).
        """
        return self.token.page(rows, size, lambda row: self.values(key_of(row) if key_of else row))


def _python_type(column: ColumnElement[Any]) -> type:
    kind = column.type.python_type
    for allowed in _KINDS:
        if issubclass(kind, allowed):
            return allowed
    raise TypeError(f"a keyset column holds int, str or datetime, not {kind.__name__}: {column}")


def page_list(
    items: Sequence[R],
    token: PageToken,
    after: tuple[Any, ...] | None,
    size: int,
    key: Callable[[R], tuple[Any, ...]],
) -> tuple[list[R], str]:
    """A keyset page of an in-memory listing already sorted by ``key`` (e.g. live badge states)."""
    rest = [item for item in items if after is None or key(item) > after]
    return token.page(rest, size, key)

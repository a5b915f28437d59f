"""The paging helper every list RPC uses: sizes, tokens that refuse tampering, keyset order."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, create_engine, insert, select

from kuzet.common.errors import InvalidArgument
from kuzet.common.paging import Keyset, PageToken, Paging, descending, page_list
from kuzet.common.v1 import common_pb2

metadata = MetaData()
items = Table(
    "paging_items",
    metadata,
    Column("item_id", String(16), primary_key=True),
    Column("rank", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def page(size: int = 0, token: str = "") -> common_pb2.PageRequest:
    return common_pb2.PageRequest(page_size=size, page_token=token)


def test_sizes() -> None:
    strict = Paging(default=100, maximum=500)
    assert strict.size(page()) == 100 and strict.size(page(1)) == 1 and strict.size(page(500)) == 500
    for bad in (-1, 501):
        with pytest.raises(InvalidArgument, match="page_size must be between 1 and 500"):
            strict.size(page(bad))
    clamped = Paging(default=1000, maximum=5000, clamp=True)
    assert clamped.size(page()) == 1000 and clamped.size(page(10**6)) == 5000
    with pytest.raises(InvalidArgument, match="page_size"):
        clamped.size(page(-5))


def test_tokens_round_trip_and_refuse_anything_else() -> None:
    token = PageToken("test.items", datetime, int, str)
    values = (T0, 7, "a:b/c")
    assert token.decode(token.encode(values)) == values
    assert token.decode("") is None
    naive = (datetime(2026, 12, 1, 8, 0, 0, 123456), 0, "")
    assert token.decode(token.encode(naive)) == naive

    issued = token.encode(values)
    raw = bytearray(base64.urlsafe_b64decode(issued + "=" * (-len(issued) % 4)))
    raw[-3] ^= 1  # one bit of the payload
    tampered = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    other_scope = PageToken("test.other", datetime, int, str).encode(values)
    for bad in ("abc", "40", "-1", "!!!", issued[:-2], tampered, other_scope, issued + "AAAA"):
        with pytest.raises(InvalidArgument, match="page_token is not one this service issued"):
            token.decode(bad)

    with pytest.raises(TypeError):
        token.encode((T0, "7", "x"))  # the wrong type is a programming error, not a caller's
    with pytest.raises(TypeError):
        token.encode((T0, True, "x"))
    with pytest.raises(ValueError):
        token.encode((T0, 7))


def test_a_signed_token_of_another_shape_is_refused() -> None:
    # Same scope, different key types: a listing whose order changed between releases.
    old = PageToken("test.items", int).encode((3,))
    with pytest.raises(InvalidArgument, match="page_token"):
        PageToken("test.items", str).decode(old)
    with pytest.raises(InvalidArgument, match="page_token"):
        PageToken("test.items", int, int).decode(old)


def _rows() -> list[dict[str, Any]]:
    # Ties on rank and on time, so only the unique last key orders some rows.
    return [{"item_id": f"i{n:02d}", "rank": n % 3, "at": T0 + timedelta(minutes=n % 4)} for n in range(23)]


def _walk(url: str, keys: Keyset, size: int) -> tuple[list[str], list[str]]:
    engine = create_engine(url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(items), _rows())
    seen: list[str] = []
    tokens: list[str] = []
    token = ""
    with engine.connect() as conn:
        for _ in range(100):
            after = keys.after(token)
            rows = conn.execute(keys.query(select(items), after, size)).mappings().all()
            got, token = keys.page(rows, size)
            assert len(got) <= size
            seen += [r["item_id"] for r in got]
            tokens.append(token)
            if not token:
                break
    metadata.drop_all(engine)
    engine.dispose()
    return seen, tokens


def _expected(order: Any) -> list[str]:
    return [r["item_id"] for r in sorted(_rows(), key=order)]


@pytest.mark.parametrize("size", [1, 4, 23, 50])
def test_keyset_pages_in_order_with_ties(db_url: str, size: int) -> None:
    keys = Keyset("test.items.rank", items.c.rank, items.c.at, items.c.item_id)
    seen, tokens = _walk(db_url, keys, size)
    assert seen == _expected(lambda r: (r["rank"], r["at"], r["item_id"]))
    # Every page but the last has a token; the last page's is empty, also when it is full.
    assert tokens[-1] == "" and all(tokens[:-1])
    assert len(tokens) == max(1, -(-23 // size))


@pytest.mark.parametrize("size", [1, 5])
def test_keyset_mixed_directions(db_url: str, size: int) -> None:
    keys = Keyset("test.items.mixed", descending(items.c.rank), descending(items.c.at), items.c.item_id)
    seen, _ = _walk(db_url, keys, size)
    assert seen == _expected(lambda r: (-r["rank"], -r["at"].timestamp(), r["item_id"]))


def test_keyset_all_descending(db_url: str) -> None:
    keys = Keyset("test.items.newest", descending(items.c.at), descending(items.c.item_id))
    seen, _ = _walk(db_url, keys, 3)
    assert seen == _expected(lambda r: (r["at"], r["item_id"]))[::-1]


def test_a_page_of_exactly_the_rest_ends_the_listing() -> None:
    keys = Keyset("test.items.id", items.c.item_id)
    rows = [{"item_id": "a"}, {"item_id": "b"}]
    assert keys.page(rows, 2) == (rows, "")
    got, token = keys.page([*rows, {"item_id": "c"}], 2)
    assert got == rows and keys.after(token) == ("b",)


def test_page_list_in_memory() -> None:
    token = PageToken("test.names", str)
    names = [f"n{i}" for i in range(7)]
    seen, after = [], None
    while True:
        got, next_token = page_list(names, token, after, 3, key=lambda n: (n,))
        seen += got
        if not next_token:
            break
        after = token.decode(next_token)
    assert seen == names
    assert page_list(names[:3], token, None, 3, key=lambda n: (n,)) == (names[:3], "")

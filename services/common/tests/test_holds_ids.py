"""A legal hold's item, case and source ids become object keys and paths where the items are
objects: a hostile one is refused (INVALID_ARGUMENT) and no hold is stored."""

from __future__ import annotations

import pytest

from kuzet.common.audit import AuditLog
from kuzet.common.caller import Caller
from kuzet.common.db import Database
from kuzet.common.errors import InvalidArgument
from kuzet.common.holds import Holds
from kuzet.common.v1 import holds_pb2

ANNA = Caller("anna", "police", frozenset({"investigator"}))
KIND = "test.item"
HOSTILE = [
    "../x",
    "evidence/../../x",
    "evidence/./x",
    "/etc/passwd",
    "evidence//x",
    "evidence/x/",
    "evidence/a\x00b",
    "evidence\\..\\x",
    "evidence/x\n",
]


@pytest.mark.parametrize("field", ["item_id", "case_id", "source_id"])
async def test_hostile_ids_are_refused_and_nothing_is_held(db_url: str, field: str) -> None:
    db = Database(db_url)
    audit = AuditLog(db)
    holds = Holds(db, audit, {KIND: "scratch items"}, release_ttl_s=3600)
    for value in HOSTILE:
        request = holds_pb2.PlaceHoldRequest(kind=KIND, reason="case 17", **{field: value})
        with pytest.raises(InvalidArgument, match=field):
            await holds.place(ANNA, request)
    assert (await holds.page(ANNA, holds_pb2.ListHoldsRequest()))[0] == []
    assert [e.action for e in audit.list(action_prefix="hold.")] == []
    hold = await holds.place(
        ANNA, holds_pb2.PlaceHoldRequest(kind=KIND, reason="case 17", **{field: "evidence/x"})
    )
    assert getattr(hold, field) == "evidence/x"

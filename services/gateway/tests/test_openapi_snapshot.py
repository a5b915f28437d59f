"""The OpenAPI document keeps its shape.

`openapi_operations.json` is the document's operations (one per line, "METHOD path") as they
were before the REST handlers became rows of a table (kuzet.gateway.routes). Every one must still
be served exactly so; a deliberate change to the API rewrites the file:
KUZET_WRITE_OPENAPI_SNAPSHOT=1 pytest services/gateway/tests/test_openapi_snapshot.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

SNAPSHOT = Path(__file__).with_name("openapi_operations.json")


def _operations(doc: dict[str, Any]) -> dict[str, Any]:
    return {f"{m.upper()} {path}": op for path, ops in doc["paths"].items() for m, op in ops.items()}


async def test_openapi_keeps_every_operation_of_the_snapshot(gw: Any) -> None:
    doc = (await gw.client.get("/openapi.json")).json()
    now = _operations(doc)
    if os.environ.get("KUZET_WRITE_OPENAPI_SNAPSHOT") == "1":
        lines = [json.dumps({k: now[k]}, sort_keys=True)[1:-1] for k in sorted(now)]
        SNAPSHOT.write_text("{\n" + ",\n".join(lines) + "\n}\n")
    before = json.loads(SNAPSHOT.read_text())
    assert sorted(set(before) - set(now)) == [], "operations gone from /openapi.json"
    changed = [k for k in before if now[k] != before[k]]
    assert changed == [], "operations documented differently (a deliberate change rewrites the snapshot)"
    # Every schema an operation names is in the document.
    refs = {v for v in _strings(before) if v.startswith("#/components/schemas/")}
    assert {r.rsplit("/", 1)[1] for r in refs} <= set(doc["components"]["schemas"])


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []

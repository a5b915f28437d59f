"""The file formats of a file drop: CSV with a header row, or JSON (a list of objects, or an
object whose "records" is one). A file that cannot be read as a whole is a SourceFailed: a
broken file is never imported in part."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from kuzet.common.connectors.base import RawRecord, SourceFailed

FORMATS = ("csv", "json")


def format_of(key: str) -> str:
    suffix = key.rsplit(".", 1)[-1].lower() if "." in key else ""
    if suffix not in FORMATS:
        raise ValueError(f"{key}: a drop file ends in .csv or .json")
    return suffix


def parse(data: bytes, fmt: str, name: str) -> list[RawRecord]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceFailed(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return _csv(text, name) if fmt == "csv" else _json(text, name)


def _csv(text: str, name: str) -> list[RawRecord]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if not header:
            raise SourceFailed(f"{name}: empty file, a CSV drop starts with a header row")
        names = [h.strip() for h in header]
        if len(set(names)) != len(names) or "" in names:
            raise SourceFailed(f"{name}: the header row has an empty or repeated column name")
        rows = []
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            # A row with more or fewer cells than the header is reported as that row's fault.
            problem = "" if len(values) == len(names) else f"{len(values)} cells, the header has {len(names)}"
            rows.append(RawRecord(reader.line_num, dict(zip(names, values, strict=False)), problem))
        return rows
    except csv.Error as exc:
        raise SourceFailed(f"{name}: line {reader.line_num}: {exc}") from None


def _json(text: str, name: str) -> list[RawRecord]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceFailed(f"{name}: not JSON: {exc}") from None
    return json_records(doc, name, first_row=1)


def json_records(doc: Any, name: str, *, first_row: int) -> list[RawRecord]:
    """The records of a JSON document (file or REST page), numbered from ``first_row``."""
    items = doc.get("records") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise SourceFailed(f"{name}: expected a list of records or an object with a 'records' list")
    return [
        RawRecord(first_row + i, item)
        if isinstance(item, dict)
        else RawRecord(first_row + i, {}, "not a JSON object")
        for i, item in enumerate(items)
    ]

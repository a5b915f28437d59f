"""The connector interface, whatever the records are (wanted persons, stolen or wanted vehicles,
citations): a source gives raw rows, a connector turns them into typed records with a
stable external id, a sink applies a whole batch atomically and audits it as one bulk change.

A batch is never half-applied: a row the connector cannot read, a duplicate external id, or a
row the sink refuses rejects the whole batch, and the report names every such row."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Generic, Protocol, TypeVar


class SourceFailed(Exception):
    """The source could not be read to its end (unreachable, an error page, a broken file):
    nothing read from it is applied."""


class RowRejected(Exception):
    """One row is malformed; the message says why (the batch it belongs to is rejected)."""


@dataclass(frozen=True)
class RawRecord:
    """A row as the source gave it: where it is (CSV: its line; JSON and REST: its position,
    from 1) and its fields, unchecked; ``problem`` says why its shape is already wrong."""

    row: int
    fields: Mapping[str, Any]
    problem: str = ""


class RawSource(Protocol):
    @property
    def name(self) -> str:
        """Where the rows come from, for reports and the audit trail (never a secret)."""
        ...

    def rows(self) -> AsyncIterator[RawRecord]:
        """Every row, in order; raises SourceFailed when the source breaks off."""
        ...

    async def attachment(self, path: str) -> bytes:
        """A file the rows refer to (a photo next to the dropped file); RowRejected if missing."""
        ...


@dataclass(frozen=True)
class Rejection:
    row: int
    external_id: str
    reason: str


class Record(Protocol):
    @property
    def row(self) -> int: ...

    @property
    def external_id(self) -> str: ...

    def fingerprint(self) -> str:
        """SHA-256 of everything the sink keeps of the record: equal means nothing changed."""
        ...


R = TypeVar("R", bound=Record)
R_co = TypeVar("R_co", bound=Record, covariant=True)
R_contra = TypeVar("R_contra", bound=Record, contravariant=True)


class Connector(Protocol[R_co]):
    @property
    def source(self) -> RawSource: ...

    def records(self) -> AsyncIterator[R_co | Rejection]:
        """One typed record or one rejection per row of the source."""
        ...


@dataclass(frozen=True)
class Batch(Generic[R_co]):
    """Everything one run read: the feed it belongs to (the key of its records, with their
    external ids), the records, the rows rejected so far and a hash of the whole content."""

    feed: str
    source: str
    records: Sequence[R_co]
    rejected: Sequence[Rejection]
    content_sha256: str


L = TypeVar("L")


@dataclass
class Plan(Generic[R, L]):
    """What a sink will do with a batch, against what the last run of the feed left: ``L`` is
    the sink's link from an external id to the entry it made."""

    adds: list[R] = field(default_factory=list)
    updates: list[tuple[R, L]] = field(default_factory=list)
    removals: list[tuple[str, L]] = field(default_factory=list)  # (external id, link)
    unchanged: int = 0


def fingerprint_of(*kept: str) -> str:
    """A record's fingerprint: SHA-256 of the values a sink keeps of it, in a fixed order."""
    return hashlib.sha256(json.dumps(list(kept)).encode()).hexdigest()


@dataclass
class ImportReport:
    feed: str
    source: str
    run_id: str
    outcome: str  # applied, rejected (bad rows: nothing applied), failed (the source broke off)
    content_sha256: str = ""
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: list[Rejection] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    error: str = ""

    @classmethod
    def of_batch(
        cls, batch: Batch[Any], rejected: Sequence[Rejection], skipped: Sequence[Rejection] = ()
    ) -> ImportReport:
        """A run's report before it applies anything: rejected until the sink says otherwise."""
        return cls(
            batch.feed,
            batch.source,
            str(uuid.uuid4()),
            "rejected",
            batch.content_sha256,
            skipped=list(skipped),
            rejected=sorted(rejected, key=lambda r: r.row),
        )

    @classmethod
    def source_failed(cls, feed: str, source: str, error: str) -> ImportReport:
        return cls(feed, source, str(uuid.uuid4()), "failed", error=error)

    @property
    def changes(self) -> int:
        return self.added + self.updated + self.removed

    def counts(self) -> dict[str, int]:
        return {
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "skipped": len(self.skipped),
            "rejected": len(self.rejected),
        }

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["counts"] = self.counts()
        return out


class Sink(Protocol[R_contra]):
    async def apply(self, batch: Batch[R_contra]) -> ImportReport:
        """Apply every record of the batch, or none (and say why) when any row is refused."""
        ...

    async def failed(self, feed: str, source: str, error: str) -> ImportReport:
        """Record a run whose source broke off (nothing applied)."""
        ...


async def collect(connector: Connector[R], feed: str) -> Batch[R]:
    """Read the whole source first: a duplicate external id rejects each of its rows."""
    found: list[R] = []
    rejected: list[Rejection] = []
    async for item in connector.records():
        if isinstance(item, Rejection):
            rejected.append(item)
        else:
            found.append(item)
    records, twice = unique_by(found, lambda r: r.external_id, lambda r: "external id")
    rejected = sorted([*rejected, *twice], key=lambda r: r.row)
    return Batch(feed, connector.source.name, records, rejected, _content_hash(found, rejected))


def unique_by(
    records: Sequence[R], key: Callable[[R], str], label: Callable[[R], str]
) -> tuple[list[R], list[Rejection]]:
    """The records whose key no other record has, and a rejection for each of the others: of
    two rows that claim the same thing, neither can be trusted over the other."""
    rows_of: dict[str, list[int]] = {}
    for record in records:
        rows_of.setdefault(key(record), []).append(record.row)
    kept: list[R] = []
    rejected: list[Rejection] = []
    for record in records:
        rows = rows_of[key(record)]
        if len(rows) == 1:
            kept.append(record)
            continue
        others = ", ".join(str(r) for r in rows if r != record.row)
        rejected.append(
            Rejection(
                record.row, record.external_id, f"{label(record)} also on row(s) {others} of this batch"
            )
        )
    return kept, rejected


def _content_hash(records: list[R], rejected: list[Rejection]) -> str:
    """Independent of row order: the same content read twice gives the same hash."""
    parts = sorted([r.external_id, r.fingerprint()] for r in records)
    parts += sorted([str(r.row), r.reason] for r in rejected)
    return hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode()).hexdigest()


async def run_import(connector: Connector[R], sink: Sink[R], feed: str) -> ImportReport:
    try:
        batch = await collect(connector, feed)
    except SourceFailed as exc:
        return await sink.failed(feed, connector.source.name, str(exc))
    return await sink.apply(batch)

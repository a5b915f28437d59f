"""Legal holds and their two-person release, shared by every service that deletes by retention.

A hold keeps items of one kind from retention. Its scope is one item, every item of a case, or
every item of a source (a camera) over a time range. Placing one takes the investigator or admin
role; releasing one takes two different people with that role: the first call records a release
request, a second call by somebody else before the request lapses completes it. Every step is an
audit record written in the same transaction as the change, so the trail and the state agree.

The two tables live in each service's own database beside the audit log and, like it, are created
on first use (``kuzet_legal_holds``, ``kuzet_hold_releases``): every service keeps them, so no
service's migrations own them. ``kuzet_hold_releases`` also serves holds a service keeps in its
own tables (badge evidence's ``legal_hold`` flag) through :func:`release_step`, so the rule is
written once.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, DateTime, Index, MetaData, String, Table, Text, delete, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from kuzet.common.audit import AuditLog
from kuzet.common.caller import Caller
from kuzet.common.db import Database
from kuzet.common.errors import FailedPrecondition, InvalidArgument, NotFound
from kuzet.common.paging import Keyset, Paging, descending
from kuzet.common.timeutil import as_utc, from_timestamp, to_timestamp, utcnow
from kuzet.common.v1 import holds_pb2

# Who may place and release holds (release needs two different people holding one of these).
HOLD_ROLES = ("investigator", "admin")
DEFAULT_RELEASE_TTL_S = 24 * 3600.0
# Ids, and object keys for items that are objects: no empty, "." or ".." path segments.
_ID = re.compile(r"^[A-Za-z0-9_:-][A-Za-z0-9._:-]*(/[A-Za-z0-9_:-][A-Za-z0-9._:-]*)*$")

metadata = MetaData()
holds_table = Table(
    "kuzet_legal_holds",
    metadata,
    Column("hold_id", String(36), primary_key=True),
    Column("agency", String(64), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("item_id", String(256), nullable=False),
    Column("case_id", String(256), nullable=False),
    Column("source_id", String(256), nullable=False),
    Column("from_time", DateTime(timezone=True), nullable=True),
    Column("to_time", DateTime(timezone=True), nullable=True),
    Column("reason", Text, nullable=False),
    Column("placed_by", String(256), nullable=False),
    Column("placed_at", DateTime(timezone=True), nullable=False),
    Column("released_by", String(256), nullable=False),
    Column("released_at", DateTime(timezone=True), nullable=True),
    Index("ix_kuzet_legal_holds_active", "agency", "kind", "released_at"),
)
PAGING = Paging(default=100, maximum=500)
HOLD_KEYS = Keyset("holds.newest", descending(holds_table.c.placed_at), holds_table.c.hold_id)
releases_table = Table(
    "kuzet_hold_releases",
    metadata,
    # What is being released: "hold:<hold_id>", or a service's own "<kind>:<item id>".
    Column("target", String(300), primary_key=True),
    Column("agency", String(64), nullable=False),
    Column("requested_by", String(256), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("reason", Text, nullable=False),
)


# PostgreSQL advisory lock that serialises placing a hold with a retention batch (on SQLite every
# write transaction is already serialised by BEGIN IMMEDIATE).
_HOLDS_LOCK_KEY = 0x6B757A6574686C64  # "kuzethld"


def lock_holds(session: Session) -> None:
    """Take the holds lock for the rest of ``session``'s transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _HOLDS_LOCK_KEY})


def ensure_tables(database: Database) -> None:
    """Create the two tables if missing; a replica starting at the same moment may win the race."""
    try:
        metadata.create_all(database.engine, checkfirst=True)
    except SQLAlchemyError:
        # PostgreSQL reports the other creator's table as a unique violation on its catalog;
        # anything else fails again on the second try and is raised.
        metadata.create_all(database.engine, checkfirst=True)


def actor_of(caller: Caller) -> str:
    return caller.subject or "anonymous"


@dataclass(frozen=True)
class PendingRelease:
    requested_by: str
    requested_at: datetime
    expires_at: datetime
    reason: str


@dataclass(frozen=True)
class HeldItem:
    """What a retention job knows of an item when it asks whether a hold covers it."""

    item_id: str
    case_id: str = ""
    source_id: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class Hold:
    hold_id: str
    agency: str
    kind: str
    item_id: str
    case_id: str
    source_id: str
    from_time: datetime | None
    to_time: datetime | None
    reason: str
    placed_by: str
    placed_at: datetime
    released_by: str
    released_at: datetime | None
    pending: PendingRelease | None = None

    @property
    def active(self) -> bool:
        return self.released_at is None

    def covers(self, item: HeldItem) -> bool:
        if not self.active:
            return False
        if self.item_id:
            return item.item_id == self.item_id
        if self.case_id:
            return item.case_id == self.case_id
        if item.source_id != self.source_id:
            return False
        if item.at is None:
            return True  # an item of the source with no time: keep it rather than guess
        at = as_utc(item.at)
        return (self.from_time is None or at >= self.from_time) and (
            self.to_time is None or at < self.to_time
        )

    def to_proto(self) -> holds_pb2.LegalHold:
        msg = holds_pb2.LegalHold(
            hold_id=self.hold_id,
            agency_id=self.agency,
            kind=self.kind,
            item_id=self.item_id,
            case_id=self.case_id,
            source_id=self.source_id,
            reason=self.reason,
            placed_by=self.placed_by,
            placed_at=to_timestamp(self.placed_at),
            released_by=self.released_by,
        )
        if self.from_time is not None:
            msg.from_time.CopyFrom(to_timestamp(self.from_time))
        if self.to_time is not None:
            msg.to_time.CopyFrom(to_timestamp(self.to_time))
        if self.released_at is not None:
            msg.state = holds_pb2.HOLD_STATE_RELEASED
            msg.released_at.CopyFrom(to_timestamp(self.released_at))
        elif self.pending is not None:
            msg.state = holds_pb2.HOLD_STATE_RELEASE_PENDING
            msg.release_requested_by = self.pending.requested_by
            msg.release_requested_at.CopyFrom(to_timestamp(self.pending.requested_at))
            msg.release_expires_at.CopyFrom(to_timestamp(self.pending.expires_at))
            msg.release_reason = self.pending.reason
        else:
            msg.state = holds_pb2.HOLD_STATE_ACTIVE
        return msg


def held(holds: Iterable[Hold], item: HeldItem) -> bool:
    return any(h.covers(item) for h in holds)


def _opt(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def _pending(session: Session, target: str, now: datetime) -> PendingRelease | None:
    row = session.execute(select(releases_table).where(releases_table.c.target == target)).first()
    if row is None or as_utc(row.expires_at) <= now:
        return None
    return PendingRelease(row.requested_by, as_utc(row.requested_at), as_utc(row.expires_at), row.reason)


def release_step(
    session: Session,
    target: str,
    *,
    agency: str,
    actor: str,
    reason: str,
    ttl_s: float,
    now: datetime | None = None,
) -> PendingRelease | None:
    """One person's call to release ``target``, in the caller's transaction.

    Returns the pending request when this call recorded it (the first person, or a new request
    after the last one lapsed), or None when it completed the release (a second, different person
    before the request lapsed). The same person asking again while their request is pending is
    FAILED_PRECONDITION: a release needs somebody else to agree.
    """
    if not reason:
        raise InvalidArgument("reason is required to release a legal hold")
    moment = now or utcnow()
    pending = _pending(session, target, moment)
    if pending is not None:
        if pending.requested_by == actor:
            raise FailedPrecondition(
                f"{actor} already asked to release this hold (until {pending.expires_at.isoformat()}); "
                "a second person with the investigator or admin role must complete the release"
            )
        session.execute(delete(releases_table).where(releases_table.c.target == target))
        return None
    session.execute(delete(releases_table).where(releases_table.c.target == target))  # a lapsed one
    request = PendingRelease(actor, moment, moment + timedelta(seconds=ttl_s), reason)
    session.execute(
        releases_table.insert().values(
            target=target,
            agency=agency,
            requested_by=request.requested_by,
            requested_at=request.requested_at,
            expires_at=request.expires_at,
            reason=reason,
        )
    )
    return request


def pending_release(session: Session, target: str, now: datetime | None = None) -> PendingRelease | None:
    """The release request of ``target`` still waiting for its second person, if any."""
    return _pending(session, target, now or utcnow())


def _hold(row: Any, pending: PendingRelease | None = None) -> Hold:
    m = row._mapping
    return Hold(
        hold_id=m["hold_id"],
        agency=m["agency"],
        kind=m["kind"],
        item_id=m["item_id"],
        case_id=m["case_id"],
        source_id=m["source_id"],
        from_time=_opt(m["from_time"]),
        to_time=_opt(m["to_time"]),
        reason=m["reason"],
        placed_by=m["placed_by"],
        placed_at=as_utc(m["placed_at"]),
        released_by=m["released_by"],
        released_at=_opt(m["released_at"]),
        pending=pending,
    )


def _target(hold_id: str) -> str:
    return f"hold:{hold_id}"


class Holds:
    """The legal holds of one service's item kinds (``kinds``: kind -> what it is, for messages)."""

    def __init__(
        self,
        database: Database,
        audit: AuditLog,
        kinds: dict[str, str],
        *,
        release_ttl_s: float = DEFAULT_RELEASE_TTL_S,
    ) -> None:
        if release_ttl_s <= 0:
            raise ValueError("release_ttl_s must be positive")
        self.database = database
        self.audit = audit
        self.kinds = dict(kinds)
        self.release_ttl_s = release_ttl_s
        ensure_tables(database)

    def _check_kind(self, kind: str) -> None:
        if kind not in self.kinds:
            raise InvalidArgument(f"kind must be one of {', '.join(sorted(self.kinds))} here (got {kind!r})")

    async def place(self, caller: Caller, request: holds_pb2.PlaceHoldRequest) -> Hold:
        caller.require_role(*HOLD_ROLES)
        agency = request.agency_id or caller.agency
        caller.require_agency(agency)
        self._check_kind(request.kind)
        if not request.reason.strip():
            raise InvalidArgument("reason is required for a legal hold")
        if len(request.reason) > 4000:
            raise InvalidArgument("reason is at most 4000 characters")
        scopes = [bool(request.item_id), bool(request.case_id), bool(request.source_id)]
        if sum(scopes) != 1:
            raise InvalidArgument("a hold names exactly one of item_id, case_id or source_id")
        for name in ("item_id", "case_id", "source_id"):
            value = getattr(request, name)
            if value and not _ID.fullmatch(value):  # `$` would let a trailing newline through
                raise InvalidArgument(
                    f"{name} must be letters, digits or ._:- in /-separated parts, not starting with a dot "
                    f"(got {value!r})"
                )
            if len(value) > 256:
                raise InvalidArgument(f"{name} is at most 256 characters")
        start = from_timestamp(request.from_time) if request.HasField("from_time") else None
        end = from_timestamp(request.to_time) if request.HasField("to_time") else None
        if (start or end) and not request.source_id:
            raise InvalidArgument("from_time and to_time go with source_id only")
        if start and end and end <= start:
            raise InvalidArgument("to_time must be after from_time")
        now = utcnow()
        hold = Hold(
            hold_id=str(uuid.uuid4()),
            agency=agency,
            kind=request.kind,
            item_id=request.item_id,
            case_id=request.case_id,
            source_id=request.source_id,
            from_time=start,
            to_time=end,
            reason=request.reason,
            placed_by=actor_of(caller),
            placed_at=now,
            released_by="",
            released_at=None,
        )

        def work(session: Session) -> None:
            lock_holds(session)
            session.execute(
                holds_table.insert().values(
                    hold_id=hold.hold_id,
                    agency=hold.agency,
                    kind=hold.kind,
                    item_id=hold.item_id,
                    case_id=hold.case_id,
                    source_id=hold.source_id,
                    from_time=hold.from_time,
                    to_time=hold.to_time,
                    reason=hold.reason,
                    placed_by=hold.placed_by,
                    placed_at=hold.placed_at,
                    released_by="",
                    released_at=None,
                )
            )
            self.audit.append(
                "hold.place",
                hold.hold_id,
                details=_scope_details(hold),
                agency=agency,
                actor=hold.placed_by,
                session=session,
            )

        await self.database.run(work)
        return hold

    def _read(self, session: Session, caller: Caller, hold_id: str, *, lock: bool = False) -> Hold:
        query = select(holds_table).where(holds_table.c.hold_id == hold_id)
        if lock:
            query = query.with_for_update()
        row = session.execute(query).first()
        # Another agency's hold reads as absent: its existence is not the caller's to learn.
        if row is None or not caller.sees_agency(row.agency):
            raise NotFound(f"legal hold {hold_id} not found")
        return _hold(row, _pending(session, _target(hold_id), utcnow()))

    async def release(self, caller: Caller, hold_id: str, reason: str) -> tuple[Hold, bool]:
        """(the hold as it stands now, whether this call completed the release)."""
        caller.require_role(*HOLD_ROLES)
        actor = actor_of(caller)

        def work(session: Session) -> tuple[Hold, bool]:
            hold = self._read(session, caller, hold_id, lock=True)
            if not hold.active:
                raise FailedPrecondition(f"legal hold {hold_id} was already released by {hold.released_by}")
            first = hold.pending
            request = release_step(
                session,
                _target(hold_id),
                agency=hold.agency,
                actor=actor,
                reason=reason,
                ttl_s=self.release_ttl_s,
            )
            if request is not None:
                self.audit.append(
                    "hold.release_request",
                    hold_id,
                    details={
                        "kind": hold.kind,
                        "reason": reason,
                        "expires_at": request.expires_at.isoformat(),
                    },
                    agency=hold.agency,
                    actor=actor,
                    session=session,
                )
                return replace(hold, pending=request), False
            now = utcnow()
            session.execute(
                holds_table.update()
                .where(holds_table.c.hold_id == hold_id)
                .values(released_by=actor, released_at=now)
            )
            self.audit.append(
                "hold.release",
                hold_id,
                details={
                    "kind": hold.kind,
                    "reason": reason,
                    "requested_by": first.requested_by if first else "",
                },
                agency=hold.agency,
                actor=actor,
                session=session,
            )
            return replace(hold, released_by=actor, released_at=now, pending=None), True

        return await self.database.run(work)

    async def get(self, caller: Caller, hold_id: str) -> Hold:
        return await self.database.run(lambda s: self._read(s, caller, hold_id))

    async def page(self, caller: Caller, request: holds_pb2.ListHoldsRequest) -> tuple[list[Hold], str]:
        agency = request.agency_id or caller.agency
        caller.require_agency(agency)
        if request.kind:
            self._check_kind(request.kind)
        size = PAGING.size(request.page)
        after = HOLD_KEYS.after(request.page.page_token)

        def work(session: Session) -> tuple[list[Hold], str]:
            query = select(holds_table).where(holds_table.c.agency == agency)
            if request.kind:
                query = query.where(holds_table.c.kind == request.kind)
            if not request.include_released:
                query = query.where(holds_table.c.released_at.is_(None))
            rows, token = HOLD_KEYS.page(session.execute(HOLD_KEYS.query(query, after, size)).all(), size)
            now = utcnow()
            return [_hold(r, _pending(session, _target(r.hold_id), now)) for r in rows], token

        return await self.database.run(work)

    def active(self, session: Session, kind: str, agency: str | None = None) -> list[Hold]:
        """Holds in force on ``kind`` (pending releases included), for a retention job's batch."""
        query = select(holds_table).where(holds_table.c.kind == kind, holds_table.c.released_at.is_(None))
        if agency is not None:
            query = query.where(holds_table.c.agency == agency)
        return [_hold(r) for r in session.execute(query)]

    async def active_by_agency(self, kind: str) -> dict[str, list[Hold]]:
        def work(session: Session) -> dict[str, list[Hold]]:
            out: dict[str, list[Hold]] = {}
            for hold in self.active(session, kind):
                out.setdefault(hold.agency, []).append(hold)
            return out

        return await self.database.run(work)


def _scope_details(hold: Hold) -> dict[str, Any]:
    details: dict[str, Any] = {"kind": hold.kind, "reason": hold.reason}
    for name in ("item_id", "case_id", "source_id"):
        if value := getattr(hold, name):
            details[name] = value
    if hold.from_time is not None:
        details["from_time"] = hold.from_time.isoformat()
    if hold.to_time is not None:
        details["to_time"] = hold.to_time.isoformat()
    return details

"""Which replica holds each badge's stream, and silence judged once per badge across replicas.

The replica a badge's Connect stream is on claims the badge in ``badge_stream_holders`` (renewed
every third of ``stream_lease_s``, released when the stream ends) and alone judges that badge's
silence. A badge that no live replica holds (it disconnected, or its holder died and the claim
expired) is judged by one leader, elected with a lease (kuzet.common.dblease on one machine, a
Kubernetes Lease in a cluster), from the last_seen its holder wrote.

Every signal-lost is first marked in the row with a write that only matches while the judge still
may judge (the holder: the row names it and is live; the leader: nobody holds it), so a badge
connected elsewhere is never reported lost. The open occurrence stays in the row: the replica the
badge comes back to resolves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kuzet.badge.config import BadgeSettings
from kuzet.badge.models import StreamHolderRow
from kuzet.badge.telemetry.live import BadgeLive
from kuzet.badge.telemetry.rules import RuleEngine
from kuzet.common.bulkwrite import bulk_update
from kuzet.common.db import Database
from kuzet.common.waiting import wait_set

log = logging.getLogger(__name__)

H = StreamHolderRow
RENEW_SLICE = 250
RENEW_SLICE_PAUSE_S = 0.03


def _us(seconds: float) -> int:
    return int(seconds * 1_000_000)


@dataclass(frozen=True, slots=True)
class _Claim:
    live: BadgeLive
    # The badge's signal-lost was open on this replica when it connected (resolved here already).
    knew_lost: bool


@dataclass(frozen=True, slots=True)
class _Release:
    live: BadgeLive
    last_seen: float


@dataclass(frozen=True, slots=True)
class _Restored:
    live: BadgeLive


_Op = _Claim | _Release | _Restored


class StreamHolders:
    def __init__(
        self,
        settings: BadgeSettings,
        database: Database,
        badges: dict[str, BadgeLive],
        rules: RuleEngine,
        replica_id: str,
        *,
        leading: Callable[[], bool],
        changed: Callable[[BadgeLive], None],
        write_turn: contextlib.AbstractAsyncContextManager[Any],
    ) -> None:
        self.settings = settings
        self.database = database
        self.badges = badges
        self.rules = rules
        self.replica_id = replica_id
        self.leading = leading
        self._changed = changed
        # The hub's turns over the telemetry writes (kuzet.badge.telemetry.hub).
        self._write_turn = write_turn
        self._ops: list[_Op] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._upsert = (sqlite.insert if database.is_sqlite else postgresql.insert)(H)
        # Renewals and releases: (expires_at_us, last_seen_us, badge_id, replica_id) rows, as the
        # driver's statement without SQLAlchemy's per-row parameter processing (at 10,000 badges
        # that processing held the GIL for ~100 ms, stalling every ack).
        self._set_expiry = bulk_update(
            database, H, assign=("expires_at_us", "last_seen_us"), match=("badge_id", "replica_id")
        )
        self.healthy = True
        # Badges whose live claim names another replica, as last read: shown connected here, and
        # the leader judges the time-based rules of every other badge not connected to it.
        self.held_elsewhere: set[str] = set()

    # -- the hub's hooks ---------------------------------------------------------------------

    def attached(self, live: BadgeLive, knew_lost: bool) -> None:
        self._queue(_Claim(live, knew_lost))

    def detached(self, live: BadgeLive) -> None:
        self._queue(_Release(live, live.last_seen))

    def restored(self, live: BadgeLive) -> None:
        """The badge spoke again while its signal-lost was open here (resolved in memory)."""
        self._queue(_Restored(live))

    def _queue(self, op: _Op) -> None:
        self._ops.append(op)
        self._wake.set()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="badge-stream-holders")

    async def stop(self) -> None:
        """Stop judging; release the claims of the badges still connected here."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._release_held()
        with contextlib.suppress(Exception):
            await self._flush()

    def _release_held(self) -> None:
        for live in self.badges.values():
            if live.link is not None:
                self._ops.append(_Release(live, live.last_seen))

    async def _run(self) -> None:
        renew_every = self.settings.stream_lease_s / 3
        judge_every = self.settings.supervisor_interval_s
        next_renew = next_judge = 0.0
        while True:
            timeout = max(0.0, min(next_renew, next_judge) - time.monotonic())
            await wait_set(self._wake, timeout)
            self._wake.clear()
            try:
                now = time.monotonic()
                if now >= next_renew:
                    await self._renew()
                    next_renew = now + renew_every
                else:
                    await self._flush()
                if now >= next_judge:
                    await self._judge()
                    next_judge = now + judge_every
                self.healthy = True
            except Exception:
                self.healthy = False
                log.exception("badge stream holders: database pass failed; retrying")
                await asyncio.sleep(min(1.0, renew_every))

    # -- claims ------------------------------------------------------------------------------

    async def _flush(self) -> None:
        if not self._ops:
            return
        ops, self._ops = self._ops, []
        now = time.time()
        expires = _us(now + self.settings.stream_lease_s)

        claim_sql = self._upsert.values(
            badge_id=bindparam("b"),
            replica_id=self.replica_id,
            expires_at_us=expires,
            last_seen_us=_us(now),
            signal_lost=False,
        ).on_conflict_do_update(
            index_elements=[H.badge_id],
            set_={"replica_id": self.replica_id, "expires_at_us": expires, "last_seen_us": _us(now)},
        )

        def write(session: Session) -> list[_Claim]:
            # Consecutive operations of one kind in one statement each (a badge may connect,
            # leave and come back within one flush: their order is kept). 10,000 badges
            # connecting at once were 20,000 round trips on PostgreSQL, for seconds.
            resolve: list[_Claim] = []
            connection = session.connection()
            for kind, run in itertools.groupby(ops, key=type):
                group = list(run)
                ids = [op.live.badge_id for op in group]
                if kind is _Release:
                    rows = [
                        (0, _us(op.last_seen), op.live.badge_id, self.replica_id)
                        for op in group
                        if isinstance(op, _Release)
                    ]
                    self._set_expiry.execute(connection, rows)
                    continue
                lost = self._clear_lost(session, ids)
                if kind is _Claim:
                    connection.execute(claim_sql, [{"b": badge_id} for badge_id in ids])
                    resolve += [
                        op
                        for op in group
                        if isinstance(op, _Claim) and op.live.badge_id in lost and not op.knew_lost
                    ]
            return resolve

        try:
            async with self._write_turn:
                resolve = await self.database.run(write)
        except Exception:
            self._ops[:0] = ops
            raise
        for claim in resolve:
            # Lost while it was away from this replica; back now, so this replica resolves it.
            live = claim.live
            live.signal_lost = True
            self.rules.on_message(live, time.time())
            self._changed(live)

    @staticmethod
    def _clear_lost(session: Session, badge_ids: list[str]) -> set[str]:
        """Close the open signal-lost of these badges; the ones that had one."""
        cleared: set[str] = set()
        for start in range(0, len(badge_ids), RENEW_SLICE):
            query = (
                update(H)
                .where(H.badge_id.in_(badge_ids[start : start + RENEW_SLICE]), H.signal_lost.is_(True))
                .values(signal_lost=False)
                .returning(H.badge_id)
            )
            cleared.update(session.scalars(query))
        return cleared

    async def _renew(self) -> None:
        """Renew the claims on the badges connected here; close streams another replica took."""
        held = {b: live.link for b, live in self.badges.items() if live.link is not None}
        await self._flush()
        now = time.time()
        expires = _us(now + self.settings.stream_lease_s)
        rows = [(expires, _us(self.badges[b].last_seen), b, self.replica_id) for b in held]

        def write(session: Session, chunk: list[tuple[int, int, str, str]]) -> None:
            self._set_expiry.execute(session.connection(), chunk)

        # In slices between the telemetry writes, as the hub's state writer does.
        for start in range(0, len(rows), RENEW_SLICE):
            if start:
                await asyncio.sleep(RENEW_SLICE_PAUSE_S)
            async with self._write_turn:
                await self.database.run(write, rows[start : start + RENEW_SLICE])

        def others(session: Session) -> list[tuple[str, int]]:
            query = select(H.badge_id, H.expires_at_us).where(H.replica_id != self.replica_id)
            return [(b, e) for b, e in session.execute(query)]

        # Rows naming another replica (few at one replica); a badge held here among them opened a
        # newer stream there.
        claimed = await self.database.run(others)
        taken = {badge_id for badge_id, _ in claimed}
        self.held_elsewhere = {badge_id for badge_id, until in claimed if until >= _us(now)}
        for badge_id, live in self.badges.items():
            elsewhere = badge_id in self.held_elsewhere
            if live.held_elsewhere != elsewhere:
                live.held_elsewhere = elsewhere
                self._changed(live)
        for badge_id, link in held.items():
            live = self.badges[badge_id]
            if badge_id in taken and live.link is link and link is not None:
                # The badge opened a newer stream on another replica: this one is a dead end.
                log.info(
                    "badge %s is streaming to another replica; closing the stale stream here",
                    badge_id,
                    extra={"agency": live.agency_id},
                )
                link.close()

    # -- silence -----------------------------------------------------------------------------

    async def _judge(self) -> None:
        now = time.time()
        held = [
            live for live in self.badges.values() if live.link is not None and self.rules.silent(live, now)
        ]
        orphans: list[tuple[BadgeLive, int]] = []
        if self.leading():
            limit = _us(now - self.settings.signal_lost_after_s)

            def read(session: Session) -> list[tuple[str, int]]:
                query = select(H.badge_id, H.last_seen_us).where(
                    H.expires_at_us < _us(now),
                    H.signal_lost.is_(False),
                    H.last_seen_us > 0,
                    H.last_seen_us < limit,
                )
                return [(b, s) for b, s in session.execute(query)]

            for badge_id, last_seen in await self.database.run(read):
                live = self.badges.get(badge_id)
                if live is not None and live.link is None and live.on_shift:
                    orphans.append((live, last_seen))
        if not held and not orphans:
            return

        def mark(session: Session) -> tuple[list[BadgeLive], list[tuple[BadgeLive, int]]]:
            ours = [live for live in held if self._mark(session, live.badge_id, now, holder=True)]
            theirs = [
                (live, s) for live, s in orphans if self._mark(session, live.badge_id, now, holder=False)
            ]
            return ours, theirs

        ours, theirs = await self.database.run(mark)
        for live in ours:
            self.rules.signal_lost(live, now)
            self._changed(live)
        for live, last_seen in theirs:
            live.last_seen = max(live.last_seen, last_seen / 1_000_000)
            self.rules.signal_lost(live, now)
            self._changed(live)

    def _mark(self, session: Session, badge_id: str, now: float, *, holder: bool) -> bool:
        """Open the badge's signal-lost in the row, if this replica is (still) the one to judge it."""
        query = update(H).where(H.badge_id == badge_id, H.signal_lost.is_(False))
        if holder:
            query = query.where(H.replica_id == self.replica_id, H.expires_at_us >= _us(now))
        else:
            query = query.where(H.expires_at_us < _us(now))
        return bool(session.execute(query.values(signal_lost=True)).rowcount)  # type: ignore[attr-defined]

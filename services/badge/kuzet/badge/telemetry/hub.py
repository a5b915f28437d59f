"""Telemetry ingest: in-memory latest state per badge, batched history writes, acks after commit.

A report costs a few attribute writes on the event loop. A writer task commits buffered reports
every ``history_flush_ms`` in one transaction (duplicates ignored by the (badge_id, seq) key) and
only then acknowledges them, so an ack always means "stored". The latest-state table is written
behind, every ``state_flush_s``, for restarts and for readers in other processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.badge import convert
from kuzet.badge.config import BadgeSettings
from kuzet.badge.models import BadgeRow, BadgeStateRow, IncidentBadgeRow, IncidentRow, TelemetryRow
from kuzet.badge.telemetry.commands import CommandRouter
from kuzet.badge.telemetry.follow import Changes, read_changes
from kuzet.badge.telemetry.link import BadgeLink
from kuzet.badge.telemetry.live import BadgeLive
from kuzet.badge.telemetry.rules import RuleEngine
from kuzet.badge.telemetry.streams import StreamHolders
from kuzet.badge.v1 import badge_pb2
from kuzet.common.bulkwrite import bulk_insert, bulk_upsert
from kuzet.common.caller import Caller
from kuzet.common.db import Database
from kuzet.common.errors import NotFound, ResourceExhausted, Unauthenticated
from kuzet.common.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

# Reports waiting for the writer beyond this are refused (RESOURCE_EXHAUSTED) rather than held
# in memory without bound when the database stalls.
MAX_BUFFERED = 200_000
# Badges handled per pass of the loop by the periodic jobs over all of them.
STATE_SLICE = 250
# SQLite WAL checkpoints, small and often: at 10,000 reports/s one a second took 44 ms median and
# up to ~1 s, and full runs' ack p99 swung 42-158 ms; every 0.25 s it stayed 57-82 ms (3 runs).
CHECKPOINT_INTERVAL_S = 0.25
STATE_SLICE_PAUSE_S = 0.03


@dataclass
class Watcher:
    agency_id: str
    unit_id: str
    dirty: dict[str, None] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def matches(self, live: BadgeLive) -> bool:
        return live.agency_id == self.agency_id and (not self.unit_id or live.unit_id == self.unit_id)


class TelemetryHub:
    def __init__(
        self, settings: BadgeSettings, database: Database, rules: RuleEngine, replica_id: str = "badge-0"
    ) -> None:
        self.settings = settings
        self.database = database
        self.rules = rules
        self.badges: dict[str, BadgeLive] = {}
        # (badge, seq, serialized report, device time, receipt time, received_hwm right after it)
        self._buffer: list[tuple[BadgeLive, int, bytes, float, float, int]] = []
        self._dirty: set[str] = set()
        # Badges the registry mirror has applied a row of (a new BadgeLive is announced once).
        self._seen: set[str] = set()
        # Streams that ended here since the last state write: their final state is still ours.
        self._released: set[str] = set()
        self._watchers: list[Watcher] = []
        self._tasks: list[asyncio.Task[None]] = []
        # On SQLite the telemetry writers (history, states, stream claims) take turns: two writers
        # contending for the database lock back off in sleeps of up to 100 ms, which every waiting
        # ack would sit through. PostgreSQL takes concurrent writers: no turns there.
        self._write_turn: contextlib.AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if database.is_sqlite else contextlib.nullcontext()
        )
        # The hottest statements of the service go to the driver as they are: SQLAlchemy's per-row
        # parameter processing cost about as much as the insert itself at 10,000 rows/s.
        self._insert_history = bulk_insert(
            database,
            TelemetryRow,
            ("badge_id", "seq", "device_time_us", "received_at_us", "payload"),
            on_conflict="DO NOTHING",
        )
        self._upsert_state = bulk_upsert(
            database,
            BadgeStateRow,
            ("badge_id", "agency_id", "acked_seq", "last_seen", "payload"),
            key=("badge_id",),
        )
        # The dialect's own conversion of the timestamp column, as SQLAlchemy would bind it.
        last_seen_type = BadgeStateRow.__table__.c.last_seen.type
        self._bind_time = last_seen_type.bind_processor(database.engine.dialect) or (lambda value: value)
        self.stats = {"reports": 0, "duplicates": 0, "written": 0, "write_errors": 0}
        # Whether this replica judges the badges connected to none (kuzet.badge.server elects the leader).
        self.leading: Callable[[], bool] = lambda: True
        # Several replicas share the database: who holds which stream, and commands for badges.
        self.streams = StreamHolders(
            settings,
            database,
            self.badges,
            rules,
            replica_id,
            leading=lambda: self.leading(),
            changed=self.changed,
            write_turn=self._write_turn,
        )
        self.commands = CommandRouter(settings, database, self.badges)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        since = utcnow()
        await self.database.run(self._load)
        self._tasks = [
            asyncio.create_task(self._follow(since), name="badge-follow-replicas"),
            asyncio.create_task(self._writer(), name="badge-history-writer"),
            asyncio.create_task(self._state_writer(), name="badge-state-writer"),
            asyncio.create_task(self._supervisor(), name="badge-supervisor"),
        ]
        if self.database.own_checkpoints:
            self._tasks.append(asyncio.create_task(self._checkpointer(), name="badge-wal-checkpoint"))
        await self.streams.start()
        await self.commands.start()

    async def stop(self) -> None:
        await self.streams.stop()
        await self.commands.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for live in self.badges.values():
            if live.link is not None:
                live.link.close()
        await self.flush()

    async def flush(self) -> None:
        """Write everything buffered now (tests, shutdown)."""
        await self._write_history()
        await self._write_states()

    def _load(self, session: Session) -> None:
        for row in session.scalars(select(BadgeRow)):
            self.update_badge(row)
        for state in session.scalars(select(BadgeStateRow)):
            live = self.badges.get(state.badge_id)
            if live is None:
                continue
            proto = self._adopt_state(live, state)
            # Open occurrences survive a restart so they do not fire twice.
            live.signal_lost = proto.signal_lost
        active = session.execute(
            select(IncidentBadgeRow.badge_id, IncidentBadgeRow.incident_id, IncidentBadgeRow.assigned_at)
            .join(IncidentRow, IncidentRow.incident_id == IncidentBadgeRow.incident_id)
            .where(IncidentRow.active.is_(True), IncidentBadgeRow.released_at.is_(None))
        )
        for badge_id, incident_id, assigned_at in active:
            if badge_id in self.badges:
                self.badges[badge_id].incident_id = incident_id
                self.badges[badge_id].incident_assigned_at = as_utc(assigned_at).timestamp()

    # -- registry and incidents (called by the servicer after its transaction) ----------------

    def update_badge(self, row: BadgeRow) -> BadgeLive:
        live = self.badges.get(row.badge_id)
        if live is None:
            live = self.badges[row.badge_id] = BadgeLive(row.badge_id, row.agency_id)
        fields = (row.agency_id, row.unit_id, row.officer_id, row.status)
        revoked = bool(live.credential_hash) and row.device_credential_hash != live.credential_hash
        live.credential_hash = row.device_credential_hash
        if revoked and live.link is not None:
            # Whatever stream the old token opened ends with it (on the replica that holds it).
            live.link.close(Unauthenticated(f"the device credential of badge {live.badge_id} was revoked"))
        if (
            fields == (live.agency_id, live.unit_id, live.officer_id, live.status)
            and live.badge_id in self._seen
        ):
            return live
        self._seen.add(live.badge_id)
        live.agency_id, live.unit_id, live.officer_id, live.status = fields
        if row.status == badge_pb2.BADGE_STATUS_RETIRED and live.link is not None:
            live.link.close()
        self.changed(live)
        return live

    @staticmethod
    def _adopt_state(live: BadgeLive, state: BadgeStateRow) -> badge_pb2.BadgeState:
        """Take up a latest-state row (another replica's, or this one's from before a restart)."""
        proto = badge_pb2.BadgeState.FromString(state.payload)
        if state.acked_seq > live.acked_seq:
            live.acked_seq = live.received_hwm = state.acked_seq
            live.received_above = {seq for seq in live.received_above if seq > state.acked_seq}
        if state.last_seen is not None:
            live.last_seen = max(live.last_seen, as_utc(state.last_seen).timestamp())
        if proto.HasField("last_report"):
            device_ts = proto.last_report.device_time.ToNanoseconds() / 1e9
            if device_ts >= live.last_device_ts:
                live.set_last_report(
                    proto.last_report.SerializeToString(), proto.last_report.recording, device_ts
                )
        live.panic_active = proto.panic_active
        return proto

    def apply(self, changes: Changes) -> None:
        """What other replicas changed: registry, incident assignments, live state of their badges."""
        for row in changes.badges:
            self.update_badge(row)
        for state in changes.states:
            live = self.badges.get(state.badge_id)
            if live is not None and live.link is None:
                self._adopt_state(live, state)
                self.changed(live)
        for badge_id, incident_id in changes.released:
            live = self.badges.get(badge_id)
            if live is not None and live.incident_id == incident_id:
                self.set_incident(badge_id, "", 0.0)
        for badge_id, incident_id, assigned_at in changes.assigned:
            live = self.badges.get(badge_id)
            if live is not None and live.incident_id != incident_id:
                self.set_incident(badge_id, incident_id, assigned_at)

    def set_incident(self, badge_id: str, incident_id: str, assigned_at: float) -> None:
        live = self.badges.get(badge_id)
        if live is None:
            return
        live.incident_id, live.incident_assigned_at = incident_id, assigned_at
        self.rules.on_incident_change(live, time.time())
        self.changed(live)

    # -- the link ----------------------------------------------------------------------------

    def live_for(self, caller: Caller, badge_id: str) -> BadgeLive:
        convert.check_id(badge_id, "badge_id")
        live = self.badges.get(badge_id)
        if live is None:
            raise NotFound(f"badge {badge_id} is not registered")
        caller.require_agency(live.agency_id)
        if not caller.sees_site(live.agency_id, live.unit_id):
            raise NotFound(f"badge {badge_id} is not registered")
        return live

    def attach(self, live: BadgeLive, link: BadgeLink) -> None:
        """A new Connect stream for ``live``; an older one (a half-dead connection) is closed."""
        if live.link is not None:
            live.link.close()
        live.link = link
        # The claim goes before any resolve below, so the row's open signal-lost is cleared once.
        self.streams.attached(live, knew_lost=live.signal_lost)
        self.commands.connected(live)
        self.touch(live)

    def detach(self, live: BadgeLive, link: BadgeLink) -> None:
        link.close()
        if live.link is link:
            live.link = None
            self._released.add(live.badge_id)
            self.streams.detached(live)
            self.changed(live)
        self.commands.disconnected(live, link)

    def touch(self, live: BadgeLive) -> None:
        live.last_seen = time.time()
        if live.signal_lost:
            self.rules.on_message(live, live.last_seen)
            self._restored(live)

    def _restored(self, live: BadgeLive) -> None:
        self.streams.restored(live)
        self.changed(live)

    def ingest(self, live: BadgeLive, report: badge_pb2.TelemetryReport) -> None:
        """One report from the badge: dedupe, latest state, rules; stored by the writer."""
        now = time.time()
        live.last_seen = now
        self.stats["reports"] += 1
        if not live.accept_seq(report.seq):
            self.stats["duplicates"] += 1
            if live.link is not None:
                live.link.resend_ack()
            return
        if len(self._buffer) >= MAX_BUFFERED:
            raise ResourceExhausted("telemetry store is behind; retry later")
        device_ts = report.device_time.seconds + report.device_time.nanos / 1e9
        is_latest = device_ts >= live.last_device_ts
        data = report.SerializeToString()
        if is_latest:
            live.set_last_report(data, report.recording, device_ts)
        self._buffer.append((live, report.seq, data, device_ts, now, live.received_hwm))
        lost = live.signal_lost
        self.rules.on_report(live, report, is_latest, now)
        if lost and not live.signal_lost:
            self._restored(live)
        elif is_latest:
            self.changed(live)

    async def send_command(self, live: BadgeLive, command: badge_pb2.BadgeCommand) -> bool:
        """Store ``command`` for the badge; True when some replica holds its stream now."""
        return await self.commands.submit(live, command)

    def command_result(self, live: BadgeLive, result: badge_pb2.CommandResult) -> None:
        self.touch(live)
        self.commands.result(live, result)

    async def wait_acked(self, live: BadgeLive, seq: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while live.acked_seq < seq:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(self.settings.history_flush_ms / 1000)
        return True

    def changed(self, live: BadgeLive) -> None:
        self._dirty.add(live.badge_id)
        for watcher in self._watchers:
            if watcher.matches(live):
                watcher.dirty[live.badge_id] = None
                watcher.wake.set()

    # -- readers -----------------------------------------------------------------------------

    def states(self, agency_id: str, unit_id: str = "", connected_only: bool = False) -> list[BadgeLive]:
        return sorted(
            (
                live
                for live in self.badges.values()
                if live.agency_id == agency_id
                and (not unit_id or live.unit_id == unit_id)
                and (not connected_only or live.connected)
            ),
            key=lambda live: live.badge_id,
        )

    @contextlib.contextmanager
    def watch(self, agency_id: str, unit_id: str) -> Iterator[Watcher]:
        watcher = Watcher(agency_id, unit_id)
        self._watchers.append(watcher)
        try:
            yield watcher
        finally:
            self._watchers.remove(watcher)

    # -- background tasks --------------------------------------------------------------------

    async def _follow(self, since: datetime) -> None:
        while True:
            await asyncio.sleep(self.settings.replica_poll_s)
            started = utcnow()
            try:
                self.apply(await self.database.run(read_changes, since, self.streams.replica_id))
                since = started
            except Exception:
                log.exception("reading registry changes of other replicas failed; retrying")

    async def _writer(self) -> None:
        interval = self.settings.history_flush_ms / 1000
        while True:
            await asyncio.sleep(interval)
            try:
                await self._write_history()
            except Exception:
                self.stats["write_errors"] += 1
                log.exception("telemetry history write failed; reports stay buffered and unacknowledged")
                await asyncio.sleep(min(1.0, interval * 10))

    async def _write_history(self) -> None:
        while self._buffer:
            batch = self._buffer[: self.settings.history_batch_max]
            # Every seq up to a row's hwm arrived no later than that row, so it is in this batch or
            # an earlier one: once the batch commits it is all stored.
            marks = {live.badge_id: (live, hwm) for live, _, _, _, _, hwm in batch}
            async with self._write_turn:
                await asyncio.to_thread(self._insert_rows, batch)
            del self._buffer[: len(batch)]
            self.stats["written"] += len(batch)
            for live, hwm in marks.values():
                if hwm > live.acked_seq:
                    live.acked_seq = hwm
                    if live.link is not None:
                        live.link.send_ack(hwm)

    def _insert_rows(self, batch: list[tuple[BadgeLive, int, bytes, float, float, int]]) -> None:
        rows = [
            (live.badge_id, seq, int(device_ts * 1e6), int(received * 1e6), data)
            for live, seq, data, device_ts, received, _ in batch
        ]
        with self.database.engine.begin() as connection:
            self._insert_history.execute(connection, rows)

    async def _checkpointer(self) -> None:
        """The WAL is checkpointed here, off the writers' commits (Database own_checkpoints)."""
        while True:
            await asyncio.sleep(CHECKPOINT_INTERVAL_S)
            try:
                await asyncio.to_thread(self.database.checkpoint)
            except Exception:
                log.exception("WAL checkpoint failed; retrying")

    async def _state_writer(self) -> None:
        while True:
            await asyncio.sleep(self.settings.state_flush_s)
            try:
                await self._write_states()
            except Exception:
                log.exception("badge state write failed; retrying")

    async def _write_states(self) -> None:
        if not self._dirty:
            return
        dirty, self._dirty = list(self._dirty), set()
        # In slices, handing the loop back between them: with 10,000 badges one pass builds
        # 10,000 messages, which at once would hold every report's ack for ~100 ms.
        for start in range(0, len(dirty), STATE_SLICE):
            chunk = dirty[start : start + STATE_SLICE]
            rows = [self._state_row(self.badges[b]) for b in chunk if self._writes_state(b)]
            if not rows:
                continue
            try:
                async with self._write_turn:
                    await asyncio.to_thread(self._upsert_states, rows)
            except Exception:
                self._dirty.update(dirty[start:])
                raise
            # Room for the history writer's transactions (SQLite has one writer at a time).
            await asyncio.sleep(STATE_SLICE_PAUSE_S)

    def _writes_state(self, badge_id: str) -> bool:
        """The latest-state row is written by the replica that has the badge's stream (or just had)."""
        live = self.badges.get(badge_id)
        if live is None:
            return False
        if live.link is None and badge_id in self._released:
            self._released.discard(badge_id)
            return True
        return live.link is not None

    def _state_row(self, live: BadgeLive) -> tuple[Any, ...]:
        last_seen = datetime.fromtimestamp(live.last_seen, UTC) if live.last_seen else None
        return (
            live.badge_id,
            live.agency_id,
            live.acked_seq,
            self._bind_time(last_seen),
            live.to_proto().SerializeToString(),
        )

    def _upsert_states(self, rows: list[tuple[Any, ...]]) -> None:
        with self.database.engine.begin() as connection:
            self._upsert_state.execute(connection, rows)

    async def _supervisor(self) -> None:
        while True:
            await asyncio.sleep(self.settings.supervisor_interval_s)
            # Badges connected here are judged here; the others by the leader alone, unless
            # another replica holds them.
            leading = self.leading()
            held_elsewhere = self.streams.held_elsewhere
            badges = [
                live
                for live in self.badges.values()
                if live.link is not None or (leading and live.badge_id not in held_elsewhere)
            ]
            for start in range(0, len(badges), STATE_SLICE):
                if start:
                    await asyncio.sleep(0)  # the same slicing as the state writer, for the same reason
                now = time.time()
                for live in badges[start : start + STATE_SLICE]:
                    recording = live.recording_alert_open
                    self.rules.on_tick(live, now)
                    if recording != live.recording_alert_open:
                        self.changed(live)

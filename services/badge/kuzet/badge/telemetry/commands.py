"""Commands to badges at N replicas: stored, sent by whichever replica holds the badge's stream.

SendCommand on any replica stores the command as pending and, on PostgreSQL, NOTIFYs the badge
id so that the holder sends it at once; every replica also polls the pending commands for the
badges connected to it (the only way on SQLite, and the catch-up after a missed notification).
A command goes out once per stream and stays pending until the badge's CommandResult: a badge
that reconnects to another replica (its holder died or the connection broke) gets it again there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from kuzet.badge.config import BadgeSettings
from kuzet.badge.models import CommandRow, StreamHolderRow
from kuzet.badge.telemetry.link import BadgeLink
from kuzet.badge.telemetry.live import BadgeLive
from kuzet.badge.v1 import badge_pb2
from kuzet.common.db import Database
from kuzet.common.pglisten import listen
from kuzet.common.waiting import wait_set

log = logging.getLogger(__name__)

CHANNEL = "kuzet_badge_commands"
# How often commands past their time to live stop being pending.
EXPIRY_SWEEP_S = 60.0


def _now_us() -> int:
    return int(time.time() * 1_000_000)


class CommandRouter:
    def __init__(self, settings: BadgeSettings, database: Database, badges: dict[str, BadgeLive]) -> None:
        self.settings = settings
        self.database = database
        self.badges = badges
        # Per badge: the stream the ids were sent (and answered) on; a new stream starts with none.
        self._sent: dict[str, tuple[BadgeLink, set[str]]] = {}
        self._wanted: set[str] = set()
        self._results: list[tuple[str, badge_pb2.CommandResult]] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.stats = {"sent": 0, "acknowledged": 0, "errors": 0}
        # The last database pass worked, and (PostgreSQL) the NOTIFY listener is connected.
        self.healthy = True
        self.listening = database.is_sqlite

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run(), name="badge-command-router")]
        if not self.database.is_sqlite:
            self._tasks.append(
                asyncio.create_task(
                    listen(self.database.url, CHANNEL, self._notified, on_connected=self._listening),
                    name="badge-command-listen",
                )
            )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        with contextlib.suppress(Exception):
            await self._write_results()

    # -- inputs ------------------------------------------------------------------------------

    async def submit(self, live: BadgeLive, command: badge_pb2.BadgeCommand) -> bool:
        """Store ``command`` for ``live``'s badge and send it if its stream is here.

        True when some replica holds the badge's stream now (it will have it within a poll).
        """
        now = _now_us()
        row = CommandRow(
            command_id=command.command_id,
            badge_id=live.badge_id,
            agency_id=live.agency_id,
            payload=command.SerializeToString(),
            created_at_us=now,
            expires_at_us=now + int(self.settings.command_ttl_s * 1_000_000),
            pending=True,
            result_message="",
        )

        def work(session: Session) -> bool:
            session.add(row)
            if not self.database.is_sqlite:
                session.execute(text("SELECT pg_notify(:c, :p)"), {"c": CHANNEL, "p": live.badge_id})
            holder = session.get(StreamHolderRow, live.badge_id)
            return holder is not None and holder.expires_at_us > now

        held_elsewhere = await self.database.run(work)
        self._send(live, [command])
        return live.link is not None or held_elsewhere

    def connected(self, live: BadgeLive) -> None:
        """A stream opened here: send what the badge has not acknowledged."""
        self._wanted.add(live.badge_id)
        self._wake.set()

    def disconnected(self, live: BadgeLive, link: BadgeLink) -> None:
        entry = self._sent.get(live.badge_id)
        if entry is not None and entry[0] is link:
            del self._sent[live.badge_id]

    def result(self, live: BadgeLive, result: badge_pb2.CommandResult) -> None:
        """The badge answered a command: it is no longer pending, on any replica."""
        # The id stays in the stream's sent set: a delivery pass that read the command as pending
        # before this result was written must not send it again on the same stream.
        self._results.append((live.badge_id, result))
        self._wake.set()

    def _listening(self, connected: bool) -> None:
        self.listening = connected

    def _notified(self, badge_id: str) -> None:
        live = self.badges.get(badge_id)
        if live is not None and live.link is not None:
            self._wanted.add(badge_id)
            self._wake.set()

    # -- delivery ----------------------------------------------------------------------------

    def _send(self, live: BadgeLive, commands: Iterable[badge_pb2.BadgeCommand]) -> None:
        link = live.link
        if link is None:
            return
        entry = self._sent.get(live.badge_id)
        if entry is None or entry[0] is not link:
            entry = self._sent[live.badge_id] = (link, set())
        for command in commands:
            if command.command_id not in entry[1]:
                entry[1].add(command.command_id)
                link.send_command(command)
                self.stats["sent"] += 1

    async def _run(self) -> None:
        poll_s = self.settings.replica_poll_s
        next_poll = next_sweep = 0.0
        while True:
            await wait_set(self._wake, max(0.0, next_poll - time.monotonic()))
            self._wake.clear()
            try:
                await self._write_results()
                now = time.monotonic()
                if now >= next_sweep:
                    await self.database.run(self._expire)
                    next_sweep = now + EXPIRY_SWEEP_S
                if now >= next_poll:
                    self._wanted.clear()
                    await self._deliver(None)
                    next_poll = now + poll_s
                elif self._wanted:
                    wanted, self._wanted = self._wanted, set()
                    await self._deliver(wanted)
                self.healthy = True
            except Exception:
                self.healthy = False
                self.stats["errors"] += 1
                log.exception("badge commands: database pass failed; retrying in %.1f s", poll_s)
                next_poll = time.monotonic() + poll_s
                await asyncio.sleep(poll_s)

    async def _deliver(self, badge_ids: set[str] | None) -> None:
        """Send pending commands of ``badge_ids`` (None: of every badge connected here)."""
        if badge_ids is None and not any(live.link is not None for live in self.badges.values()):
            return
        now = _now_us()

        def read(session: Session) -> list[tuple[str, bytes]]:
            query = select(CommandRow.badge_id, CommandRow.payload).where(
                CommandRow.pending.is_(True), CommandRow.expires_at_us > now
            )
            if badge_ids is not None:
                query = query.where(CommandRow.badge_id.in_(badge_ids))
            return [(b, p) for b, p in session.execute(query.order_by(CommandRow.created_at_us))]

        for badge_id, payload in await self.database.run(read):
            live = self.badges.get(badge_id)
            if live is not None and live.link is not None:
                self._send(live, [badge_pb2.BadgeCommand.FromString(payload)])

    async def _write_results(self) -> None:
        if not self._results:
            return
        results, self._results = self._results, []
        now = _now_us()

        def write(session: Session) -> None:
            for badge_id, result in results:
                session.execute(
                    update(CommandRow)
                    .where(
                        CommandRow.command_id == result.command_id,
                        CommandRow.badge_id == badge_id,
                        CommandRow.pending.is_(True),
                    )
                    .values(
                        pending=False,
                        acked_at_us=now,
                        result_ok=result.ok,
                        result_message=result.message[:1000],
                    )
                )

        try:
            await self.database.run(write)
        except Exception:
            self._results[:0] = results
            raise
        self.stats["acknowledged"] += len(results)

    @staticmethod
    def _expire(session: Session) -> None:
        session.execute(
            update(CommandRow)
            .where(CommandRow.pending.is_(True), CommandRow.expires_at_us <= _now_us())
            .values(pending=False)
        )

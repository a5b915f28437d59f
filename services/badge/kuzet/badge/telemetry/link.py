"""The server side of one badge's Connect stream: what is waiting to be sent to the badge.

The hub only sees the BadgeLink protocol. QueuedLink serves a grpc.aio stream (messages wait for
the servicer's generator); wire.WireLink writes straight onto the device port's HTTP/2 stream.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Protocol

from kuzet.badge.v1 import badge_pb2


class BadgeLink(Protocol):
    badge_id: str

    def send_ack(self, seq: int) -> None:
        """Everything up to ``seq`` is stored. Only an ack past the last one goes out."""

    def resend_ack(self) -> None:
        """A duplicate arrived: the badge missed an ack, so send the current one again."""

    def send_command(self, command: badge_pb2.BadgeCommand) -> None: ...

    def close(self, error: Exception | None = None) -> None:
        """End the stream: OK after what is queued, or with ``error``'s status."""


class QueuedLink:
    """Outgoing messages of one stream. Acks coalesce (only the newest matters), commands queue."""

    __slots__ = ("_ack", "_ack_due", "_commands", "_wake", "badge_id", "closed", "error")

    def __init__(self, badge_id: str, acked_seq: int = 0) -> None:
        self.badge_id = badge_id
        # What Welcome told the badge; later acks only go out when they move past it.
        self._ack = acked_seq
        self._ack_due = False
        self._commands: deque[badge_pb2.BadgeCommand] = deque()
        self._wake = asyncio.Event()
        self.closed = False
        self.error: Exception | None = None

    def send_ack(self, seq: int) -> None:
        if seq > self._ack:
            self._ack = seq
            self._ack_due = True
            self._wake.set()

    def resend_ack(self) -> None:
        if self._ack:
            self._ack_due = True
            self._wake.set()

    def send_command(self, command: badge_pb2.BadgeCommand) -> None:
        self._commands.append(command)
        self._wake.set()

    def close(self, error: Exception | None = None) -> None:
        self.closed = True
        self.error = self.error or error
        self._wake.set()

    async def outgoing(self) -> AsyncIterator[badge_pb2.ConnectResponse]:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._commands:
                yield badge_pb2.ConnectResponse(command=self._commands.popleft())
            if self._ack_due:
                self._ack_due = False
                yield badge_pb2.ConnectResponse(ack=badge_pb2.Ack(up_to_seq=self._ack))
            # An ack or command that came in while a yield was suspended goes out first.
            if self.closed and not self._ack_due and not self._commands:
                if self.error is not None:
                    raise self.error
                return

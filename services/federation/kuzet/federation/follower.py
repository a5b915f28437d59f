"""Facility side: every update of this release's alerting into the facility's own alerts stream.

The stream lives on the facility's NATS server, so this works while the WAN link is down; the
hub sources the stream when the link is up. The follower keeps no state of its own: the last
message of the stream carries the alerting cursor it came from, and a restarted follower resumes
the alerting update log right after it. What it may send twice after a crash is folded by the
stream's de-duplication (message id = site, alert id and cursor).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import grpc
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from kuzet.alerting.v1 import alerting_pb2, alerting_pb2_grpc
from kuzet.common.waiting import within
from kuzet.federation import streams

log = logging.getLogger(__name__)

# Updates per Subscribe message; also how many stream writes are in flight at once.
BATCH = 500
ACK_TIMEOUT_S = 30.0


class AlertFollower:
    def __init__(
        self,
        alerting: grpc.aio.Channel,
        js: JetStreamContext,
        site: str,
        *,
        retry_s: float = 1.0,
    ) -> None:
        self.alerting = alerting_pb2_grpc.AlertingServiceStub(alerting)
        self.js = js
        self.site = site
        self.subject = streams.alerts_subject(site)
        self.retry_s = retry_s
        # The alerting cursor of the last update the stream has acknowledged.
        self.cursor = 0

    async def resume_point(self) -> int:
        """The cursor the stream already holds (0 for an empty stream)."""
        try:
            last = await self.js.get_last_msg(streams.ALERTS, self.subject)
        except NotFoundError:
            return 0
        return int((last.headers or {}).get(streams.CURSOR_HEADER, "0"))

    async def run(self) -> None:
        """Follow until cancelled; a failure of either end is logged and retried from the stream's cursor."""
        while True:
            try:
                self.cursor = await self.resume_point()
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # alerting restarting, the local NATS server restarting
                reason = (
                    f"{exc.code().name}: {exc.details()}"
                    if isinstance(exc, grpc.aio.AioRpcError)
                    else repr(exc)
                )
                log.warning(
                    "alert follower of %s: %s; resuming after cursor %d", self.site, reason, self.cursor
                )
                await asyncio.sleep(self.retry_s)

    async def _follow(self) -> None:
        request = alerting_pb2.SubscribeRequest(after_cursor=self.cursor, max_batch=BATCH)
        async for response in self.alerting.Subscribe(request):
            kind = response.WhichOneof("payload")
            if kind == "update":
                await self._write([response.update])
            elif kind == "batch":
                await self._write(response.batch.updates)

    async def _write(self, updates: Sequence[alerting_pb2.AlertUpdate]) -> None:
        # Published without waiting one by one, in order on one connection; all acknowledged
        # before the cursor moves, so a failure re-sends from the first unconfirmed update.
        acks = [
            await self.js.publish_async(
                self.subject,
                update.SerializeToString(),
                headers={
                    streams.MSG_ID_HEADER: streams.alert_msg_id(
                        self.site, update.alert.alert_id, update.cursor
                    ),
                    streams.CURSOR_HEADER: str(update.cursor),
                },
            )
            for update in updates
        ]
        # A connection lost mid-batch leaves acknowledgements that never come: give up on the batch
        # and resume from what the stream holds.
        await within(ACK_TIMEOUT_S, asyncio.gather(*acks))
        self.cursor = updates[-1].cursor

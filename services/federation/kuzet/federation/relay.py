"""Hub side: the facilities' alert updates, sourced into the hub's alerts stream, into the hub's alerting.

One durable pull consumer per facility reads that facility's subject in order (order matters
within a facility only, so the facilities' batches reach the hub's alerting side by side, and it
commits them together); each batch goes to the hub's alerting in one ``PublishBatch`` (the next
batch is fetched and decoded meanwhile) and is acknowledged (all at once: the consumer
acknowledges everything up to the last message) only after alerting answered, so an outage of
the hub's alerting delays the roll-up and loses nothing. An update redelivered after a crash is
the same event id at alerting, which folds it (DUPLICATE). Acknowledgements and escalations stay
facility business and in the stream.

A created or updated alert is an occurrence, and its hub event is named by the facility's event
id of that occurrence (the alert's latest), not by the update: an update that only gave the
occurrence later media (the clip that covers the seconds after it, an ``amends`` event at the
facility) is then DUPLICATE at the hub, which counts occurrences as the facility does and keeps
the first clip's key (both name objects in the facility's store). A resolution has no event of
its own and is named by the update.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence

import grpc
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from kuzet.alerting.v1 import alerting_pb2, alerting_pb2_grpc
from kuzet.common.v1 import common_pb2
from kuzet.federation import streams

log = logging.getLogger(__name__)

DURABLE_PREFIX = "hub-alerting-"
# Hub event ids are names in this namespace: the same facility update is always the same event.
EVENT_NAMESPACE = uuid.UUID("4f1c1f4e-3a51-4d0e-9a55-6b7a0f3c2e61")
_PUBLISHED = frozenset({alerting_pb2.ALERT_UPDATE_KIND_CREATED, alerting_pb2.ALERT_UPDATE_KIND_UPDATED})


def event_id(site: str, alert_id: str, cursor: int) -> str:
    """The hub event of one facility update."""
    return str(uuid.uuid5(EVENT_NAMESPACE, streams.alert_msg_id(site, alert_id, cursor)))


def occurrence_id(site: str, facility_event_id: str) -> str:
    """The hub event of one facility occurrence, however many updates carried it."""
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{site}/event/{facility_event_id}"))


def durable(site: str) -> str:
    """The hub's consumer of one facility's alerts."""
    return f"{DURABLE_PREFIX}{site}"


def site_of(subject: str) -> str:
    """``kuzet.fed.<site>.alerts`` -> ``<site>``."""
    return subject.split(".")[2]


def hub_event(site: str, update: alerting_pb2.AlertUpdate) -> common_pb2.Event | None:
    """The event the hub's alerting gets for one facility update; None for facility-only updates."""
    if update.kind not in _PUBLISHED and update.kind != alerting_pb2.ALERT_UPDATE_KIND_RESOLVED:
        return None
    alert = update.alert
    latest = alert.latest
    source = common_pb2.Source()
    source.CopyFrom(alert.source)
    if not source.site_id:
        source.site_id = site
    occurrence = update.kind in _PUBLISHED and latest.event_id
    event = common_pb2.Event(
        event_id=occurrence_id(site, latest.event_id)
        if occurrence
        else event_id(site, alert.alert_id, update.cursor),
        agency_id=alert.agency_id,
        type=alert.type,
        source=source,
        rule_id=alert.rule_id,
        subject=alert.subject,
        severity=alert.severity,
        zone_id=alert.zone_id,
        summary=alert.summary,
        resolves=update.kind == alerting_pb2.ALERT_UPDATE_KIND_RESOLVED,
    )
    if latest.HasField("occurred_at"):
        event.occurred_at.CopyFrom(latest.occurred_at)
    if latest.HasField("location"):
        event.location.CopyFrom(latest.location)
    # Snapshot and clip keys name objects in the facility's store: kept for the record, and for
    # an operator who opens them at the facility.
    for name in ("snapshot", "clip"):
        if latest.HasField(name):
            getattr(event, name).CopyFrom(getattr(latest, name))
    event.track_ids.extend(latest.track_ids)
    event.boxes.extend(latest.boxes)
    event.attributes.CopyFrom(latest.attributes)
    event.attributes.update(
        {"federation_site": site, "facility_alert_id": alert.alert_id, "facility_cursor": str(update.cursor)}
    )
    return event


class AlertRelay:
    def __init__(
        self,
        alerting: grpc.aio.Channel,
        js: JetStreamContext,
        sites: list[str],
        *,
        batch: int = 1000,
        wait_s: float = 0.05,
        retry_s: float = 1.0,
    ) -> None:
        self.alerting = alerting_pb2_grpc.AlertingServiceStub(alerting)
        self.js = js
        self.sites = sites
        self.batch = batch
        self.wait_s = wait_s
        self.retry_s = retry_s

    async def _subscription(self, site: str) -> JetStreamContext.PullSubscription:
        await self.js.add_consumer(
            streams.ALERTS,
            ConsumerConfig(
                durable_name=durable(site),
                filter_subject=streams.alerts_subject(site),
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.ALL,
                # At most the batch being committed and the one fetched behind it: after a crash
                # nothing newer is handed out before those two come back (after ack_wait), so
                # the hub still gets the facility's order. Redelivered copies of a batch that did
                # reach alerting are DUPLICATE there.
                ack_wait=30.0,
                max_ack_pending=2 * self.batch,
            ),
        )
        return await self.js.pull_subscribe_bind(durable=durable(site), stream=streams.ALERTS)

    async def run(self) -> None:
        await asyncio.gather(*(self._relay(site) for site in self.sites))

    async def _relay(self, site: str) -> None:
        """One facility's alerts, batch by batch, until cancelled."""
        while True:
            committing: asyncio.Task[None] | None = None
            try:
                subscription = await self._subscription(site)
                # What was fetched (and decoded: None for facility-only updates) while the
                # previous batch was being committed: one fetch returns what arrives within
                # ``wait_s`` (a lone alert must not wait), so a batch is gathered from as many
                # fetches as one commit takes, and is ready the moment that commit is done.
                gathered: list[tuple[Msg, common_pb2.Event | None]] = []
                while True:
                    if len(gathered) < self.batch:
                        with contextlib.suppress(TimeoutError):  # nats' own, or asyncio's
                            # May return more than asked: what an earlier fetch left behind.
                            fetched = await subscription.fetch(
                                self.batch - len(gathered), timeout=self.wait_s
                            )
                            gathered.extend(self._decoded(fetched))
                    if not gathered:
                        continue
                    if committing is not None and not committing.done() and len(gathered) < self.batch:
                        continue
                    # One batch of a facility at a time at alerting, in stream order.
                    if committing is not None:
                        await committing
                    batch, gathered = gathered[: self.batch], gathered[self.batch :]
                    events = [event for _, event in batch if event is not None]
                    committing = asyncio.create_task(self._commit(events, batch[-1][0]))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the hub's NATS server restarting
                log.warning("alert relay of %s: %r; retrying", site, exc)
                await asyncio.sleep(self.retry_s)
            finally:
                if committing is not None and not committing.done():
                    committing.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await committing

    @staticmethod
    def _decoded(messages: Sequence[Msg]) -> list[tuple[Msg, common_pb2.Event | None]]:
        return [
            (message, hub_event(site_of(message.subject), alerting_pb2.AlertUpdate.FromString(message.data)))
            for message in messages
        ]

    async def _commit(self, events: list[common_pb2.Event], last: Msg) -> None:
        """Publish ``events`` until the hub's alerting answers, then acknowledge up to ``last``."""
        if events:
            await self._publish(alerting_pb2.PublishBatchRequest(events=events))
        await last.ack()

    async def _publish(self, request: alerting_pb2.PublishBatchRequest) -> None:
        while True:
            try:
                response = await self.alerting.PublishBatch(request, timeout=30)
                break
            except grpc.aio.AioRpcError as exc:
                log.warning(
                    "hub alerting refused a batch of %d (%s: %s); retrying",
                    len(request.events),
                    exc.code().name,
                    exc.details(),
                )
                await asyncio.sleep(self.retry_s)
        for result in response.results:
            if result.disposition == alerting_pb2.PUBLISH_DISPOSITION_REJECTED:
                log.error("hub alerting rejected federated event %s: %s", result.event_id, result.error)

"""What a Connect stream means, whichever transport carries it (grpc.aio or the device port)."""

from __future__ import annotations

import logging

from kuzet.badge import convert
from kuzet.badge.config import BadgeSettings
from kuzet.badge.telemetry.hub import TelemetryHub
from kuzet.badge.telemetry.link import BadgeLink
from kuzet.badge.telemetry.live import BadgeLive
from kuzet.badge.v1 import badge_pb2
from kuzet.common.caller import Caller
from kuzet.common.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from kuzet.common.timeutil import to_timestamp, utcnow

log = logging.getLogger(__name__)
A = badge_pb2


def check_report(report: badge_pb2.TelemetryReport) -> None:
    if report.seq < 1:
        raise InvalidArgument("report seq must start at 1")
    if not report.HasField("device_time"):
        raise InvalidArgument(f"report {report.seq} has no device_time")
    if report.HasField("position"):
        convert.check_position(report.position)
    if not 0.0 <= report.battery_percent <= 100.0:
        raise InvalidArgument(f"report {report.seq}: battery_percent must be 0..100")


class ConnectSessions:
    def __init__(self, settings: BadgeSettings, hub: TelemetryHub) -> None:
        self.settings = settings
        self.hub = hub

    def open(self, caller: Caller, first: badge_pb2.ConnectRequest | None) -> BadgeLive:
        """Check the stream's hello: the badge exists, the caller may speak for it, it is in service."""
        if first is None or first.WhichOneof("payload") != "hello":
            raise InvalidArgument("the first Connect message must be hello")
        live = self.hub.live_for(caller, first.hello.badge_id)
        if caller.subject.startswith("badge:") and caller.subject != f"badge:{live.badge_id}":
            raise PermissionDenied(f"{caller.subject} may not speak for badge {live.badge_id}")
        if live.status == A.BADGE_STATUS_RETIRED:
            raise FailedPrecondition(f"badge {live.badge_id} is retired")
        return live

    def welcome(self, live: BadgeLive) -> badge_pb2.ConnectResponse:
        return A.ConnectResponse(
            welcome=A.Welcome(
                acked_seq=live.acked_seq,
                server_time=to_timestamp(utcnow()),
                settings=A.BadgeSettings(
                    report_interval_s=self.settings.report_interval_s, record_on_panic=True
                ),
            )
        )

    def receive(self, live: BadgeLive, message: badge_pb2.ConnectRequest) -> None:
        kind = message.WhichOneof("payload")
        if kind == "report":
            check_report(message.report)
            self.hub.ingest(live, message.report)
        elif kind == "heartbeat":
            self.hub.touch(live)
        elif kind == "command_result":
            result = message.command_result
            self.hub.command_result(live, result)
            log.info(
                "badge %s command %s: %s %s",
                live.badge_id,
                result.command_id,
                "ok" if result.ok else "failed",
                result.message,
                extra={"agency": live.agency_id},
            )
        else:
            raise InvalidArgument("hello may only be sent once per stream")

    async def goodbye(self, live: BadgeLive, link: BadgeLink) -> None:
        """The badge closed its side: let it leave with everything it sent acknowledged."""
        if not await self.hub.wait_acked(live, live.received_hwm, timeout_s=5.0):
            log.warning(
                "badge %s left before its last reports were stored",
                live.badge_id,
                extra={"agency": live.agency_id},
            )
        link.close()

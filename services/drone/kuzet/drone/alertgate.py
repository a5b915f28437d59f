"""The check a dispatch that answers an alert must pass: no flight follows an unconfirmed face match.

A face_match_candidate alert names nobody and may not be acted on; once the required reviewers
confirm the match, identity publishes a face_match_confirmed alert, and the pilot dispatches on
that one (ARCHITECTURE "Safeguards": no automatic action follows an unconfirmed match).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import grpc

from kuzet.alerting.v1 import alerting_pb2, alerting_pb2_grpc
from kuzet.common.caller import caller_metadata, service_caller
from kuzet.common.errors import FailedPrecondition, Unavailable
from kuzet.common.events import CONFIRMED_BY

# (alert_id, agency) -> the alert as alerting has it; raises grpc.aio.AioRpcError.
AlertLookup = Callable[[str, str], Awaitable[alerting_pb2.Alert]]


def alerting_lookup(channel: grpc.aio.Channel, timeout_s: float = 5.0) -> AlertLookup:
    stub = alerting_pb2_grpc.AlertingServiceStub(channel)

    async def get(alert_id: str, agency: str) -> alerting_pb2.Alert:
        # On behalf of the plan's agency: alerting shows a service the alerts of that agency only.
        who = caller_metadata(service_caller("drone", agency=agency), audience="alerting")
        response = await stub.GetAlert(
            alerting_pb2.GetAlertRequest(alert_id=alert_id), metadata=who, timeout=timeout_s
        )
        return response.alert

    return get


async def require_actionable(lookup: AlertLookup, alert_id: str, agency: str) -> None:
    """FAILED_PRECONDITION unless ``alert_id`` is an alert of ``agency`` that may lead to action."""
    try:
        alert = await lookup(alert_id, agency)
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            raise FailedPrecondition(
                f"the plan answers alert {alert_id}, but agency {agency} has no such alert"
            ) from None
        raise Unavailable(
            f"cannot check alert {alert_id} that the plan answers (alerting: {exc.code().name}); "
            "retry shortly"
        ) from None
    if alert.agency_id != agency:
        raise FailedPrecondition(f"alert {alert_id} belongs to another agency; plan against your own alert")
    if alert.type in CONFIRMED_BY:
        raise FailedPrecondition(
            f"alert {alert_id} is an unconfirmed {alert.type}: no flight follows a face match before "
            f"the required reviewers confirm it; dispatch on its {CONFIRMED_BY[alert.type]} alert then"
        )

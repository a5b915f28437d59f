"""Reading stored telemetry, ordered by device time (late and out-of-order reports in place)."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.badge.models import TelemetryRow
from kuzet.badge.v1 import badge_pb2
from kuzet.common.db import Database
from kuzet.common.paging import Keyset, Paging
from kuzet.common.v1 import common_pb2

PAGING = Paging(default=1000, maximum=5000, clamp=True)
# Device time, then the badge's own sequence number for reports of the same microsecond.
KEYS = Keyset("badge.telemetry", TelemetryRow.device_time_us, TelemetryRow.seq)


def _us(value: datetime) -> int:
    return int(value.timestamp() * 1_000_000)


async def read_history(
    database: Database,
    badge_id: str,
    since: datetime | None,
    until: datetime | None,
    page: common_pb2.PageRequest,
) -> badge_pb2.GetTelemetryHistoryResponse:
    size = PAGING.size(page)
    after = KEYS.after(page.page_token)

    def read(session: Session) -> badge_pb2.GetTelemetryHistoryResponse:
        query = select(TelemetryRow).where(TelemetryRow.badge_id == badge_id)
        if since is not None:
            query = query.where(TelemetryRow.device_time_us >= _us(since))
        if until is not None:
            query = query.where(TelemetryRow.device_time_us < _us(until))
        rows, token = KEYS.page(session.scalars(KEYS.query(query, after, size)).all(), size)
        response = badge_pb2.GetTelemetryHistoryResponse()
        response.page.next_page_token = token
        for row in rows:
            received = Timestamp()
            received.FromMicroseconds(row.received_at_us)
            response.records.append(
                badge_pb2.TelemetryRecord(
                    badge_id=row.badge_id,
                    report=badge_pb2.TelemetryReport.FromString(row.payload),
                    received_at=received,
                )
            )
        return response

    return await database.run(read)

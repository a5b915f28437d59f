"""Reading stored telemetry, ordered by device time (late and out-of-order reports in place)."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from kuzet.badge.models import TelemetryRow
from kuzet.badge.v1 import badge_pb2
from kuzet.common.db import Database
from kuzet.common.errors import InvalidArgument
from kuzet.common.v1 import common_pb2

MAX_PAGE = 5000


def _us(value: datetime) -> int:
    return int(value.timestamp() * 1_000_000)


async def read_history(
    database: Database,
    badge_id: str,
    since: datetime | None,
    until: datetime | None,
    page: common_pb2.PageRequest,
) -> badge_pb2.GetTelemetryHistoryResponse:
    size = min(page.page_size or 1000, MAX_PAGE)
    after: tuple[int, int] | None = None
    if page.page_token:
        try:
            time_us, seq = (int(part) for part in page.page_token.split(":"))
        except ValueError:
            raise InvalidArgument("page_token is not one this service issued") from None
        after = (time_us, seq)

    def read(session: Session) -> badge_pb2.GetTelemetryHistoryResponse:
        query = select(TelemetryRow).where(TelemetryRow.badge_id == badge_id)
        if since is not None:
            query = query.where(TelemetryRow.device_time_us >= _us(since))
        if until is not None:
            query = query.where(TelemetryRow.device_time_us < _us(until))
        if after is not None:
            query = query.where(tuple_(TelemetryRow.device_time_us, TelemetryRow.seq) > after)
        rows = list(
            session.scalars(query.order_by(TelemetryRow.device_time_us, TelemetryRow.seq).limit(size + 1))
        )
        response = badge_pb2.GetTelemetryHistoryResponse()
        for row in rows[:size]:
            received = Timestamp()
            received.FromMicroseconds(row.received_at_us)
            response.records.append(
                badge_pb2.TelemetryRecord(
                    badge_id=row.badge_id,
                    report=badge_pb2.TelemetryReport.FromString(row.payload),
                    received_at=received,
                )
            )
        if len(rows) > size:
            last = rows[size - 1]
            response.page.next_page_token = f"{last.device_time_us}:{last.seq}"
        return response

    return await database.run(read)

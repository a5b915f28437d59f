"""The period a statistics request covers, and the month (in its time zone) a stored time falls in.

Months are worked out here and handed to the database as UTC bounds in one CASE expression, so
counting groups in SQL on SQLite and PostgreSQL alike (neither shares the other's time-zone
functions) and uses the (agency, time) indexes. The statistics of badge (citations, integrity
reports) and drone (flight hours) share these rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import ColumnElement, case

from kuzet.common.errors import InvalidArgument
from kuzet.common.timeutil import from_timestamp

MAX_SPAN = timedelta(days=1830)


@dataclass(frozen=True)
class Period:
    since: datetime
    until: datetime
    zone: ZoneInfo

    def months(self) -> list[tuple[str, datetime]]:
        """Each month the period touches, YYYY-MM, with the UTC time it ends (the last at until)."""
        found: list[tuple[str, datetime]] = []
        local = self.since.astimezone(self.zone)
        while True:
            first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            following = first.replace(year=first.year + first.month // 12, month=first.month % 12 + 1)
            end = min(following.astimezone(UTC), self.until)
            found.append((first.strftime("%Y-%m"), end))
            if end >= self.until:
                return found
            local = following

    def month_of(self, column: Any) -> ColumnElement[str]:
        """YYYY-MM of ``column`` (a time within the period) as SQL."""
        months = self.months()
        return case(*[(column < end, month) for month, end in months], else_=months[-1][0])

    def contains(self, column: Any) -> ColumnElement[bool]:
        return (column >= self.since) & (column < self.until)


def period_of(since: Timestamp, until: Timestamp, time_zone: str) -> Period:
    start, end = from_timestamp(since), from_timestamp(until)
    if start is None or end is None:
        raise InvalidArgument("since and until are both required")
    if end <= start:
        raise InvalidArgument(f"until ({end.isoformat()}) must be after since ({start.isoformat()})")
    if end - start > MAX_SPAN:
        raise InvalidArgument(f"the period may span at most {MAX_SPAN.days} days")
    try:
        zone = ZoneInfo(time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidArgument(f"time_zone {time_zone!r} is not an IANA time zone") from None
    return Period(start, end, zone)

"""Flight hours and missions per drone and month, from the stored missions and flight tracks.

A mission counts in the month it was dispatched. Its flight time is the span of its recorded
track (flighttrack.py: positions kept while flying), read as the first and last rows' times
only, so no whole track leaves the database; a mission still flying counts what its last saved
track covers. A site-limited caller gets the figures of the drones now at its sites (sites.py)."""

from __future__ import annotations

import struct
from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kuzet.common.periods import Period
from kuzet.drone.flighttrack import COLUMNS
from kuzet.drone.models import DroneRow, MissionRow, TrackRow
from kuzet.drone.v1 import drone_pb2

ROW_BYTES = COLUMNS * 8
MS = drone_pb2.MissionState
Key = tuple[str, str]  # month, drone


def flight_figures(
    session: Session, agency: str, period: Period, sites: frozenset[str] | None = None
) -> drone_pb2.GetFlightStatisticsResponse:
    first_time = func.substr(TrackRow.points, 1, 8)
    last_time = func.substr(TrackRow.points, func.length(TrackRow.points) - (ROW_BYTES - 1), 8)
    query = (
        select(
            MissionRow.drone_id,
            period.month_of(MissionRow.dispatched_at),
            MissionRow.data,
            first_time,
            last_time,
        )
        .outerjoin(TrackRow, TrackRow.mission_id == MissionRow.mission_id)
        .where(MissionRow.agency_id == agency, period.contains(MissionRow.dispatched_at))
    )
    if sites is not None:
        at_sites = select(DroneRow.drone_id).where(DroneRow.agency_id == agency, DroneRow.site_id.in_(sites))
        query = query.where(MissionRow.drone_id.in_(at_sites))
    rows = session.execute(query)
    seconds: Counter[Key] = Counter()
    counts: dict[Key, Counter[str]] = {}
    for drone_id, month, data, first, last in rows:
        key = (month, drone_id)
        mission = drone_pb2.Mission.FromString(data)
        counted = counts.setdefault(key, Counter())
        counted["missions"] += 1
        counted["completed"] += mission.state == MS.MISSION_STATE_COMPLETED
        counted["aborted"] += mission.state == MS.MISSION_STATE_ABORTED
        counted["alert_missions"] += bool(mission.alert_id)
        if first and last:
            seconds[key] += struct.unpack("<d", bytes(last))[0] - struct.unpack("<d", bytes(first))[0]
    return drone_pb2.GetFlightStatisticsResponse(
        figures=[
            drone_pb2.FlightFigures(
                month=month,
                drone_id=drone_id,
                flight_hours=round(seconds[month, drone_id] / 3600, 3),
                **counts[month, drone_id],
            )
            for month, drone_id in sorted(counts)
        ]
    )

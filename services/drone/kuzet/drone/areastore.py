"""Persistence of protected areas and of what their rules remember: the rules that fired per
track (an alert is raised once per track, rule and area) and where tracked vehicles stand still.

Both memories are rows, not replica memory, because any replica may place a drone's detections.
A track id that has not been seen for ``FORGET_S`` is taken as a new object: trackers reuse ids
after a restart, and the same vehicle back an hour later is a new event.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kuzet.common.db import Database
from kuzet.common.timeutil import as_utc
from kuzet.drone.models import ProtectedAreaRow, RuleHitRow, StopRow
from kuzet.drone.v1 import drone_pb2

FORGET_S = 600.0
_M_PER_DEG = 111_195.0


@dataclass(frozen=True)
class Sighting:
    drone_id: str
    track_id: int
    time: datetime
    latitude: float
    longitude: float


class AreaStore:
    def __init__(self, database: Database) -> None:
        self.db = database

    async def put_area(self, area: drone_pb2.ProtectedArea) -> None:
        def work(s: Session) -> None:
            s.merge(
                ProtectedAreaRow(
                    area_id=area.area_id, agency_id=area.agency_id, data=area.SerializeToString()
                )
            )

        await self.db.run(work)

    async def get_area(self, area_id: str) -> drone_pb2.ProtectedArea | None:
        def work(s: Session) -> bytes | None:
            row = s.get(ProtectedAreaRow, area_id)
            return row.data if row else None

        data = await self.db.run(work)
        return drone_pb2.ProtectedArea.FromString(data) if data is not None else None

    async def list_areas(self, agency_id: str) -> list[drone_pb2.ProtectedArea]:
        def work(s: Session) -> list[bytes]:
            q = select(ProtectedAreaRow.data).where(ProtectedAreaRow.agency_id == agency_id)
            return list(s.scalars(q.order_by(ProtectedAreaRow.area_id)))

        return [drone_pb2.ProtectedArea.FromString(d) for d in await self.db.run(work)]

    async def delete_area(self, area_id: str) -> None:
        def work(s: Session) -> None:
            s.execute(delete(ProtectedAreaRow).where(ProtectedAreaRow.area_id == area_id))

        await self.db.run(work)

    async def first_hit(self, sighting: Sighting, rule: str, area_id: str) -> bool:
        """Record that ``rule`` fired for the sighting's track in the area; True the first time
        (or the first time after the track was forgotten), False for every repeat."""
        key = (
            (RuleHitRow.drone_id == sighting.drone_id)
            & (RuleHitRow.track_id == str(sighting.track_id))
            & (RuleHitRow.rule == rule)
            & (RuleHitRow.area_id == area_id)
        )
        cutoff = sighting.time - timedelta(seconds=FORGET_S)

        def work(s: Session) -> bool:
            # Each step is one conditional statement, so two replicas placing the same track
            # cannot both see "first": the database serialises the row.
            seen = update(RuleHitRow).where(key & (RuleHitRow.seen_at >= cutoff))
            if s.execute(seen.values(seen_at=sighting.time)).rowcount:  # type: ignore[attr-defined]
                return False
            stale = update(RuleHitRow).where(key & (RuleHitRow.seen_at < cutoff))
            if s.execute(stale.values(seen_at=sighting.time)).rowcount:  # type: ignore[attr-defined]
                return True
            try:
                with s.begin_nested():
                    s.add(
                        RuleHitRow(
                            drone_id=sighting.drone_id,
                            track_id=str(sighting.track_id),
                            rule=rule,
                            area_id=area_id,
                            seen_at=sighting.time,
                        )
                    )
            except IntegrityError:
                return False
            return True

        return await self.db.run(work)

    async def stopped_since(self, sighting: Sighting, radius_m: float) -> datetime:
        """Since when the track has stayed within ``radius_m`` of where it was then seen."""

        def work(s: Session) -> datetime:
            row = s.get(StopRow, (sighting.drone_id, str(sighting.track_id)), with_for_update=True)
            if row is None:
                row = StopRow(drone_id=sighting.drone_id, track_id=str(sighting.track_id))
                s.add(row)
                moved = True
            else:
                dy = (sighting.latitude - row.latitude) * _M_PER_DEG
                dx = (sighting.longitude - row.longitude) * _M_PER_DEG * math.cos(math.radians(row.latitude))
                forgotten = (sighting.time - as_utc(row.last_seen)).total_seconds() > FORGET_S
                moved = forgotten or math.hypot(dx, dy) > radius_m
            if moved:
                row.since, row.latitude, row.longitude = sighting.time, sighting.latitude, sighting.longitude
            row.last_seen = sighting.time if moved else max(sighting.time, as_utc(row.last_seen))
            return as_utc(row.since)

        try:
            return await self.db.run(work)
        except IntegrityError:
            # Another replica stored the track's first stop at the same moment: read theirs.
            return await self.db.run(work)

"""Persistence of drones, zones, plans, missions, coverage plans, tracks, coverage reports and
the drones' readiness (SQLite embedded, PostgreSQL in production)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.common.db import Database
from kuzet.common.timeutil import from_timestamp, utcnow
from kuzet.drone.models import (
    CoveragePlanRow,
    CoverageReportRow,
    DroneRow,
    MissionRow,
    PlanRow,
    ReplicaRow,
    StatusRow,
    TrackRow,
    ZoneRow,
)
from kuzet.drone.v1 import drone_pb2


def _plan_row(plan: drone_pb2.PatrolPlan) -> PlanRow:
    return PlanRow(
        plan_id=plan.plan_id,
        drone_id=plan.drone_id,
        agency_id=plan.agency_id,
        created_at=from_timestamp(plan.created_at) or utcnow(),
        data=plan.SerializeToString(),
    )


class DroneStore:
    def __init__(self, database: Database) -> None:
        self.db = database

    # Replicas
    async def put_replica(self, replica_id: str, address: str) -> None:
        def work(s: Session) -> None:
            s.merge(ReplicaRow(replica_id=replica_id, address=address, updated_at=utcnow()))

        await self.db.run(work)

    async def replica_address(self, replica_id: str) -> str:
        def work(s: Session) -> str:
            row = s.get(ReplicaRow, replica_id)
            return row.address if row else ""

        return await self.db.run(work)

    # Drones
    async def put_drone(self, drone: drone_pb2.Drone) -> None:
        def work(s: Session) -> None:
            s.merge(
                DroneRow(
                    drone_id=drone.drone_id,
                    agency_id=drone.agency_id,
                    site_id=drone.site_id,
                    data=drone.SerializeToString(),
                )
            )

        await self.db.run(work)

    async def get_drone(self, drone_id: str) -> drone_pb2.Drone | None:
        def work(s: Session) -> bytes | None:
            row = s.get(DroneRow, drone_id)
            return row.data if row else None

        data = await self.db.run(work)
        return drone_pb2.Drone.FromString(data) if data is not None else None

    async def list_drones(
        self, agency_id: str | None = None, sites: frozenset[str] | None = None
    ) -> list[drone_pb2.Drone]:
        """The drones (of ``agency_id``; at ``sites`` only unless None), in drone id order."""

        def work(s: Session) -> list[bytes]:
            q = select(DroneRow.data).order_by(DroneRow.drone_id)
            if agency_id is not None:
                q = q.where(DroneRow.agency_id == agency_id)
            if sites is not None:
                q = q.where(DroneRow.site_id.in_(sites))
            return list(s.scalars(q))

        return [drone_pb2.Drone.FromString(d) for d in await self.db.run(work)]

    # Zones
    async def put_zone(self, zone: drone_pb2.Zone) -> None:
        def work(s: Session) -> None:
            s.merge(ZoneRow(zone_id=zone.zone_id, agency_id=zone.agency_id, data=zone.SerializeToString()))

        await self.db.run(work)

    async def get_zone(self, zone_id: str) -> drone_pb2.Zone | None:
        def work(s: Session) -> bytes | None:
            row = s.get(ZoneRow, zone_id)
            return row.data if row else None

        data = await self.db.run(work)
        return drone_pb2.Zone.FromString(data) if data is not None else None

    async def delete_zone(self, zone_id: str) -> None:
        def work(s: Session) -> None:
            row = s.get(ZoneRow, zone_id)
            if row is not None:
                s.delete(row)

        await self.db.run(work)

    async def list_zones(self, agency_id: str | None = None) -> list[drone_pb2.Zone]:
        def work(s: Session) -> list[bytes]:
            q = select(ZoneRow.data).order_by(ZoneRow.zone_id)
            if agency_id is not None:
                q = q.where(ZoneRow.agency_id == agency_id)
            return list(s.scalars(q))

        return [drone_pb2.Zone.FromString(d) for d in await self.db.run(work)]

    # Plans
    async def put_plan(self, plan: drone_pb2.PatrolPlan) -> None:
        def work(s: Session) -> None:
            s.merge(_plan_row(plan))

        await self.db.run(work)

    async def get_plan(self, plan_id: str) -> drone_pb2.PatrolPlan | None:
        def work(s: Session) -> bytes | None:
            row = s.get(PlanRow, plan_id)
            return row.data if row else None

        data = await self.db.run(work)
        return drone_pb2.PatrolPlan.FromString(data) if data is not None else None

    # Missions
    async def put_mission(self, mission: drone_pb2.Mission) -> None:
        def work(s: Session) -> None:
            s.merge(
                MissionRow(
                    mission_id=mission.mission_id,
                    drone_id=mission.drone_id,
                    agency_id=mission.agency_id,
                    dispatched_at=from_timestamp(mission.dispatched_at) or utcnow(),
                    data=mission.SerializeToString(),
                    plan_id=mission.plan_id or None,
                )
            )

        await self.db.run(work)

    async def last_mission(self, drone_id: str) -> drone_pb2.Mission | None:
        def work(s: Session) -> bytes | None:
            q = (
                select(MissionRow.data)
                .where(MissionRow.drone_id == drone_id)
                .order_by(MissionRow.dispatched_at.desc())
                .limit(1)
            )
            return s.scalars(q).first()

        data = await self.db.run(work)
        return drone_pb2.Mission.FromString(data) if data is not None else None

    async def missions_before(self, drone_id: str, at: datetime, limit: int) -> list[drone_pb2.Mission]:
        """The drone's last ``limit`` missions dispatched at or before ``at``, newest first."""

        def work(s: Session) -> list[bytes]:
            q = (
                select(MissionRow.data)
                .where(MissionRow.drone_id == drone_id, MissionRow.dispatched_at <= at)
                .order_by(MissionRow.dispatched_at.desc())
                .limit(limit)
            )
            return list(s.scalars(q))

        return [drone_pb2.Mission.FromString(d) for d in await self.db.run(work)]

    async def get_mission(self, mission_id: str) -> drone_pb2.Mission | None:
        def work(s: Session) -> bytes | None:
            row = s.get(MissionRow, mission_id)
            return row.data if row else None

        data = await self.db.run(work)
        return drone_pb2.Mission.FromString(data) if data is not None else None

    async def missions_of_plans(self, plan_ids: list[str]) -> list[drone_pb2.Mission]:
        def work(s: Session) -> list[bytes]:
            q = (
                select(MissionRow.data)
                .where(MissionRow.plan_id.in_(plan_ids))
                .order_by(MissionRow.dispatched_at)
            )
            return list(s.scalars(q))

        return [drone_pb2.Mission.FromString(d) for d in await self.db.run(work)] if plan_ids else []

    # Coverage plans, tracks and reports
    async def put_coverage_plan(self, plan: drone_pb2.CoveragePlan) -> None:
        def work(s: Session) -> None:
            s.merge(
                CoveragePlanRow(
                    coverage_plan_id=plan.coverage_plan_id,
                    agency_id=plan.agency_id,
                    created_at=from_timestamp(plan.created_at) or utcnow(),
                    data=plan.SerializeToString(),
                )
            )
            # The legs are patrol plans Dispatch reads like any other; stored in the same transaction.
            for d in plan.drones:
                for leg in d.legs:
                    s.merge(_plan_row(leg))

        await self.db.run(work)

    async def get_coverage_plan(self, coverage_plan_id: str) -> drone_pb2.CoveragePlan | None:
        def work(s: Session) -> bytes | None:
            row = s.get(CoveragePlanRow, coverage_plan_id)
            return row.data if row else None

        data = await self.db.run(work)
        return drone_pb2.CoveragePlan.FromString(data) if data is not None else None

    async def put_tracks(self, tracks: list[tuple[drone_pb2.Mission, bytes]]) -> None:
        """Store tracks; a track only grows, so an older (shorter) copy written late is ignored."""

        def work(s: Session) -> None:
            for mission, points in tracks:
                row = s.get(TrackRow, mission.mission_id)
                if row is not None and len(row.points) > len(points):
                    continue
                s.merge(
                    TrackRow(
                        mission_id=mission.mission_id,
                        drone_id=mission.drone_id,
                        agency_id=mission.agency_id,
                        points=points,
                    )
                )

        await self.db.run(work)

    async def put_track(self, mission: drone_pb2.Mission, points: bytes) -> None:
        await self.put_tracks([(mission, points)])

    async def tracks(self, mission_ids: list[str]) -> dict[str, bytes]:
        def work(s: Session) -> dict[str, bytes]:
            q = select(TrackRow.mission_id, TrackRow.points).where(TrackRow.mission_id.in_(mission_ids))
            return {m: p for m, p in s.execute(q)}

        return await self.db.run(work) if mission_ids else {}

    async def put_coverage_report(self, report: drone_pb2.CoverageReport) -> None:
        def work(s: Session) -> None:
            s.merge(
                CoverageReportRow(
                    coverage_plan_id=report.coverage_plan_id,
                    agency_id=report.agency_id,
                    computed_at=from_timestamp(report.computed_at) or utcnow(),
                    data=report.SerializeToString(),
                )
            )

        await self.db.run(work)

    async def get_coverage_report(self, coverage_plan_id: str) -> drone_pb2.CoverageReport | None:
        def work(s: Session) -> bytes | None:
            row = s.get(CoverageReportRow, coverage_plan_id)
            return row.data if row else None

        data = await self.db.run(work)
        return drone_pb2.CoverageReport.FromString(data) if data is not None else None

    # Readiness of the drones each replica controls (SuggestDrone on any replica)
    async def put_statuses(self, rows: list[StatusRow]) -> None:
        def work(s: Session) -> None:
            for row in rows:
                s.merge(row)

        await self.db.run(work)

    async def statuses(self, agency_id: str, fresh_after: datetime) -> dict[str, StatusRow]:
        def work(s: Session) -> dict[str, StatusRow]:
            q = select(StatusRow).where(StatusRow.agency_id == agency_id, StatusRow.updated_at >= fresh_after)
            rows = list(s.scalars(q))
            s.expunge_all()
            return {r.drone_id: r for r in rows}

        return await self.db.run(work)

"""Persistence of drones, zones, plans and missions (SQLite embedded, PostgreSQL in production)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.common.db import Database
from kuzet.common.timeutil import from_timestamp, utcnow
from kuzet.drone.models import DroneRow, MissionRow, PlanRow, ReplicaRow, ZoneRow
from kuzet.drone.v1 import drone_pb2


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
                DroneRow(drone_id=drone.drone_id, agency_id=drone.agency_id, data=drone.SerializeToString())
            )

        await self.db.run(work)

    async def get_drone(self, drone_id: str) -> drone_pb2.Drone | None:
        def work(s: Session) -> bytes | None:
            row = s.get(DroneRow, drone_id)
            return row.data if row else None

        data = await self.db.run(work)
        return drone_pb2.Drone.FromString(data) if data is not None else None

    async def list_drones(self, agency_id: str | None = None) -> list[drone_pb2.Drone]:
        def work(s: Session) -> list[bytes]:
            q = select(DroneRow.data).order_by(DroneRow.drone_id)
            if agency_id is not None:
                q = q.where(DroneRow.agency_id == agency_id)
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
            s.merge(
                PlanRow(
                    plan_id=plan.plan_id,
                    drone_id=plan.drone_id,
                    agency_id=plan.agency_id,
                    created_at=from_timestamp(plan.created_at) or utcnow(),
                    data=plan.SerializeToString(),
                )
            )

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

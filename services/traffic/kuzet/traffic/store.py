"""Persistence of camera profiles, observations, per-minute lane counts, hotlists and hits
(SQLite embedded, PostgreSQL in production)."""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, exists, func, select, text
from sqlalchemy.orm import Session

from kuzet.common.bulkwrite import bulk_insert
from kuzet.common.db import Database
from kuzet.common.paging import Keyset, descending
from kuzet.common.timeutil import as_utc, to_timestamp
from kuzet.traffic.hotlist import EXACT, Hotlist, HotlistEntry, lookalike_variants
from kuzet.traffic.models import CameraRow, HotlistEntryRow, HotlistHitRow, LaneCountRow, ObservationRow
from kuzet.traffic.recording import Prepared, micros
from kuzet.traffic.v1 import traffic_pb2

CAMERA_KEYS = Keyset("traffic.cameras", CameraRow.camera_id)
ENTRY_KEYS = Keyset("traffic.hotlist", HotlistEntryRow.plate, HotlistEntryRow.source)
HIT_KEYS = Keyset(
    "traffic.hits.newest", descending(HotlistHitRow.observed_at_us), descending(HotlistHitRow.hit_id)
)
SEARCH_KEYS = Keyset(
    "traffic.plates.newest",
    descending(ObservationRow.observed_at_us),
    descending(ObservationRow.observation_id),
)
# The same observation gives the same event id: alerting stores a re-sent event once.
_EVENT_NAMESPACE = uuid.UUID("4f1c2a9e-7b3d-5e60-9a8b-2c1d0e3f4a5b")
_OBSERVATION_COLUMNS = (
    "observation_id", "agency_id", "camera_id", "observed_at_us", "plate", "speed_kmh", "speeding", "data",
)  # fmt: skip
_COUNT_COLUMNS = ("camera_id", "line_id", "minute_s", "vehicle_class", "vehicles", "speed_sum", "measured")
_HIT_COLUMNS = ("hit_id", "agency_id", "observation_id", "observed_at_us", "data")


def event_id_of(observation_id: str) -> str:
    return str(uuid.uuid5(_EVENT_NAMESPACE, f"plate_hotlist:{observation_id}"))


def advisory_lock_key(name: str) -> int:
    """A PostgreSQL advisory lock's key for ``name``: writers of one thing take turns on it."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _camera_lock_key(camera_id: str) -> int:
    return advisory_lock_key(f"kuzet-traffic-camera:{camera_id}")


def entry_to_proto(row: HotlistEntryRow) -> traffic_pb2.HotlistEntry:
    return traffic_pb2.HotlistEntry(
        plate=row.plate,
        reason=row.reason,
        source=row.source,
        legal_basis=row.legal_basis,
        expires_at=to_timestamp(as_utc(row.expires_at)),
        created_at=to_timestamp(as_utc(row.created_at)),
        created_by=row.created_by,
    )


def _entry(row: HotlistEntryRow) -> HotlistEntry:
    return HotlistEntry(row.plate, row.reason, row.source, row.legal_basis, as_utc(row.expires_at))


@dataclass
class Recorded:
    observations: list[Prepared]
    duplicates: int
    hits: list[traffic_pb2.HotlistHit]


@dataclass(frozen=True)
class CountRow:
    line_id: str
    interval_s: int  # the interval's first second since the epoch
    vehicle_class: str
    vehicles: int
    speed_sum: float
    measured: int


class TrafficStore:
    def __init__(self, database: Database) -> None:
        self.db = database
        self._insert_observations = bulk_insert(database, ObservationRow, _OBSERVATION_COLUMNS)
        # A minute already counted (an earlier batch) grows by this batch's vehicles.
        added = ", ".join(
            f"{c} = {LaneCountRow.__tablename__}.{c} + excluded.{c}" for c in _COUNT_COLUMNS[4:]
        )
        self._add_counts = bulk_insert(
            database,
            LaneCountRow,
            _COUNT_COLUMNS,
            on_conflict=f"(camera_id, line_id, minute_s, vehicle_class) DO UPDATE SET {added}",
        )
        self._insert_hits = bulk_insert(database, HotlistHitRow, _HIT_COLUMNS)

    # ----- cameras --------------------------------------------------------------------------

    async def put_camera(self, camera: traffic_pb2.TrafficCamera) -> None:
        def work(s: Session) -> None:
            s.merge(
                CameraRow(
                    camera_id=camera.camera_id,
                    agency_id=camera.agency_id,
                    site_id=camera.site_id,
                    data=camera.SerializeToString(),
                )
            )

        await self.db.run(work)

    async def get_camera(self, camera_id: str) -> traffic_pb2.TrafficCamera | None:
        cameras = await self.cameras([camera_id])
        return cameras.get(camera_id)

    async def cameras(self, camera_ids: Iterable[str]) -> dict[str, traffic_pb2.TrafficCamera]:
        ids = sorted(set(camera_ids))

        def work(s: Session) -> list[bytes]:
            return list(s.scalars(select(CameraRow.data).where(CameraRow.camera_id.in_(ids))))

        found = [traffic_pb2.TrafficCamera.FromString(d) for d in await self.db.run(work)]
        return {c.camera_id: c for c in found}

    async def list_cameras(
        self, agency: str, after: tuple[Any, ...] | None, size: int, within: Collection[str] | None = None
    ) -> tuple[list[traffic_pb2.TrafficCamera], str]:
        """One page of the agency's cameras; ``within``: only those at these sites (None: all)."""

        def work(s: Session) -> tuple[list[CameraRow], str]:
            query = select(CameraRow).where(CameraRow.agency_id == agency)
            if within is not None:
                query = query.where(CameraRow.site_id.in_(sorted(within)))
            return CAMERA_KEYS.page(s.scalars(CAMERA_KEYS.query(query, after, size)).all(), size)

        rows, token = await self.db.run(work)
        return [traffic_pb2.TrafficCamera.FromString(r.data) for r in rows], token

    # ----- observations -----------------------------------------------------------------------

    async def record(self, batch: Sequence[Prepared]) -> Recorded:
        """Store the observations not stored before, add them to the minute counts and match
        their plates against their agencies' hotlists, all in one transaction."""

        def work(s: Session) -> Recorded:
            if not self.db.is_sqlite:
                # An observation id comes from one camera: two replicas given the same retried
                # batch take turns per camera, and the second finds the first's rows.
                for camera_id in sorted({p.camera.camera_id for p in batch}):
                    s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _camera_lock_key(camera_id)})
            ids = [p.observation.observation_id for p in batch]
            seen = set(
                s.scalars(select(ObservationRow.observation_id).where(ObservationRow.observation_id.in_(ids)))
            )
            new: list[Prepared] = []
            for p in batch:
                if p.observation.observation_id not in seen:
                    seen.add(p.observation.observation_id)
                    new.append(p)
            hits = self._match(s, new)
            connection = s.connection()
            self._insert_observations.execute(connection, [_observation_row(p) for p in new])
            self._add_counts.execute(connection, _count_rows(new))
            self._insert_hits.execute(connection, [_hit_row(h) for h in hits])
            return Recorded(new, len(batch) - len(new), hits)

        return await self.db.run(work)

    @staticmethod
    def _match(s: Session, batch: Sequence[Prepared]) -> list[traffic_pb2.HotlistHit]:
        plates: dict[str, set[str]] = defaultdict(set)
        for p in batch:
            if p.plate is not None:
                plates[p.camera.agency_id].add(p.plate.text)
                plates[p.camera.agency_id].update(v for _, v in lookalike_variants(p.plate.text))
        rows: dict[tuple[str, str, str], HotlistEntryRow] = {}
        lists: dict[str, Hotlist] = {}
        for agency, wanted in plates.items():
            query = select(HotlistEntryRow).where(
                HotlistEntryRow.agency_id == agency, HotlistEntryRow.plate.in_(sorted(wanted))
            )
            found = list(s.scalars(query))
            rows.update({(agency, r.plate, r.source): r for r in found})
            lists[agency] = Hotlist(_entry(r) for r in found)
        hits = []
        for p in batch:
            hotlist = lists.get(p.camera.agency_id)
            if p.plate is None or hotlist is None or not len(hotlist):
                continue
            for match in hotlist.match(p.plate, p.observed_at, fuzzy=True):
                row = rows[(p.camera.agency_id, match.entry.plate, match.entry.source)]
                hit = traffic_pb2.HotlistHit(
                    observation=p.observation, entry=entry_to_proto(row), match=match.kind
                )
                if match.kind == EXACT:
                    hit.event_id = event_id_of(p.observation.observation_id)
                hits.append(hit)
        return hits

    async def counts(self, camera_id: str, since_s: int, until_s: int, interval_s: int) -> list[CountRow]:
        """Per line, interval and class: sums of the minute counts in [since_s, until_s)."""

        def work(s: Session) -> list[CountRow]:
            c = LaneCountRow
            start = c.minute_s - c.minute_s % interval_s
            query = (
                select(
                    c.line_id,
                    start.label("start"),
                    c.vehicle_class,
                    func.sum(c.vehicles),
                    func.sum(c.speed_sum),
                    func.sum(c.measured),
                )
                .where(c.camera_id == camera_id, c.minute_s >= since_s, c.minute_s < until_s)
                .group_by(c.line_id, start, c.vehicle_class)
            )
            return [
                CountRow(line, int(at), cls, int(n), float(speeds or 0.0), int(measured or 0))
                for line, at, cls, n, speeds, measured in s.execute(query)
            ]

        return await self.db.run(work)

    async def speeds(self, camera_id: str, since_us: int, until_us: int) -> list[tuple[float, bool]]:
        """(speed, speeding) of the camera's observations with a measured speed in [since, until)."""

        def work(s: Session) -> list[tuple[float, bool]]:
            o = ObservationRow
            query = select(o.speed_kmh, o.speeding).where(
                o.camera_id == camera_id,
                o.observed_at_us >= since_us,
                o.observed_at_us < until_us,
                o.speed_kmh > 0,
            )
            return [(float(v), bool(flag)) for v, flag in s.execute(query)]

        return await self.db.run(work)

    async def search(
        self,
        agency: str,
        plates: Sequence[str],
        since_us: int,
        until_us: int,
        after: tuple[Any, ...] | None,
        size: int,
        within: Collection[str] | None = None,
    ) -> tuple[list[traffic_pb2.VehicleObservation], str]:
        """``within``: only observations of the agency's cameras at these sites (None: all)."""

        def work(s: Session) -> tuple[list[ObservationRow], str]:
            o = ObservationRow
            query = select(o).where(
                o.agency_id == agency,
                o.plate.in_(plates),
                o.observed_at_us >= since_us,
                o.observed_at_us < until_us,
            )
            if within is not None:
                query = query.where(o.camera_id.in_(_cameras_at(agency, within)))
            return SEARCH_KEYS.page(s.scalars(SEARCH_KEYS.query(query, after, size)).all(), size)

        rows, token = await self.db.run(work)
        return [traffic_pb2.VehicleObservation.FromString(r.data) for r in rows], token

    # ----- hotlists -----------------------------------------------------------------------------

    async def upsert_entries(
        self, agency: str, entries: Sequence[HotlistEntry], actor: str, now: datetime
    ) -> None:
        await self.db.run(put_entries, agency, entries, actor, now)

    async def remove_entries(self, agency: str, plate: str) -> list[str]:
        """Take every source's entry for the plate off the agency's list; the sources removed."""

        def work(s: Session) -> list[str]:
            where = (HotlistEntryRow.agency_id == agency, HotlistEntryRow.plate == plate)
            sources = sorted(s.scalars(select(HotlistEntryRow.source).where(*where)))
            s.execute(delete(HotlistEntryRow).where(*where))
            return sources

        return await self.db.run(work)

    async def list_entries(
        self, agency: str, in_force_at: datetime | None, after: tuple[Any, ...] | None, size: int
    ) -> tuple[list[traffic_pb2.HotlistEntry], str]:
        def work(s: Session) -> tuple[list[traffic_pb2.HotlistEntry], str]:
            query = select(HotlistEntryRow).where(HotlistEntryRow.agency_id == agency)
            if in_force_at is not None:
                query = query.where(HotlistEntryRow.expires_at > in_force_at)
            rows, token = ENTRY_KEYS.page(s.scalars(ENTRY_KEYS.query(query, after, size)).all(), size)
            return [entry_to_proto(r) for r in rows], token

        return await self.db.run(work)

    async def list_hits(
        self,
        agency: str,
        since_us: int,
        after: tuple[Any, ...] | None,
        size: int,
        within: Collection[str] | None = None,
    ) -> tuple[list[traffic_pb2.HotlistHit], str]:
        """``within``: only hits on observations of the agency's cameras at these sites (None: all)."""

        def work(s: Session) -> tuple[list[HotlistHitRow], str]:
            query = select(HotlistHitRow).where(
                HotlistHitRow.agency_id == agency, HotlistHitRow.observed_at_us >= since_us
            )
            if within is not None:
                # A hit has no camera column; its observation (looked up by primary key) has, and
                # retention deletes the two together, so every hit still has its observation.
                o = ObservationRow
                query = query.where(
                    exists().where(
                        o.observation_id == HotlistHitRow.observation_id,
                        o.camera_id.in_(_cameras_at(agency, within)),
                    )
                )
            return HIT_KEYS.page(s.scalars(HIT_KEYS.query(query, after, size)).all(), size)

        rows, token = await self.db.run(work)
        return [traffic_pb2.HotlistHit.FromString(r.data) for r in rows], token


def _cameras_at(agency: str, sites: Collection[str]) -> Select[str]:
    """The ids of the agency's cameras at ``sites``, as a subquery."""
    return select(CameraRow.camera_id).where(
        CameraRow.agency_id == agency, CameraRow.site_id.in_(sorted(sites))
    )


def put_entries(s: Session, agency: str, entries: Iterable[HotlistEntry], actor: str, now: datetime) -> None:
    """Add or replace entries in the caller's transaction: one per (plate, source)."""
    for e in entries:
        s.merge(
            HotlistEntryRow(
                agency_id=agency,
                plate=e.plate,
                source=e.source,
                reason=e.reason,
                legal_basis=e.legal_basis,
                expires_at=e.expires_at,
                created_at=now,
                created_by=actor,
            )
        )


def expire_entry(s: Session, agency: str, plate: str, source: str, now: datetime) -> None:
    """End an entry now, in the caller's transaction; kept (not deleted) so that what it was
    stays readable beside the hits it made."""
    row = s.get(HotlistEntryRow, (agency, plate, source))
    if row is not None and as_utc(row.expires_at) > now:
        row.expires_at = now


def _observation_row(p: Prepared) -> tuple[Any, ...]:
    o = p.observation
    return (
        o.observation_id, o.agency_id, o.camera_id, p.observed_at_us, o.plate, o.speed_kmh, o.speeding,
        o.SerializeToString(),
    )  # fmt: skip


def _hit_row(hit: traffic_pb2.HotlistHit) -> tuple[Any, ...]:
    o = hit.observation
    return (str(uuid.uuid4()), o.agency_id, o.observation_id, micros(o.observed_at), hit.SerializeToString())


def _count_rows(batch: Sequence[Prepared]) -> list[tuple[Any, ...]]:
    """The batch's vehicles per camera, line, minute and class (each key once: PostgreSQL updates a
    row once per statement)."""
    sums: dict[tuple[str, str, int, str], list[Any]] = defaultdict(lambda: [0, 0.0, 0])
    for p in batch:
        if not p.counted:
            continue
        o = p.observation
        entry = sums[(o.camera_id, o.line_id, o.observed_at.seconds // 60 * 60, o.vehicle_class)]
        entry[0] += 1
        if o.speed_kmh > 0:
            entry[1] += o.speed_kmh
            entry[2] += 1
    return [(*key, *values) for key, values in sorted(sums.items())]

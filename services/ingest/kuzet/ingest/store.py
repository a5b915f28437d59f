"""The camera registry in the service's database (SQLite embedded, PostgreSQL in production).

The camera is kept as its serialized Camera message (zones, rules... evolve with the proto
without migrations) beside the columns that are queried. Credentials live in their own columns
and are stripped from the stored message, so no read path can return them by accident.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, LargeBinary, String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from kuzet.common.db import Database
from kuzet.common.errors import AlreadyExists, NotFound
from kuzet.common.paging import Keyset, Paging
from kuzet.common.timeutil import utcnow
from kuzet.ingest.v1 import ingest_pb2


class Base(DeclarativeBase):
    pass


class CameraRow(Base):
    __tablename__ = "ingest_cameras"
    __table_args__ = (Index("ix_ingest_cameras_agency_site", "agency_id", "site_id", "id"),)

    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(64))
    site_id: Mapped[str] = mapped_column(String(128))
    spec: Mapped[bytes] = mapped_column(LargeBinary)
    username: Mapped[str] = mapped_column(String(256), default="")
    password: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class StoredCamera:
    camera: ingest_pb2.Camera  # without credentials, has_credentials set
    username: str
    password: str


CAMERA_PAGING = Paging(default=100, maximum=1000)
CAMERA_KEYS = Keyset("ingest.cameras", CameraRow.id)


def _load(row: CameraRow) -> StoredCamera:
    cam = ingest_pb2.Camera.FromString(row.spec)
    cam.has_credentials = bool(row.username or row.password)
    cam.created_at.FromDatetime(row.created_at)
    cam.updated_at.FromDatetime(row.updated_at)
    return StoredCamera(cam, row.username, row.password)


def _spec(cam: ingest_pb2.Camera) -> bytes:
    clean = ingest_pb2.Camera()
    clean.CopyFrom(cam)
    clean.ClearField("credentials")
    clean.ClearField("has_credentials")
    clean.ClearField("created_at")
    clean.ClearField("updated_at")
    return clean.SerializeToString(deterministic=True)


class CameraStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, cam: ingest_pb2.Camera, username: str, password: str) -> StoredCamera:
        def work(s: Session) -> StoredCamera:
            if s.get(CameraRow, cam.id) is not None:
                raise AlreadyExists(f"camera {cam.id} already exists")
            now = utcnow()
            row = CameraRow(
                id=cam.id,
                agency_id=cam.agency_id,
                site_id=cam.site_id,
                spec=_spec(cam),
                username=username,
                password=password,
                created_at=now,
                updated_at=now,
            )
            s.add(row)
            s.flush()
            return _load(row)

        return await self.db.run(work)

    async def replace(
        self, cam: ingest_pb2.Camera, username: str | None, password: str | None
    ) -> StoredCamera:
        """Store the new definition; credentials change only when given (None keeps them)."""

        def work(s: Session) -> StoredCamera:
            row = s.get(CameraRow, cam.id)
            if row is None or row.agency_id != cam.agency_id:
                raise NotFound(f"camera {cam.id} not found")
            row.site_id, row.spec, row.updated_at = cam.site_id, _spec(cam), utcnow()
            if username is not None:
                row.username, row.password = username, password or ""
            s.flush()
            return _load(row)

        return await self.db.run(work)

    async def get(self, camera_id: str, agency: str | None = None) -> StoredCamera:
        def work(s: Session) -> StoredCamera:
            row = s.get(CameraRow, camera_id)
            if row is None or (agency is not None and row.agency_id != agency):
                raise NotFound(f"camera {camera_id} not found")
            return _load(row)

        return await self.db.run(work)

    async def delete(self, camera_id: str, agency: str | None) -> None:
        def work(s: Session) -> None:
            row = s.get(CameraRow, camera_id)
            if row is None or (agency is not None and row.agency_id != agency):
                raise NotFound(f"camera {camera_id} not found")
            s.delete(row)

        await self.db.run(work)

    async def page(
        self,
        agency: str,
        site: str,
        after: tuple[Any, ...] | None,
        size: int,
        within: Collection[str] = (),
    ) -> tuple[list[StoredCamera], str]:
        """One page of an agency's cameras in id order after ``after``, and the next page's token;
        ``within``: only these sites (a site-limited caller's; empty: all)."""

        def work(s: Session) -> tuple[list[StoredCamera], str]:
            q = select(CameraRow).where(CameraRow.agency_id == agency)
            if site:
                q = q.where(CameraRow.site_id == site)
            if within:
                q = q.where(CameraRow.site_id.in_(list(within)))
            rows, token = CAMERA_KEYS.page(s.scalars(CAMERA_KEYS.query(q, after, size)).all(), size)
            return [_load(r) for r in rows], token

        return await self.db.run(work)

    async def fingerprint(self) -> tuple[int, datetime | None]:
        """(count, newest update): unchanged means no camera was added, changed or removed."""

        def work(s: Session) -> tuple[int, datetime | None]:
            count, newest = s.execute(select(func.count(CameraRow.id), func.max(CameraRow.updated_at))).one()
            return int(count), newest

        return await self.db.run(work)

    async def all(self) -> list[StoredCamera]:
        """Every camera of every agency (the shard decides which ones this replica runs)."""

        def work(s: Session) -> list[StoredCamera]:
            return [_load(r) for r in s.scalars(select(CameraRow).order_by(CameraRow.id))]

        return await self.db.run(work)

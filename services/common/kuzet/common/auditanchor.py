"""Anchors of the audit chain's head, kept outside the database.

An anchor is a small JSON object ``<prefix>/<seq, 20 digits>.json`` naming the head's seq, MAC,
key id and times. On S3 it is written under object lock in COMPLIANCE mode with a retention
date, so nobody (the bucket's owner included) can delete or overwrite it before that date; a
chain that is shorter than, or differs from, an anchored head then fails verification. Anchors
are read from each key's first version: a later version written over it, or a delete marker
(both allowed under object lock), changes nothing. With a ``file://`` store the anchors are plain
files: they catch mistakes, not an administrator.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from kuzet.common.config import AuditSettings, ServiceSettings
from kuzet.common.errors import AlreadyExists
from kuzet.common.objectstore import ObjectStore, S3ObjectStore, open_object_store
from kuzet.common.timeutil import as_utc, utcnow

_NAME = re.compile(r"/(\d{20})\.json$")
FORMAT = "kuzet.audit.anchor/1"


@dataclass(frozen=True)
class Anchor:
    seq: int
    mac: str
    key_id: str
    recorded_at: datetime
    anchored_at: datetime
    service: str
    object_key: str
    retain_until: datetime | None = None


class AnchorStore:
    """Anchors of one service's chain under ``prefix`` in an object store."""

    def __init__(self, store: ObjectStore, prefix: str, service: str, retention: timedelta) -> None:
        self.store = store
        self.prefix = prefix.rstrip("/")
        self.service = service
        self.retention = retention
        # Object lock is what makes an anchor outlive an administrator's intentions.
        self.locked = isinstance(store, S3ObjectStore) and store.object_lock
        self.description = (
            f"s3 bucket {store.bucket}, object lock COMPLIANCE" if isinstance(store, S3ObjectStore) and self.locked
            else "local files, no object lock"
        )  # fmt: skip

    def key_for(self, seq: int) -> str:
        return f"{self.prefix}/{seq:020d}.json"

    async def write(self, seq: int, mac: str, key_id: str, recorded_at: datetime) -> Anchor:
        """Anchor a head; one already anchored at ``seq`` (another replica's) is returned as it is."""
        now = utcnow()
        anchor = Anchor(
            seq=seq,
            mac=mac,
            key_id=key_id,
            recorded_at=as_utc(recorded_at),
            anchored_at=now,
            service=self.service,
            object_key=self.key_for(seq),
            retain_until=now + self.retention,
        )
        body = {
            "format": FORMAT,
            "seq": seq,
            "mac": mac,
            "key_id": key_id,
            "recorded_at": anchor.recorded_at.isoformat(),
            "anchored_at": now.isoformat(),
            "service": self.service,
        }
        try:
            await self.store.put(
                anchor.object_key,
                json.dumps(body, sort_keys=True).encode(),
                "application/json",
                retain_until=anchor.retain_until,
                overwrite=False,
            )
        except AlreadyExists:
            listing = await self._keys_after(seq - 1)
            return await self.read(anchor.object_key, listing.get(anchor.object_key))
        return anchor

    async def _keys_after(self, seq: int) -> dict[str, str | None]:
        """Anchor keys of seqs above ``seq``, with the version to read (None: the store keeps none).

        S3 lists them from the first key after ``seq`` on, so the cost is the anchors above it,
        not every anchor of the seven years kept.
        """
        start = self.key_for(seq) if seq > 0 else ""
        if isinstance(self.store, S3ObjectStore):
            listing: dict[str, str | None] = dict(
                await self.store.first_versions(self.prefix + "/", start_after=start)
            )
        else:
            listing = {key: None for key in await self.store.list(self.prefix + "/") if key > start}
        return {key: version for key, version in listing.items() if _NAME.search(key)}

    async def read(self, key: str, version_id: str | None = None) -> Anchor:
        if version_id is not None and isinstance(self.store, S3ObjectStore):
            raw = await self.store.get_version(key, version_id)
        else:
            raw = await self.store.get(key)
        try:
            body = json.loads(raw)
            match = _NAME.search(key)
            if body.get("format") != FORMAT or not match or int(match.group(1)) != body["seq"]:
                raise ValueError("not one this service wrote")
            return Anchor(
                seq=int(body["seq"]),
                mac=str(body["mac"]),
                key_id=str(body["key_id"]),
                recorded_at=datetime.fromisoformat(body["recorded_at"]),
                anchored_at=datetime.fromisoformat(body["anchored_at"]),
                service=str(body["service"]),
                object_key=key,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"audit anchor {key}: {exc}") from None

    async def latest(self, head_seq: int = 0) -> Anchor | None:
        """The anchor of the highest seq, or None before the first.

        ``head_seq``, the head the database claims, only narrows the search: any anchor above it
        is found first (the chain was cut), then windows below it, doubling, until one holds an
        anchor (anchors follow the head within a minute, so the first windows usually do).
        """
        found = await self._keys_after(head_seq)
        span = 1
        while not found and head_seq > 0:
            low = max(0, head_seq - span)
            found = await self._keys_after(low)
            if low == 0:
                break
            span *= 2
        if not found:
            return None
        newest = max(found)
        return await self.read(newest, found[newest])


def anchor_store_for(settings: ServiceSettings, audit: AuditSettings) -> AnchorStore:
    """The anchor store a service's settings name (files in its data_dir when none is set)."""
    url = audit.anchor_url or f"file://{(settings.data_dir / 'audit-anchors').resolve()}"
    return AnchorStore(
        open_object_store(url),
        f"{audit.anchor_prefix.rstrip('/')}/{settings.service_name}",
        settings.service_name,
        timedelta(days=audit.anchor_retention_days),
    )

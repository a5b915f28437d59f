"""Signed webhook delivery from the persisted queue, retried with exponential backoff.

Body: the AlertUpdate in protobuf JSON. Headers: ``X-Kuzet-Timestamp`` (unix seconds),
``X-Kuzet-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`` (the timestamp
is signed so a receiver can refuse replays), ``X-Kuzet-Delivery`` and ``traceparent``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from google.protobuf import json_format
from sqlalchemy import select, update

from kuzet.alerting.models import AlertUpdateRow, WebhookDeliveryRow
from kuzet.alerting.store import AlertStore
from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.common.timeutil import utcnow
from kuzet.common.waiting import wait_set

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 300.0
LEASE_MARGIN_S = 30.0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does (documented here; used by the tests)."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


@dataclass
class _Due:
    id: int
    webhook_id: str
    attempts: int
    update: pb.AlertUpdate


class WebhookWorker:
    def __init__(self, store: AlertStore, *, timeout_s: float, max_attempts: int, poll_s: float) -> None:
        self.store = store
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.poll_s = poll_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.delivered = 0
        self.failed = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="alerting-webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def notify(self, updates: list[pb.AlertUpdate]) -> None:
        if self.store.directory.webhooks:
            self._wake.set()

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=self.timeout_s) as client:
            while True:
                try:
                    due = await asyncio.to_thread(self._due, utcnow(), 50)
                    if due:
                        await asyncio.gather(*(self._send(client, d) for d in due))
                        continue
                except Exception:
                    log.exception("webhook delivery round failed")
                self._wake.clear()
                await wait_set(self._wake, self.poll_s)

    def _due(self, now: datetime, limit: int) -> list[_Due]:
        d, u = WebhookDeliveryRow, AlertUpdateRow
        with self.store.db.session() as s:
            query = (
                select(
                    d.id,
                    d.webhook_id,
                    d.attempts,
                    u.cursor,
                    u.kind,
                    u.alert,
                    u.traceparent,
                    u.recorded_at,
                    u.actor,
                )
                .join(u, u.cursor == d.cursor)
                .where(d.status == "pending", d.next_attempt_at <= now)
                .order_by(d.id)
                .limit(limit)
            )
            if not self.store.db.is_sqlite:
                # Replicas share the queue: each claims rows no one else holds.
                query = query.with_for_update(of=d, skip_locked=True)
            rows = list(s.execute(query).mappings())
            if rows:
                # A lease: if this replica dies mid-send, the rows come due again for the others.
                s.execute(
                    update(d)
                    .where(d.id.in_([r["id"] for r in rows]))
                    .values(next_attempt_at=now + timedelta(seconds=self.timeout_s + LEASE_MARGIN_S))
                )
            out = []
            for r in rows:
                upd = pb.AlertUpdate(
                    cursor=r["cursor"],
                    kind=r["kind"],
                    alert=pb.Alert.FromString(r["alert"]),
                    traceparent=r["traceparent"],
                    actor=r["actor"],
                )
                upd.recorded_at.FromDatetime(r["recorded_at"])
                out.append(_Due(r["id"], r["webhook_id"], r["attempts"], upd))
            return out

    async def _send(self, client: httpx.AsyncClient, due: _Due) -> None:
        target = self.store.directory.webhooks.get(due.webhook_id)
        if target is None:
            await asyncio.to_thread(self._finish, due, "failed", "webhook deleted", None)
            return
        body = json_format.MessageToJson(due.update, indent=None).encode()
        ts = str(int(time.time()))
        headers = {
            "content-type": "application/json",
            "x-kuzet-timestamp": ts,
            "x-kuzet-signature": sign(target.secret, ts, body),
            "x-kuzet-delivery": str(due.id),
        }
        if due.update.traceparent:
            headers["traceparent"] = due.update.traceparent
        try:
            response = await client.post(target.webhook.url, content=body, headers=headers)
            error = "" if response.is_success else f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        if not error:
            self.delivered += 1
            await asyncio.to_thread(self._finish, due, "delivered", "", None)
            return
        attempts = due.attempts + 1
        if attempts >= self.max_attempts:
            self.failed += 1
            log.error(
                "webhook %s gave up on delivery %d after %d attempts: %s",
                due.webhook_id,
                due.id,
                attempts,
                error,
                extra={"agency": due.update.alert.agency_id},
            )
            await asyncio.to_thread(self._finish, due, "failed", error, None)
            return
        backoff = min(MAX_BACKOFF_S, 1.0 * 2 ** (attempts - 1))
        log.warning(
            "webhook %s delivery %d failed (%s), retry %d in %.0fs",
            due.webhook_id,
            due.id,
            error,
            attempts,
            backoff,
            extra={"agency": due.update.alert.agency_id},
        )
        await asyncio.to_thread(self._finish, due, "pending", error, utcnow() + timedelta(seconds=backoff))

    def _finish(self, due: _Due, status: str, error: str, next_at: datetime | None) -> None:
        values: dict[str, object] = {"status": status, "attempts": due.attempts + 1, "last_error": error}
        if next_at is not None:
            values["next_attempt_at"] = next_at
        if status == "delivered":
            values["delivered_at"] = utcnow()
        with self.store.db.session() as s:
            s.execute(update(WebhookDeliveryRow).where(WebhookDeliveryRow.id == due.id).values(**values))

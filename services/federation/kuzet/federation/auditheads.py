"""Facility side: the anchored audit chain head of each service of this release, sent up.

Each service anchors its chain head outside its database (kuzet.common.auditanchor); the latest
anchor of every service named in the settings goes to the facility's audit stream, once per new
head (message id = site, service and seq), and on to the hub when the link is up. The hub then
holds, outside the facility, the heads a facility's chains must still contain: a facility chain
later found shorter than, or different from, a head the hub received was rewritten.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from typing import Any

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from kuzet.common.auditanchor import Anchor, AnchorStore
from kuzet.common.config import AuditSettings, ServiceSettings
from kuzet.common.objectstore import open_object_store
from kuzet.federation import streams

log = logging.getLogger(__name__)

FORMAT = "kuzet.federation.audit-head/1"


def head_message(site: str, anchor: Anchor) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "site": site,
        "service": anchor.service,
        "seq": anchor.seq,
        "mac": anchor.mac,
        "key_id": anchor.key_id,
        "recorded_at": anchor.recorded_at.isoformat(),
        "anchored_at": anchor.anchored_at.isoformat(),
        "object_key": anchor.object_key,
    }


class AuditHeads:
    def __init__(
        self,
        js: JetStreamContext,
        site: str,
        settings: ServiceSettings,
        services: list[str],
        audit: AuditSettings,
    ) -> None:
        self.js = js
        self.site = site
        url = audit.anchor_url or f"file://{(settings.data_dir / 'audit-anchors').resolve()}"
        store = open_object_store(url)
        prefix = audit.anchor_prefix.rstrip("/")
        retention = timedelta(days=audit.anchor_retention_days)
        self.anchors = {name: AnchorStore(store, f"{prefix}/{name}", name, retention) for name in services}
        self.sent: dict[str, int] = {}

    async def _sent_seq(self, service: str) -> int:
        if service not in self.sent:
            try:
                last = await self.js.get_last_msg(streams.AUDIT, streams.audit_subject(self.site, service))
                self.sent[service] = int(json.loads(last.data or b"{}").get("seq", 0))
            except NotFoundError:
                self.sent[service] = 0
        return self.sent[service]

    async def send_once(self) -> int:
        """Send every head that moved since the last one sent; how many were sent."""
        moved = 0
        for service, anchors in self.anchors.items():
            sent = await self._sent_seq(service)
            anchor = await anchors.latest(sent)
            if anchor is None or anchor.seq <= sent:
                continue
            await self.js.publish(
                streams.audit_subject(self.site, service),
                json.dumps(head_message(self.site, anchor), sort_keys=True).encode(),
                headers={streams.MSG_ID_HEADER: f"{self.site}.{service}.{anchor.seq}"},
            )
            self.sent[service] = anchor.seq
            moved += 1
        return moved

    async def run(self, interval_s: float) -> None:
        while True:
            try:
                await self.send_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # an unreadable anchor store, the local NATS server restarting
                log.warning("audit heads of %s: %s", self.site, exc)
            await asyncio.sleep(interval_s)

"""In-memory copy of the small configuration tables (sites, shared routes, webhooks).

They are read on every publish and every delivery, and written rarely through this service,
so the store keeps them in memory and refreshes them after each change it commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from kuzet.alerting import domain
from kuzet.alerting.v1 import alerting_pb2
from kuzet.common.timeutil import from_timestamp


@dataclass
class WebhookTarget:
    webhook: alerting_pb2.Webhook
    secret: str


@dataclass
class Directory:
    sites: dict[tuple[str, str], alerting_pb2.SiteConfig] = field(default_factory=dict)
    routes: dict[str, alerting_pb2.SharedRoute] = field(default_factory=dict)
    webhooks: dict[str, WebhookTarget] = field(default_factory=dict)

    def site(self, agency: str, site: str) -> alerting_pb2.SiteConfig | None:
        return self.sites.get((agency, site))

    def shared_with(self, alert: alerting_pb2.Alert, now: datetime) -> list[str]:
        return domain.unique(
            r.target_agency_id for r in self.routes.values() if domain.route_matches(r, alert, now)
        )

    def routes_into(self, agency: str, now: datetime) -> list[alerting_pb2.SharedRoute]:
        """Unexpired routes that let ``agency`` see another agency's alerts."""
        out = []
        for r in self.routes.values():
            if r.target_agency_id != agency:
                continue
            expires = from_timestamp(r.expires_at) if r.HasField("expires_at") else None
            if expires is not None and expires <= now:
                continue
            out.append(r)
        return out

    def webhooks_for(self, alert: alerting_pb2.Alert) -> list[WebhookTarget]:
        if alert.type in domain.INTERNAL_ONLY_TYPES:
            return []
        return [
            w
            for w in self.webhooks.values()
            if w.webhook.enabled
            and w.webhook.agency_id == alert.agency_id
            and domain.filter_matches(w.webhook.filter, alert)
        ]

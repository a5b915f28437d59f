"""Alerting configuration: site configurations (cool-down, acknowledgement timeout, duty), routes
sharing alerts with other agencies, and webhooks; stored, audited and cached in the
``Directory`` that publishing and the operators' queries read.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import false, insert, select, update

from kuzet.alerting import domain
from kuzet.alerting.directory import Directory, WebhookTarget
from kuzet.alerting.models import SharedRouteRow, SiteConfigRow, WebhookRow
from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.common.audit import AuditLog
from kuzet.common.caller import Caller
from kuzet.common.db import Database
from kuzet.common.errors import NotFound, PermissionDenied
from kuzet.common.timeutil import to_timestamp, utcnow


class Configuration:
    """The configuration part of ``AlertStore`` (a mixin: the store owns the attributes)."""

    db: Database
    audit: AuditLog
    directory: Directory
    default_cooldown: timedelta

    def load_directory(self) -> None:
        d = Directory()
        with self.db.session() as s:
            for row in s.execute(select(SiteConfigRow)).scalars():
                d.sites[(row.agency_id, row.site_id)] = pb.SiteConfig.FromString(row.config)
            for rrow in s.execute(select(SharedRouteRow).where(SharedRouteRow.deleted == false())).scalars():
                d.routes[rrow.route_id] = pb.SharedRoute.FromString(rrow.route)
            for wrow in s.execute(select(WebhookRow).where(WebhookRow.deleted == false())).scalars():
                d.webhooks[wrow.webhook_id] = WebhookTarget(pb.Webhook.FromString(wrow.webhook), wrow.secret)
        self.directory = d

    def cooldown(self, agency: str, site: str) -> timedelta:
        cfg = self.directory.site(agency, site)
        if cfg is not None and cfg.cooldown_seconds > 0:
            return timedelta(seconds=cfg.cooldown_seconds)
        return self.default_cooldown

    def put_site_config(self, cfg: pb.SiteConfig, caller: Caller) -> pb.SiteConfig:
        domain.validate_site_config(cfg)
        now = utcnow()
        with self.db.session() as s:
            values = {
                "agency_id": cfg.agency_id,
                "site_id": cfg.site_id,
                "config": cfg.SerializeToString(),
                "updated_by": caller.subject,
                "updated_at": now,
            }
            exists = s.get(SiteConfigRow, (cfg.agency_id, cfg.site_id))
            if exists is None:
                s.execute(insert(SiteConfigRow), [values])
            else:
                s.execute(update(SiteConfigRow), [values])
            self.audit.append(
                "alerting.site_config",
                f"{cfg.agency_id}/{cfg.site_id}",
                details={"duty": len(cfg.duty), "ack_timeout_seconds": cfg.ack_timeout_seconds},
                agency=cfg.agency_id,
                actor=caller.subject,
                session=s,
            )
        self.directory.sites[(cfg.agency_id, cfg.site_id)] = cfg
        return cfg

    def create_route(self, route: pb.SharedRoute, caller: Caller) -> pb.SharedRoute:
        route.route_id = str(uuid.uuid4())
        route.created_by = caller.subject
        route.created_at.CopyFrom(to_timestamp(utcnow()))
        with self.db.session() as s:
            s.add(
                SharedRouteRow(
                    route_id=route.route_id,
                    owner_agency_id=route.owner_agency_id,
                    target_agency_id=route.target_agency_id,
                    route=route.SerializeToString(),
                    deleted=False,
                )
            )
            self.audit.append(
                "alerting.share.create",
                route.route_id,
                details={
                    "target_agency": route.target_agency_id,
                    "sites": list(route.site_ids),
                    "types": list(route.types),
                    "reason": route.reason,
                },
                agency=route.owner_agency_id,
                actor=caller.subject,
                session=s,
            )
        self.directory.routes[route.route_id] = route
        return route

    def delete_route(self, route_id: str, caller: Caller, reason: str) -> None:
        route = self.directory.routes.get(route_id)
        if route is None or (route.owner_agency_id != caller.agency and not caller.has_role("service")):
            raise NotFound(f"shared route {route_id} not found")
        with self.db.session() as s:
            s.execute(update(SharedRouteRow).where(SharedRouteRow.route_id == route_id).values(deleted=True))
            self.audit.append(
                "alerting.share.delete",
                route_id,
                details={"target_agency": route.target_agency_id, "reason": reason},
                agency=route.owner_agency_id,
                actor=caller.subject,
                session=s,
            )
        self.directory.routes.pop(route_id, None)

    def create_webhook(self, hook: pb.Webhook, caller: Caller) -> pb.Webhook:
        secret = hook.secret
        hook.webhook_id = str(uuid.uuid4())
        hook.secret = ""
        hook.created_by = caller.subject
        hook.created_at.CopyFrom(to_timestamp(utcnow()))
        with self.db.session() as s:
            s.add(
                WebhookRow(
                    webhook_id=hook.webhook_id,
                    agency_id=hook.agency_id,
                    webhook=hook.SerializeToString(),
                    secret=secret,
                    deleted=False,
                )
            )
            # The URL may carry credentials: the audit keeps only the host.
            host = hook.url.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1]
            self.audit.append(
                "alerting.webhook.create",
                hook.webhook_id,
                details={"host": host},
                agency=hook.agency_id,
                actor=caller.subject,
                session=s,
            )
        self.directory.webhooks[hook.webhook_id] = WebhookTarget(hook, secret)
        return hook

    def delete_webhook(self, webhook_id: str, caller: Caller) -> None:
        target = self.directory.webhooks.get(webhook_id)
        if target is None or (target.webhook.agency_id != caller.agency and not caller.has_role("service")):
            raise NotFound(f"webhook {webhook_id} not found")
        with self.db.session() as s:
            s.execute(update(WebhookRow).where(WebhookRow.webhook_id == webhook_id).values(deleted=True))
            self.audit.append(
                "alerting.webhook.delete",
                webhook_id,
                agency=target.webhook.agency_id,
                actor=caller.subject,
                session=s,
            )
        self.directory.webhooks.pop(webhook_id, None)

    def require_owner(self, caller: Caller, agency: str) -> None:
        if agency != caller.agency and not caller.has_role("service"):
            raise PermissionDenied(f"agency {caller.agency or '?'} may not configure agency {agency}")

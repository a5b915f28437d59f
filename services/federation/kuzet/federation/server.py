"""The federation service (default port 50058): ``SearchSites`` at a hub, its audit trail, health;
the rest of its work is background tasks.

At a facility: the alert follower, the audit heads, the watchlist applier and the answerer of the
hub's cross-site searches. At a hub: the alert relay, the source kicker, the watchlist forwarder
(the hub identity's watchlist changes into the hub's watchlist stream) and ``SearchSites``; at a
region hub under a nation, also the applier of the nation's watchlist changes. Both ends first
make sure their JetStream streams exist (kuzet.federation.streams).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

import nats
from nats.aio.client import Client as NATS

from kuzet.common.audit import open_audit_log
from kuzet.common.auditservice import SERVICE_NAME as AUDIT_SERVICE_NAME
from kuzet.common.auditservice import add_audit_service
from kuzet.common.caller import service_caller
from kuzet.common.config import AuditSettings, Endpoints, load_settings
from kuzet.common.db import Database
from kuzet.common.grpcclient import open_channel
from kuzet.common.grpcserver import GrpcServer, ServiceSpec
from kuzet.common.runner import run_service
from kuzet.common.waiting import cancel_all
from kuzet.federation import streams
from kuzet.federation.auditheads import AuditHeads
from kuzet.federation.config import FederationSettings
from kuzet.federation.follower import AlertFollower
from kuzet.federation.relay import AlertRelay
from kuzet.federation.search import SiteSearcher, SiteSearchResponder
from kuzet.federation.sources import SourceKicker
from kuzet.federation.v1 import federation_pb2, federation_pb2_grpc
from kuzet.federation.watchlist import WatchlistApplier, WatchlistForwarder

log = logging.getLogger(__name__)

DAY_S = 86_400.0
SERVICE_NAME = federation_pb2.DESCRIPTOR.services_by_name["FederationService"].full_name


class FederationServer(GrpcServer):
    """The server with the parts tests and the bench look at (None where the role has none)."""

    follower: AlertFollower | None = None
    relay: AlertRelay | None = None
    sources: SourceKicker | None = None
    audit_heads: AuditHeads | None = None
    watchlists: WatchlistApplier | None = None
    forwarder: WatchlistForwarder | None = None
    searches: SiteSearchResponder | None = None
    nats: NATS | None = None


async def connect(url: str, name: str) -> NATS:
    """A connection that keeps reconnecting: the local NATS server restarting is an outage, not an end."""
    return await nats.connect(url, name=name, max_reconnect_attempts=-1, reconnect_time_wait=0.5)


async def build(
    settings: FederationSettings,
    *,
    port: int | None = None,
    alerting_address: str | None = None,
    identity_address: str | None = None,
    audit: AuditSettings | None = None,
) -> FederationServer:
    """The server, ready to start(); tests name their own alerting, identity and audit settings."""
    endpoints = Endpoints()
    audit = audit or load_settings(AuditSettings)
    # Its own trail: the hub's record of every cross-site search.
    database = Database(settings.effective_database_url)
    trail = await asyncio.to_thread(open_audit_log, settings, database, audit)
    alerting = open_channel(
        alerting_address or endpoints.alerting, audience="alerting", caller=service_caller("federation")
    )
    # Watchlist changes are applied as the agency they belong to (the current caller of each); the
    # hub's forwarder reads them as the federation service.
    identity = open_channel(identity_address or endpoints.identity, audience="identity")
    tasks: list[asyncio.Task[None]] = []

    async def start() -> None:
        if not settings.nats_url:
            log.info("federation off: no NATS server set (KUZET_FEDERATION_NATS_URL)")
            return
        server.nats = await connect(settings.nats_url, f"kuzet-federation-{settings.site_id}")
        js = server.nats.jetstream()
        jobs: list[Coroutine[Any, Any, None]] = []
        max_age_s = settings.max_age_days * DAY_S
        if settings.role == "hub":
            configs = streams.hub_streams(
                settings.facilities,
                hub=settings.hub_domain,
                upstream=settings.upstream_domain,
                duplicate_window_s=settings.duplicate_window_s,
                max_age_s=max_age_s,
            )
            await streams.ensure_streams(js, configs)
            server.sources = SourceKicker(
                server.nats, js, configs, settings.facilities, interval_s=settings.source_check_s
            )
            server.relay = AlertRelay(
                alerting,
                js,
                settings.facilities,
                batch=settings.relay_batch,
                wait_s=settings.relay_wait_s,
                retry_s=settings.retry_s,
            )
            jobs.extend([server.relay.run(), server.sources.run()])
            if settings.forward_watchlists:
                server.forwarder = WatchlistForwarder(
                    identity, js, settings.hub_domain, retry_s=settings.retry_s
                )
                jobs.append(server.forwarder.run())
            if settings.upstream_domain and settings.apply_watchlists:
                server.watchlists = WatchlistApplier(
                    identity, js, stream=streams.WATCHLIST_UP, retry_s=settings.retry_s
                )
                jobs.append(server.watchlists.run())
        else:
            await streams.ensure_streams(
                js,
                streams.facility_streams(
                    settings.site_id,
                    hub_domain=settings.hub_domain,
                    duplicate_window_s=settings.duplicate_window_s,
                    max_age_s=max_age_s,
                ),
            )
            server.follower = AlertFollower(alerting, js, settings.site_id, retry_s=settings.retry_s)
            server.audit_heads = AuditHeads(js, settings.site_id, settings, settings.audit_services, audit)
            jobs.extend([server.follower.run(), server.audit_heads.run(settings.audit_interval_s)])
            if settings.apply_watchlists:
                server.watchlists = WatchlistApplier(identity, js, retry_s=settings.retry_s)
                jobs.append(server.watchlists.run())
            if settings.answer_searches:
                server.searches = SiteSearchResponder(server.nats, identity, settings.site_id)
                jobs.append(server.searches.run())
        tasks.extend(asyncio.create_task(job) for job in jobs)

    async def stop() -> None:
        await cancel_all(tasks)
        if server.nats is not None:
            await server.nats.close()
        await alerting.close()
        await identity.close()
        await trail.stop()
        database.dispose()

    searcher = SiteSearcher(
        lambda: server.nats, trail, settings.facilities, settings.site_id, timeout_s=settings.search_timeout_s
    )
    server = FederationServer(
        settings,
        [(federation_pb2_grpc.add_FederationServiceServicer_to_server, searcher), add_audit_service(trail)],
        [SERVICE_NAME, AUDIT_SERVICE_NAME],
        port=port,
        on_start=[trail.start, start],
        on_stop=[stop],
    )
    return server


async def _run() -> None:
    await run_service(FederationSettings, build)


# After alerting, whose updates it follows.
SPEC = ServiceSpec(name="federation", default_port=FederationSettings.default_port, run=_run, order=80)

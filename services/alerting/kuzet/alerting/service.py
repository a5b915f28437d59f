"""gRPC servicer of AlertingService: checks who may do what, then calls the pipeline and store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import cast
from urllib.parse import urlparse

import grpc
from opentelemetry import trace

from kuzet.alerting import domain
from kuzet.alerting.config import AlertingSettings
from kuzet.alerting.fanout import Hub
from kuzet.alerting.folding import Incoming
from kuzet.alerting.outcomes import read_outcomes
from kuzet.alerting.oversight import Oversight, require_writer
from kuzet.alerting.pipeline import Pipeline
from kuzet.alerting.store import AlertStore, Visibility, alert_keys, since_until
from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.alerting.v1 import alerting_pb2_grpc
from kuzet.common.caller import Caller, current_caller
from kuzet.common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from kuzet.common.events import OVERSIGHT_TYPES
from kuzet.common.paging import Paging
from kuzet.common.telemetry import context_from_traceparent, traceparent
from kuzet.common.timeutil import from_timestamp, to_timestamp, utcnow
from kuzet.common.waiting import within

tracer = trace.get_tracer("kuzet.alerting")
PAGING = Paging(default=100, maximum=500)
REPLAY_PAGE = 500
MAX_STREAM_BATCH = 500
ADMIN_ROLES = ("admin", "service")
ACT_ROLES = ("operator", "admin", "service", "reviewer", "pilot", "investigator")


def _who(caller: Caller) -> Caller:
    if caller.is_anonymous:
        raise PermissionDenied("this call needs a caller identity (x-kuzet-subject metadata)")
    if len(caller.subject) > 256:
        raise InvalidArgument("caller subject is longer than 256 characters")
    return caller


def _writer(caller: Caller) -> Caller:
    """A caller that may change something (the read-only oversight role may not)."""
    _who(caller)
    require_writer(caller)
    return caller


class AlertingServicer(alerting_pb2_grpc.AlertingServiceServicer):
    def __init__(
        self,
        settings: AlertingSettings,
        store: AlertStore,
        pipeline: Pipeline,
        hub: Hub,
        oversight: Oversight,
    ) -> None:
        self.settings = settings
        self.store = store
        self.pipeline = pipeline
        self.hub = hub
        self.oversight = oversight

    # ------------------------------------------------------------------ intake

    async def Publish(
        self, request: pb.PublishRequest, context: grpc.aio.ServicerContext
    ) -> pb.PublishResponse:
        caller = current_caller()
        if not request.HasField("event"):
            raise InvalidArgument("event is required")
        domain.validate_event(request.event, caller)
        require_writer(caller)
        domain.redact_unconfirmed(request.event)
        (out,) = await self.pipeline.publish([Incoming(request.event, caller.subject[:256], traceparent())])
        if out.disposition == pb.PUBLISH_DISPOSITION_REJECTED:
            raise FailedPrecondition(out.error)
        return pb.PublishResponse(
            alert_id=out.alert_id,
            disposition=cast(pb.PublishDisposition, out.disposition),
            count=out.count,
            cursor=out.cursor,
        )

    async def PublishBatch(
        self, request: pb.PublishBatchRequest, context: grpc.aio.ServicerContext
    ) -> pb.PublishBatchResponse:
        caller = _writer(current_caller())
        if not request.events:
            raise InvalidArgument("events is empty")
        if len(request.events) > domain.MAX_BATCH:
            raise InvalidArgument(f"at most {domain.MAX_BATCH} events per batch, got {len(request.events)}")
        tp = traceparent()
        parents = list(request.traceparents)
        if parents and len(parents) != len(request.events):
            raise InvalidArgument(
                f"traceparents must be empty or one per event ({len(parents)} for {len(request.events)} events)"
            )
        for i, value in enumerate(parents):
            if value and not domain.TRACEPARENT.fullmatch(value):
                raise InvalidArgument(
                    f"traceparents[{i}] is not a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)"
                )
        results: list[pb.PublishResult | None] = []
        valid: list[Incoming] = []
        for i, event in enumerate(request.events):
            try:
                domain.validate_event(event, caller)
            except (InvalidArgument, PermissionDenied) as exc:
                results.append(
                    pb.PublishResult(
                        event_id=event.event_id,
                        disposition=pb.PUBLISH_DISPOSITION_REJECTED,
                        error=exc.message,
                    )
                )
                continue
            domain.redact_unconfirmed(event)
            results.append(None)
            valid.append(Incoming(event, caller.subject[:256], (parents[i] if parents else "") or tp))
        outcomes = iter(await self.pipeline.publish(valid) if valid else [])
        return pb.PublishBatchResponse(
            results=[r if r is not None else next(outcomes).to_result() for r in results]
        )

    # ------------------------------------------------------------------ reading

    def _visibility(self, caller: Caller, agency: str) -> Visibility:
        _who(caller)
        now = utcnow()
        if caller.has_role("service"):
            if not agency:
                return Visibility(None, [])
            return Visibility({agency}, self.store.directory.routes_into(agency, now))
        routes = self.store.directory.routes_into(caller.agency, now)
        return Visibility(
            {caller.agency},
            routes,
            domain.hidden_types(caller),
            self.oversight.overseen_by(caller),
            caller.sites,
        )

    async def _record_reads(self, caller: Caller, alerts: list[pb.Alert], via: str) -> None:
        """Every read of an oversight alert is on the audit trail (who, which alerts, how)."""
        if any(a.type in OVERSIGHT_TYPES for a in alerts):
            await asyncio.to_thread(self.oversight.record_reads, caller, alerts, via)

    async def Subscribe(
        self, request: pb.SubscribeRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.SubscribeResponse]:
        caller = current_caller()
        f = request.filter
        domain.validate_filter(f)
        vis = self._visibility(caller, f.agency_id)
        only_agency = f.agency_id if f.agency_id and not caller.has_role("service") else ""

        def accepts(update: pb.AlertUpdate) -> bool:
            alert = update.alert
            if only_agency and alert.agency_id != only_agency:
                return False
            return domain.filter_matches(f, alert) and vis.allows(alert, utcnow())

        max_batch = request.max_batch
        if not 0 <= max_batch <= MAX_STREAM_BATCH:
            raise InvalidArgument(f"max_batch must be between 0 and {MAX_STREAM_BATCH}")
        batching = max_batch > 1

        sub = self.hub.subscribe(accepts)
        try:
            last = request.after_cursor if request.HasField("after_cursor") else self.hub.last_cursor
            if last < 0:
                raise InvalidArgument("after_cursor must be >= 0")
            if request.HasField("after_cursor"):
                oldest = await asyncio.to_thread(self.store.min_cursor)
                if last and oldest and last < oldest - 1:
                    # Updates in between were pruned: resuming would silently skip them.
                    raise FailedPrecondition(
                        f"cursor {last} is older than the retained log (oldest {oldest}); "
                        "list open alerts with ListAlerts, then subscribe from the current cursor"
                    )
                async for response, reached in self._replay_responses(last, vis, accepts, caller, max_batch):
                    yield response
                    last = reached
            yield pb.SubscribeResponse(heartbeat=pb.Heartbeat(cursor=last, sent_at=to_timestamp(utcnow())))
            while True:
                if sub.overflowed:
                    # Too slow for the live stream: catch up from the log, then continue live.
                    sub.reset()
                    start = last
                    async for response, reached in self._replay_responses(
                        start, vis, accepts, caller, max_batch
                    ):
                        yield response
                        last = reached
                    continue
                if sub.queue.empty():
                    # Only an idle stream pays for a timer; a busy one takes what is queued.
                    try:
                        await within(self.settings.heartbeat_s, sub.ready())
                    except TimeoutError:
                        yield pb.SubscribeResponse(
                            heartbeat=pb.Heartbeat(
                                cursor=self.hub.last_cursor, sent_at=to_timestamp(utcnow())
                            )
                        )
                    continue
                if batching:
                    # Everything already waiting goes in one message: fewer, larger writes.
                    chunk: list[pb.AlertUpdate] = []
                    while not sub.queue.empty() and len(chunk) < max_batch:
                        update, _ = sub.queue.get_nowait()
                        if update.cursor > last:
                            chunk.append(update)
                            last = update.cursor
                    if chunk:
                        await self._record_reads(caller, [u.alert for u in chunk], "stream")
                        yield self._deliver_batch(chunk, caller)
                    continue
                update, response = sub.queue.get_nowait()
                if update.cursor <= last:
                    continue
                last = update.cursor
                await self._record_reads(caller, [update.alert], "stream")
                yield self._deliver(update, caller, response)
        finally:
            self.hub.unsubscribe(sub)

    async def _replay_responses(
        self, after: int, vis: Visibility, accepts: object, caller: Caller, max_batch: int
    ) -> AsyncIterator[tuple[pb.SubscribeResponse, int]]:
        """The log after ``after`` as stream messages, each with the cursor it brings the client to."""
        chunk: list[pb.AlertUpdate] = []
        async for update in self._replay(after, vis, accepts):
            if max_batch <= 1:
                await self._record_reads(caller, [update.alert], "stream")
                yield self._deliver(update, caller), update.cursor
                continue
            chunk.append(update)
            if len(chunk) >= max_batch:
                await self._record_reads(caller, [u.alert for u in chunk], "stream")
                yield self._deliver_batch(chunk, caller), chunk[-1].cursor
                chunk = []
        if chunk:
            await self._record_reads(caller, [u.alert for u in chunk], "stream")
            yield self._deliver_batch(chunk, caller), chunk[-1].cursor

    @classmethod
    def _deliver_batch(cls, updates: list[pb.AlertUpdate], caller: Caller) -> pb.SubscribeResponse:
        for update in updates:
            cls._trace(update, caller)
        return pb.SubscribeResponse(batch=pb.AlertUpdateBatch(updates=updates))

    async def _replay(self, after: int, vis: Visibility, accepts: object) -> AsyncIterator[pb.AlertUpdate]:
        owners = vis.owners()
        check = accepts if callable(accepts) else None
        while True:
            page = await asyncio.to_thread(self.store.updates_after, after, owners, REPLAY_PAGE)
            for update in page:
                after = update.cursor
                if check is None or check(update):
                    yield update
            if len(page) < REPLAY_PAGE:
                return

    @classmethod
    def _deliver(
        cls, update: pb.AlertUpdate, caller: Caller, response: pb.SubscribeResponse | None = None
    ) -> pb.SubscribeResponse:
        cls._trace(update, caller)
        return response if response is not None else pb.SubscribeResponse(update=update)

    @staticmethod
    def _trace(update: pb.AlertUpdate, caller: Caller) -> None:
        # A child of the publish that caused the update: camera -> alerting -> console is one trace.
        span = tracer.start_span(
            "alerting.deliver",
            context=context_from_traceparent(update.traceparent),
            attributes={
                "kuzet.alert_id": update.alert.alert_id,
                "kuzet.cursor": update.cursor,
                "kuzet.subscriber": caller.subject,
                "kuzet.agency": update.alert.agency_id,
            },
        )
        span.end()

    async def ListAlerts(
        self, request: pb.ListAlertsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAlertsResponse:
        caller = current_caller()
        f = request.filter
        domain.validate_filter(f)
        vis = self._visibility(caller, f.agency_id)
        if f.agency_id and not caller.has_role("service"):
            vis = (
                Visibility({f.agency_id}, [], vis.hidden_types, sites=vis.sites)
                if f.agency_id == caller.agency
                else _only_shared(vis, f.agency_id)
            )
        size = PAGING.size(request.page)
        after = alert_keys(request.order).after(request.page.page_token)
        since, until = since_until(request)
        alerts, token = await asyncio.to_thread(
            self.store.list_alerts,
            vis,
            f,
            list(request.states),
            since,
            until,
            request.order,
            after,
            size,
        )
        await self._record_reads(caller, alerts, "list")
        return pb.ListAlertsResponse(alerts=alerts, page={"next_page_token": token})

    async def GetAlert(
        self, request: pb.GetAlertRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAlertResponse:
        if not request.alert_id:
            raise InvalidArgument("alert_id is required")
        caller = current_caller()
        vis = self._visibility(caller, "")
        alert, history = await asyncio.to_thread(
            self.store.get, request.alert_id, vis, request.include_history
        )
        await self._record_reads(caller, [alert], "get")
        return pb.GetAlertResponse(alert=alert, history=history)

    async def GetOutcomeReport(
        self, request: pb.GetOutcomeReportRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetOutcomeReportResponse:
        caller = _who(current_caller())
        if not caller.agency:
            raise InvalidArgument("the outcome report is per agency: the caller has none")
        since = from_timestamp(request.since) if request.HasField("since") else None
        until = from_timestamp(request.until) if request.HasField("until") else None
        if since is not None and until is not None and until <= since:
            raise InvalidArgument("until must be after since")
        rules = await asyncio.to_thread(
            read_outcomes,
            self.store.db,
            caller.agency,
            since,
            until,
            list(request.types),
            _within_sites(caller, request.site_ids),
            domain.hidden_types(caller),
        )
        return pb.GetOutcomeReportResponse(rules=rules)

    # ------------------------------------------------------------------ lifecycle

    async def Acknowledge(
        self, request: pb.AcknowledgeRequest, context: grpc.aio.ServicerContext
    ) -> pb.AcknowledgeResponse:
        caller = _writer(current_caller())
        caller.require_role(*ACT_ROLES)
        if not request.alert_id:
            raise InvalidArgument("alert_id is required")
        tp = traceparent()
        (update,) = await self.pipeline.write(
            lambda: [self.store.acknowledge(request.alert_id, caller, request.note, tp)]
        )
        return pb.AcknowledgeResponse(alert=update.alert)

    async def Resolve(
        self, request: pb.ResolveRequest, context: grpc.aio.ServicerContext
    ) -> pb.ResolveResponse:
        caller = _writer(current_caller())
        caller.require_role(*ACT_ROLES)
        if not request.alert_id:
            raise InvalidArgument("alert_id is required")
        tp = traceparent()
        (update,) = await self.pipeline.write(
            lambda: [self.store.resolve(request.alert_id, caller, request.outcome, request.note, tp)]
        )
        return pb.ResolveResponse(alert=update.alert)

    # ------------------------------------------------------------------ configuration

    def _admin(self, agency: str) -> tuple[Caller, str]:
        caller = _writer(current_caller())
        caller.require_role(*ADMIN_ROLES)
        agency = agency or caller.agency
        if not agency:
            raise InvalidArgument("agency_id is required")
        self.store.require_owner(caller, agency)
        return caller, agency

    async def PutSiteConfig(
        self, request: pb.PutSiteConfigRequest, context: grpc.aio.ServicerContext
    ) -> pb.PutSiteConfigResponse:
        cfg = pb.SiteConfig()
        cfg.CopyFrom(request.config)
        caller, cfg.agency_id = self._admin(cfg.agency_id)
        saved = await asyncio.to_thread(self.store.put_site_config, cfg, caller)
        return pb.PutSiteConfigResponse(config=saved)

    async def GetSiteConfig(
        self, request: pb.GetSiteConfigRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetSiteConfigResponse:
        caller = _who(current_caller())
        agency = request.agency_id or caller.agency
        caller.require_agency(agency)
        cfg = self.store.directory.site(agency, request.site_id)
        if cfg is None:
            raise NotFound(f"site {request.site_id} of agency {agency} has no alerting configuration")
        return pb.GetSiteConfigResponse(config=cfg)

    async def ListSiteConfigs(
        self, request: pb.ListSiteConfigsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListSiteConfigsResponse:
        caller = _who(current_caller())
        agency = request.agency_id or caller.agency
        caller.require_agency(agency)
        configs = [c for (a, _), c in sorted(self.store.directory.sites.items()) if a == agency]
        return pb.ListSiteConfigsResponse(configs=configs)

    async def CreateSharedRoute(
        self, request: pb.CreateSharedRouteRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateSharedRouteResponse:
        route = pb.SharedRoute()
        route.CopyFrom(request.route)
        caller, route.owner_agency_id = self._admin(route.owner_agency_id)
        if not route.target_agency_id:
            raise InvalidArgument("route.target_agency_id is required")
        if route.target_agency_id == route.owner_agency_id:
            raise InvalidArgument("route.target_agency_id must be another agency")
        if not route.reason.strip():
            raise InvalidArgument("route.reason is required (legal basis or agreement): sharing is audited")
        unknown = [t for t in route.types if t not in domain.EVENT_TYPES]
        if unknown:
            raise InvalidArgument(f"route.types has unknown event types: {', '.join(unknown)}")
        saved = await asyncio.to_thread(self.store.create_route, route, caller)
        return pb.CreateSharedRouteResponse(route=saved)

    async def DeleteSharedRoute(
        self, request: pb.DeleteSharedRouteRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteSharedRouteResponse:
        caller = _writer(current_caller())
        caller.require_role(*ADMIN_ROLES)
        await asyncio.to_thread(self.store.delete_route, request.route_id, caller, request.reason)
        return pb.DeleteSharedRouteResponse()

    async def ListSharedRoutes(
        self, request: pb.ListSharedRoutesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListSharedRoutesResponse:
        caller = _who(current_caller())
        agency = request.agency_id or caller.agency
        caller.require_agency(agency)
        routes = [
            r
            for r in self.store.directory.routes.values()
            if agency in (r.owner_agency_id, r.target_agency_id)
        ]
        return pb.ListSharedRoutesResponse(routes=routes)

    async def CreateWebhook(
        self, request: pb.CreateWebhookRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateWebhookResponse:
        hook = pb.Webhook()
        hook.CopyFrom(request.webhook)
        caller, hook.agency_id = self._admin(hook.agency_id)
        url = urlparse(hook.url)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise InvalidArgument("webhook.url must be an http(s) URL")
        if len(hook.secret) < 16:
            raise InvalidArgument(
                "webhook.secret must be at least 16 characters (it keys the HMAC signature)"
            )
        domain.validate_filter(hook.filter)
        saved = await asyncio.to_thread(self.store.create_webhook, hook, caller)
        return pb.CreateWebhookResponse(webhook=saved)

    async def DeleteWebhook(
        self, request: pb.DeleteWebhookRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteWebhookResponse:
        caller = _writer(current_caller())
        caller.require_role(*ADMIN_ROLES)
        await asyncio.to_thread(self.store.delete_webhook, request.webhook_id, caller)
        return pb.DeleteWebhookResponse()

    async def ListWebhooks(
        self, request: pb.ListWebhooksRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListWebhooksResponse:
        caller = _who(current_caller())
        agency = request.agency_id or caller.agency
        caller.require_agency(agency)
        hooks = [t.webhook for t in self.store.directory.webhooks.values() if t.webhook.agency_id == agency]
        return pb.ListWebhooksResponse(webhooks=hooks)


def _only_shared(vis: Visibility, owner: str) -> Visibility:
    """A caller asking for another agency's alerts sees only what that agency shares with it
    (and, for an oversight agency, that agency's oversight alerts)."""
    routes = [r for r in vis.routes if r.owner_agency_id == owner]
    return Visibility(set(), routes, vis.hidden_types, vis.oversees & {owner})


def _within_sites(caller: Caller, asked: Sequence[str]) -> list[str]:
    """The sites a per-site report covers: those asked (all: empty) within the caller's limit."""
    if not caller.sites:
        return list(asked)
    if outside := sorted(set(asked) - caller.sites):
        raise PermissionDenied(f"sites {', '.join(outside)} are outside {caller.subject}'s sites")
    return list(asked) or sorted(caller.sites)

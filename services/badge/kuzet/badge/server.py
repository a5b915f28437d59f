"""The badge gRPC server: BadgeService + the audit trail, and the jobs that run beside it."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from grpc_health.v1 import health_pb2

from kuzet.badge.config import BadgeSettings
from kuzet.badge.evidence import EvidenceStore
from kuzet.badge.records import Records
from kuzet.badge.registry import Registry
from kuzet.badge.telemetry.hub import TelemetryHub
from kuzet.badge.telemetry.link import QueuedLink
from kuzet.badge.telemetry.live import BadgeLive
from kuzet.badge.telemetry.rules import RuleEngine
from kuzet.badge.telemetry.session import ConnectSessions
from kuzet.badge.telemetry.wire import DeviceEndpoint
from kuzet.badge.v1 import badge_pb2, badge_pb2_grpc
from kuzet.common.audit import open_audit_log
from kuzet.common.auditservice import AuditServicer
from kuzet.common.caller import Caller, current_caller, service_caller
from kuzet.common.config import Endpoints
from kuzet.common.db import Database, migrate
from kuzet.common.dblease import open_lease_lock
from kuzet.common.errors import InvalidArgument
from kuzet.common.grpcserver import GrpcServer, ServiceSpec
from kuzet.common.k8s import LeaderElector, LeaseLock, pod_identity
from kuzet.common.objectstore import ObjectStore, open_object_store
from kuzet.common.paging import PageToken, Paging, page_list
from kuzet.common.runner import run_service
from kuzet.common.timeutil import from_timestamp
from kuzet.common.v1 import audit_pb2_grpc, common_pb2

log = logging.getLogger(__name__)
A = badge_pb2
# Live states are in memory, sorted by badge id: a page resumes after the last badge sent.
STATE_PAGING = Paging(default=1000, maximum=10_000, clamp=True)
STATE_TOKEN = PageToken("badge.states", str)
# Health of what several replicas need of the database (one machine or many pods alike).
REPLICAS_HEALTH = f"{A.DESCRIPTOR.services_by_name['BadgeService'].full_name}/replicas"
REPLICAS_HEALTH_INTERVAL_S = 1.0


class EventPublisher(Protocol):
    """What the service needs of kuzet.common.eventsink.EventSink."""

    def publish(self, event: common_pb2.Event) -> None: ...


class BadgeServicer(badge_pb2_grpc.BadgeServiceServicer):
    def __init__(
        self,
        settings: BadgeSettings,
        hub: TelemetryHub,
        registry: Registry,
        evidence: EvidenceStore,
        records: Records,
    ) -> None:
        self.settings = settings
        self.hub = hub
        self.registry = registry
        self.evidence = evidence
        self.records = records
        self.sessions = ConnectSessions(settings, hub)

    # -- registry ----------------------------------------------------------------------------

    async def RegisterBadge(self, request: Any, context: Any) -> badge_pb2.RegisterBadgeResponse:
        return await self.registry.register(current_caller(), request)

    async def GetBadge(self, request: Any, context: Any) -> badge_pb2.GetBadgeResponse:
        return await self.registry.get(current_caller(), request.badge_id)

    async def ListBadges(self, request: Any, context: Any) -> badge_pb2.ListBadgesResponse:
        return await self.registry.list_badges(current_caller(), request)

    async def AssignOfficer(self, request: Any, context: Any) -> badge_pb2.AssignOfficerResponse:
        return await self.registry.assign_officer(current_caller(), request)

    async def UpdateBadge(self, request: Any, context: Any) -> badge_pb2.UpdateBadgeResponse:
        return A.UpdateBadgeResponse(badge=await self.registry.update(current_caller(), request))

    async def IssueDeviceCredential(
        self, request: Any, context: Any
    ) -> badge_pb2.IssueDeviceCredentialResponse:
        return await self.registry.issue_credential(current_caller(), request.badge_id)

    async def RevokeDeviceCredential(
        self, request: Any, context: Any
    ) -> badge_pb2.RevokeDeviceCredentialResponse:
        return await self.registry.revoke_credential(current_caller(), request.badge_id)

    # -- live link ---------------------------------------------------------------------------

    def _live(self, caller: Caller, badge_id: str) -> BadgeLive:
        return self.hub.live_for(caller, badge_id)

    async def Connect(
        self, request_iterator: AsyncIterator[badge_pb2.ConnectRequest], context: Any
    ) -> AsyncIterator[badge_pb2.ConnectResponse]:
        first = await anext(aiter(request_iterator), None)
        live = self.sessions.open(current_caller(), first)
        link = QueuedLink(live.badge_id, live.acked_seq)
        self.hub.attach(live, link)
        reader = asyncio.create_task(self._read(live, link, request_iterator))
        try:
            yield self.sessions.welcome(live)
            async for message in link.outgoing():
                yield message
        finally:
            reader.cancel()
            self.hub.detach(live, link)

    async def _read(
        self, live: BadgeLive, link: QueuedLink, requests: AsyncIterator[badge_pb2.ConnectRequest]
    ) -> None:
        try:
            async for message in requests:
                self.sessions.receive(live, message)
            await self.sessions.goodbye(live, link)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            link.close(exc)

    async def SendCommand(self, request: Any, context: Any) -> badge_pb2.SendCommandResponse:
        caller = current_caller()
        caller.require_role("operator", "admin", "service")
        live = self._live(caller, request.badge_id)
        if request.command.WhichOneof("command") is None:
            raise InvalidArgument("command names no action")
        command = A.BadgeCommand()
        command.CopyFrom(request.command)
        command.command_id = uuid.uuid4().hex
        delivered = await self.hub.send_command(live, command)
        return A.SendCommandResponse(command_id=command.command_id, delivered=delivered)

    async def GetBadgeState(self, request: Any, context: Any) -> badge_pb2.GetBadgeStateResponse:
        return A.GetBadgeStateResponse(state=self._live(current_caller(), request.badge_id).to_proto())

    async def ListBadgeStates(self, request: Any, context: Any) -> badge_pb2.ListBadgeStatesResponse:
        caller = current_caller()
        agency = request.agency_id or caller.agency
        caller.require_agency(agency)
        size = STATE_PAGING.size(request.page)
        after = STATE_TOKEN.decode(request.page.page_token)
        states = self.hub.states(agency, request.unit_id, request.connected_only)
        page, token = page_list(states, STATE_TOKEN, after, size, lambda s: (s.badge_id,))
        response = A.ListBadgeStatesResponse(states=[s.to_proto() for s in page])
        response.page.next_page_token = token
        return response

    async def WatchBadgeStates(
        self, request: Any, context: Any
    ) -> AsyncIterator[badge_pb2.WatchBadgeStatesResponse]:
        caller = current_caller()
        agency = request.agency_id or caller.agency
        caller.require_agency(agency)
        with self.hub.watch(agency, request.unit_id) as watcher:
            snapshot = self.hub.states(agency, request.unit_id)
            for i, live in enumerate(snapshot):
                yield A.WatchBadgeStatesResponse(
                    state=live.to_proto(), snapshot_complete=i == len(snapshot) - 1
                )
            if not snapshot:
                yield A.WatchBadgeStatesResponse(snapshot_complete=True)
            while True:
                await watcher.wake.wait()
                watcher.wake.clear()
                dirty, watcher.dirty = watcher.dirty, {}
                for badge_id in dirty:
                    changed = self.hub.badges.get(badge_id)
                    if changed is not None:
                        yield A.WatchBadgeStatesResponse(state=changed.to_proto())

    async def GetTelemetryHistory(self, request: Any, context: Any) -> badge_pb2.GetTelemetryHistoryResponse:
        from kuzet.badge.telemetry.history import read_history

        live = self._live(current_caller(), request.badge_id)
        return await read_history(
            self.hub.database,
            live.badge_id,
            from_timestamp(request.since),
            from_timestamp(request.until),
            request.page,
        )

    # -- evidence ----------------------------------------------------------------------------

    async def UploadEvidence(self, request_iterator: Any, context: Any) -> badge_pb2.UploadEvidenceResponse:
        return await self.evidence.upload(current_caller(), request_iterator)

    async def GetUploadStatus(self, request: Any, context: Any) -> badge_pb2.GetUploadStatusResponse:
        return await self.evidence.upload_status(current_caller(), request.upload_id)

    async def GetEvidence(self, request: Any, context: Any) -> badge_pb2.GetEvidenceResponse:
        return await self.evidence.get(
            current_caller(), request.evidence_id, request.include_download_url, request.reason
        )

    async def ListEvidence(self, request: Any, context: Any) -> badge_pb2.ListEvidenceResponse:
        return await self.evidence.list_evidence(current_caller(), request)

    async def GetCustody(self, request: Any, context: Any) -> badge_pb2.GetCustodyResponse:
        return await self.evidence.custody(current_caller(), request.evidence_id)

    async def ShareEvidence(self, request: Any, context: Any) -> badge_pb2.ShareEvidenceResponse:
        return A.ShareEvidenceResponse(evidence=await self.evidence.share(current_caller(), request))

    async def ExportEvidence(self, request: Any, context: Any) -> badge_pb2.ExportEvidenceResponse:
        return await self.evidence.export(current_caller(), request)

    async def SetLegalHold(self, request: Any, context: Any) -> badge_pb2.SetLegalHoldResponse:
        return A.SetLegalHoldResponse(evidence=await self.evidence.set_legal_hold(current_caller(), request))

    async def LinkEvidenceToCase(self, request: Any, context: Any) -> badge_pb2.LinkEvidenceToCaseResponse:
        evidence = await self.evidence.link_case(current_caller(), request.evidence_id, request.case_id)
        return A.LinkEvidenceToCaseResponse(evidence=evidence)

    async def CloseCase(self, request: Any, context: Any) -> badge_pb2.CloseCaseResponse:
        count = await self.evidence.close_case(current_caller(), request.agency_id, request.case_id)
        return A.CloseCaseResponse(evidence_count=count)

    async def SetRetentionPolicy(self, request: Any, context: Any) -> badge_pb2.SetRetentionPolicyResponse:
        return A.SetRetentionPolicyResponse(
            policy=await self.evidence.set_policy(current_caller(), request.policy)
        )

    async def ListRetentionPolicies(
        self, request: Any, context: Any
    ) -> badge_pb2.ListRetentionPoliciesResponse:
        policies = await self.evidence.list_policies(current_caller(), request.agency_id)
        return A.ListRetentionPoliciesResponse(policies=policies)

    async def RunRetention(self, request: Any, context: Any) -> badge_pb2.RunRetentionResponse:
        caller = current_caller()
        caller.require_role("admin")
        agency = request.agency_id or caller.agency
        caller.require_agency(agency)
        return A.RunRetentionResponse(deleted_evidence_ids=await self.evidence.run_retention(agency))

    async def VerifyEvidence(self, request: Any, context: Any) -> badge_pb2.VerifyEvidenceResponse:
        caller = current_caller()
        caller.require_role("investigator", "admin", "auditor")
        agency = request.agency_id or caller.agency
        caller.require_agency(agency)
        results = await self.evidence.verify(caller, request.evidence_id, agency)
        return A.VerifyEvidenceResponse(
            results=results, checked=len(results), failed=len([r for r in results if not r.ok])
        )

    # -- records -----------------------------------------------------------------------------

    async def CreateCitation(self, request: Any, context: Any) -> badge_pb2.CreateCitationResponse:
        return A.CreateCitationResponse(
            citation=await self.records.create_citation(current_caller(), request.citation)
        )

    async def GetCitation(self, request: Any, context: Any) -> badge_pb2.GetCitationResponse:
        return A.GetCitationResponse(
            citation=await self.records.get_citation(current_caller(), request.citation_id)
        )

    async def ListCitations(self, request: Any, context: Any) -> badge_pb2.ListCitationsResponse:
        return await self.records.list_citations(current_caller(), request)

    async def ListOffenceCodes(self, request: Any, context: Any) -> badge_pb2.ListOffenceCodesResponse:
        codes = self.records.offence_codes
        return A.ListOffenceCodesResponse(codes=[codes[code] for code in sorted(codes)])

    async def ReportIntegrity(self, request: Any, context: Any) -> badge_pb2.ReportIntegrityResponse:
        return await self.records.report_integrity(current_caller(), request.report)

    async def ListIntegrityReports(
        self, request: Any, context: Any
    ) -> badge_pb2.ListIntegrityReportsResponse:
        return await self.records.list_integrity(current_caller(), request)

    # -- incidents ---------------------------------------------------------------------------

    async def AssignIncident(self, request: Any, context: Any) -> badge_pb2.AssignIncidentResponse:
        assigned = await self.registry.assign_incident(current_caller(), request)
        return A.AssignIncidentResponse(incident_id=request.incident_id, badge_ids=assigned)

    async def CloseIncident(self, request: Any, context: Any) -> badge_pb2.CloseIncidentResponse:
        released = await self.registry.close_incident(current_caller(), request.incident_id)
        return A.CloseIncidentResponse(badge_ids=released)


@dataclass
class BadgeApp:
    """Everything a running badge service holds (tests reach the parts through it)."""

    settings: BadgeSettings
    database: Database
    objects: ObjectStore
    hub: TelemetryHub
    evidence: EvidenceStore
    server: GrpcServer
    device: DeviceEndpoint
    jobs: list[asyncio.Task[None]]
    # Held by the one replica that runs evidence retention and verification.
    jobs_lock: LeaseLock | None = None


async def _every(interval_s: float, name: str, job: Callable[[], Awaitable[Any]]) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await job()
        except Exception:
            log.exception("%s job failed; next run in %.0f s", name, interval_s)


async def _report_replicas(server: GrpcServer, hub: TelemetryHub) -> None:
    """Health of REPLICAS_HEALTH: the stream claims and commands reach the database (and, on
    PostgreSQL, the command notifications arrive); every change of state is logged."""
    current: bool | None = None
    while True:
        problems = [
            what
            for what, ok in (
                ("stream claims cannot be written", hub.streams.healthy),
                ("commands cannot be read or acknowledged", hub.commands.healthy),
                ("command notifications are not arriving (polling only)", hub.commands.listening),
            )
            if not ok
        ]
        if (not problems) != current:
            current = not problems
            status = (
                health_pb2.HealthCheckResponse.SERVING
                if current
                else health_pb2.HealthCheckResponse.NOT_SERVING
            )
            await server.health.set(REPLICAS_HEALTH, status)
            if current:
                log.info("badge replicas: stream claims, commands and notifications working")
            else:
                log.warning("badge replicas: %s", "; ".join(problems))
        await asyncio.sleep(REPLICAS_HEALTH_INTERVAL_S)


async def _lead_forever() -> None:
    """The rules leader's work is done by telemetry/streams.py while ``is_leader`` holds."""
    await asyncio.Event().wait()


async def build_app(
    settings: BadgeSettings,
    *,
    sink: EventPublisher | None = None,
    objects: ObjectStore | None = None,
    port: int | None = None,
    device_port: int | None = None,
) -> BadgeApp:
    """Wire the service. Without ``sink`` events go to alerting through kuzet.common.eventsink."""
    database = Database(settings.effective_database_url)
    await asyncio.to_thread(migrate, database, "kuzet.badge.migrations")
    audit = await asyncio.to_thread(open_audit_log, settings, database)
    await audit.start()
    store = objects or open_object_store(settings.effective_object_store_url)
    on_stop: list[Callable[[], Awaitable[None]]] = []
    if sink is None:
        from kuzet.common.eventsink import EventSink

        event_sink = EventSink(Endpoints().alerting, caller=service_caller("badge", roles=("service",)))
        await event_sink.start()
        on_stop.append(event_sink.close)
        sink = event_sink
    rules = RuleEngine(settings, sink.publish)
    replica_id = settings.replica_id or pod_identity()
    hub = TelemetryHub(settings, database, rules, replica_id)
    # One replica judges the badges connected to none (telemetry/streams.py); the others stand by.
    rules_lock = open_lease_lock(
        "kuzet-badge-rules", database=database, identity=replica_id, lease_duration_s=settings.stream_lease_s
    )
    hub.leading = lambda: rules_lock.is_leader
    await hub.start()
    stop_electing = asyncio.Event()
    elector = asyncio.create_task(
        LeaderElector(rules_lock, on_started_leading=_lead_forever).run(stop_electing),
        name="badge-rules-leader",
    )
    evidence = EvidenceStore(settings, database, store, audit)
    servicer = BadgeServicer(
        settings,
        hub,
        Registry(database, hub, audit),
        evidence,
        Records(settings, database, audit, sink.publish),
    )
    # Evidence retention and verification run on one replica at a time (a lease row in the badge
    # database); each item is also deleted under its own row lock, so a takeover mid-run is safe.
    jobs_lock = open_lease_lock(
        "kuzet-badge-retention",
        database=database,
        identity=replica_id,
        lease_duration_s=settings.retention_lease_s,
        backend="database",
    )

    async def run_jobs() -> None:
        await asyncio.gather(
            _every(settings.retention_interval_s, "retention", evidence.run_retention),
            _every(settings.verification_interval_s, "verification", lambda: evidence.verify(None)),
        )

    jobs = [
        asyncio.create_task(
            LeaderElector(jobs_lock, on_started_leading=run_jobs).run(stop_electing),
            name="badge-retention-leader",
        )
    ]

    async def shutdown() -> None:
        # Stop first, cancel second: on Python 3.11 asyncio.wait_for can swallow a cancel that
        # lands as its timeout fires, and an elector that lost its cancel must still see the stop.
        stop_electing.set()
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
        await hub.stop()
        await asyncio.gather(elector, return_exceptions=True)
        await audit.stop()
        database.dispose()

    on_stop.insert(0, shutdown)
    device = DeviceEndpoint(servicer.sessions, settings.device_limits(), settings.device_http2)

    async def report_replicas() -> None:
        jobs.append(asyncio.create_task(_report_replicas(server, hub), name="badge-replicas-health"))

    async def start_device() -> None:
        await device.start(settings.host, settings.device_port if device_port is None else device_port)

    async def stop_device() -> None:
        await device.stop(settings.shutdown_grace_s)

    on_stop.insert(0, stop_device)
    server = GrpcServer(
        settings,
        [
            (badge_pb2_grpc.add_BadgeServiceServicer_to_server, servicer),
            (audit_pb2_grpc.add_AuditServiceServicer_to_server, AuditServicer(audit)),
        ],
        [
            A.DESCRIPTOR.services_by_name["BadgeService"].full_name,
            "kuzet.common.v1.AuditService",
        ],
        port=port,
        on_start=[start_device, report_replicas],
        on_stop=on_stop,
    )
    return BadgeApp(settings, database, store, hub, evidence, server, device, jobs, jobs_lock)


async def build(settings: BadgeSettings) -> GrpcServer:
    return (await build_app(settings)).server


async def _run() -> None:
    await run_service(BadgeSettings, build)


SPEC = ServiceSpec(name="badge", default_port=BadgeSettings.default_port, run=_run, order=40)

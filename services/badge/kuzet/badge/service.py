"""BadgeService served: the RPCs of the API port (the device port's Connect is telemetry/wire.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any, Protocol

from kuzet.badge.config import BadgeSettings
from kuzet.badge.evidence import EvidenceStore
from kuzet.badge.records import Records
from kuzet.badge.registry import Registry
from kuzet.badge.statistics import Statistics
from kuzet.badge.telemetry.hub import TelemetryHub
from kuzet.badge.telemetry.link import QueuedLink
from kuzet.badge.telemetry.live import BadgeLive
from kuzet.badge.telemetry.session import ConnectSessions
from kuzet.badge.v1 import badge_pb2, badge_pb2_grpc
from kuzet.common.caller import Caller, current_caller
from kuzet.common.errors import InvalidArgument
from kuzet.common.paging import PageToken, Paging, page_list
from kuzet.common.timeutil import from_timestamp
from kuzet.common.v1 import common_pb2

A = badge_pb2
# Live states are in memory, sorted by badge id: a page resumes after the last badge sent.
STATE_PAGING = Paging(default=1000, maximum=10_000, clamp=True)
STATE_TOKEN = PageToken("badge.states", str)


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
        statistics: Statistics,
    ) -> None:
        self.settings = settings
        self.hub = hub
        self.registry = registry
        self.evidence = evidence
        self.records = records
        self.statistics = statistics
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
        states = [
            s
            for s in self.hub.states(agency, request.unit_id, request.connected_only)
            if caller.sees_site(s.agency_id, s.unit_id)
        ]
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
            snapshot = [
                s
                for s in self.hub.states(agency, request.unit_id)
                if caller.sees_site(s.agency_id, s.unit_id)
            ]
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
                    if changed is not None and caller.sees_site(changed.agency_id, changed.unit_id):
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

    async def UpdateCitationStatus(
        self, request: Any, context: Any
    ) -> badge_pb2.UpdateCitationStatusResponse:
        return A.UpdateCitationStatusResponse(
            citation=await self.records.update_citation_status(current_caller(), request)
        )

    async def GetBadgeStatistics(self, request: Any, context: Any) -> badge_pb2.GetBadgeStatisticsResponse:
        return await self.statistics.figures(current_caller(), request)

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

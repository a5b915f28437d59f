"""Cross-site face search: a hub investigator searches the facilities' own galleries.

Hub (``SiteSearcher``, the ``SearchSites`` RPC): the request goes to each facility asked as a
NATS request on ``kuzet.fed.<site>.search``, across the leaf connections, all at once; a
facility that does not answer within ``search_timeout_s`` (its link is cut, its federation
service is down) is reported unreachable, not waited for. The search, its purpose and what each
facility answered (candidates' person and external ids, scores) are recorded in the hub
federation service's audit trail before anything is returned.

Facility (``SiteSearchResponder``): verifies the caller token that travels in the request's
headers (audience ``federation``; a hub's federation service key must be in the facility's JWKS)
and calls its own identity's ``Identify`` in investigation mode as ``<subject>@<hub>`` (the
name the hub signed into the token, so a search of a nation through a region is the nation's), so the
facility's identity records the search, its purpose and the hub user in its own trail, as it
records its own investigators' searches. The facility's galleries never leave it: only the
candidates of this one search do.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from kuzet.common.audit import AuditLog
from kuzet.common.caller import Caller, caller_from_metadata, caller_metadata, calling_as, current_caller
from kuzet.common.errors import (
    FailedPrecondition,
    InvalidArgument,
    KuzetError,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from kuzet.federation import streams
from kuzet.federation.v1 import federation_pb2 as pb
from kuzet.federation.v1 import federation_pb2_grpc
from kuzet.identity.v1 import identity_pb2, identity_pb2_grpc

log = logging.getLogger(__name__)

AUDIENCE = "federation"
QUEUE = "kuzet-federation"
# NATS's default largest message is 1 MiB; the photo travels as raw bytes in the request.
MAX_IMAGE_BYTES = 768 * 1024
MAX_TOP_K = 100


def search_purpose(purpose: str, hub: str, search_id: str) -> str:
    """The purpose a facility records: the investigator's, and which hub search it was part of."""
    return f"{purpose} [search {search_id} from {hub}]"


class SiteSearchResponder:
    """Facility: answers the hub's searches with this release's identity."""

    def __init__(self, nc: NATS, identity: grpc.aio.Channel, site: str) -> None:
        self.nc = nc
        self.identity = identity_pb2_grpc.IdentityServiceStub(identity)
        self.site = site
        self.answered = 0

    async def run(self) -> None:
        # A queue group: a second federation replica would share the requests, not double them.
        sub = await self.nc.subscribe(streams.search_subject(self.site), queue=QUEUE, cb=self._on_request)
        try:
            await asyncio.Event().wait()
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _on_request(self, msg: Msg) -> None:
        result = await self.answer(msg.data, dict(msg.headers or {}))
        self.answered += 1
        await msg.respond(result.SerializeToString())

    async def answer(self, data: bytes, headers: dict[str, str]) -> pb.SiteResult:
        """What this facility answers to one request (never raises: a refusal is a result)."""
        try:
            caller = caller_from_metadata(headers.items(), audience=AUDIENCE)
            request = pb.SiteSearchRequest.FromString(data)
            return await self._search(caller, request)
        except DecodeError:
            return self._failed("the request is not a kuzet.federation.v1.SiteSearchRequest")
        except KuzetError as exc:
            log.warning("a hub's search refused: %s", exc)
            return self._failed(f"{type(exc).__name__}: {exc}")

    async def _search(self, caller: Caller, request: pb.SiteSearchRequest) -> pb.SiteResult:
        if caller.is_anonymous:
            raise Unauthenticated("the request carries no caller")
        if "@" not in caller.subject:
            raise PermissionDenied("a search from a hub names its user as <subject>@<hub>")
        caller.require_role("investigator")
        if not caller.sees_site(caller.agency, self.site):
            raise PermissionDenied(f"site {self.site} is outside {caller.subject}'s sites")
        # Nothing more than an investigator here, whatever else the token says.
        remote = Caller(
            subject=caller.subject,
            agency=caller.agency,
            roles=frozenset({"investigator"}),
            sites=caller.sites,
        )
        identify = identity_pb2.IdentifyRequest(
            probe=identity_pb2.Probe(image=request.image),
            mode=identity_pb2.MATCH_MODE_INVESTIGATION,
            top_k=request.top_k,
            purpose=search_purpose(request.purpose, request.hub, request.search_id),
        )
        try:
            with calling_as(remote):
                found = await self.identity.Identify(identify)
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            return self._failed(f"identity: {code.name if code else 'error'}: {exc.details()}")
        return pb.SiteResult(
            site=self.site, status=pb.SITE_STATUS_OK, candidates=found.candidates, model=found.model
        )

    def _failed(self, message: str) -> pb.SiteResult:
        return pb.SiteResult(site=self.site, status=pb.SITE_STATUS_FAILED, message=message)


class SiteSearcher(federation_pb2_grpc.FederationServiceServicer):
    """Hub: ``SearchSites``, fanned out to the facilities and audited here."""

    def __init__(
        self,
        nc: Callable[[], NATS | None],
        audit: AuditLog,
        facilities: Sequence[str],
        hub: str,
        *,
        timeout_s: float,
    ) -> None:
        self._nc = nc
        self.audit = audit
        self.facilities = list(facilities)
        self.hub = hub
        self.timeout_s = timeout_s

    async def SearchSites(
        self, request: pb.SearchSitesRequest, context: grpc.aio.ServicerContext
    ) -> pb.SearchSitesResponse:
        if not self.facilities:
            raise FailedPrecondition("this release has no facilities (it is not a hub): search from the hub")
        caller = current_caller()
        if not caller.agency:
            raise PermissionDenied("the caller has no agency")
        caller.require_role("investigator")
        if not request.purpose.strip():
            raise InvalidArgument("purpose is required: every search is audited with its purpose")
        if not request.image:
            raise InvalidArgument("image is required: an encoded photo of the face to search for")
        if len(request.image) > MAX_IMAGE_BYTES:
            raise InvalidArgument(f"image is {len(request.image)} bytes; at most {MAX_IMAGE_BYTES}")
        if not 0 <= request.top_k <= MAX_TOP_K:
            raise InvalidArgument(f"top_k must be between 0 (10) and {MAX_TOP_K}")
        sites = self._sites(caller, list(request.sites))
        nc = self._nc()
        if nc is None or not nc.is_connected:
            raise Unavailable("federation is not connected to this hub's NATS server")
        search_id = str(uuid.uuid4())
        ask = pb.SiteSearchRequest(
            image=request.image,
            purpose=request.purpose,
            top_k=request.top_k,
            hub=self.hub,
            search_id=search_id,
        )
        # The hub's name goes into the signed subject, so a facility (searched through any region
        # between) records who searched from where, and nobody can relabel it.
        remote = Caller(
            subject=f"{caller.subject}@{self.hub}",
            agency=caller.agency,
            roles=caller.roles & {"investigator"},
            sites=caller.sites,
        )
        headers = dict(caller_metadata(remote, audience=AUDIENCE))
        data = ask.SerializeToString()
        results = await asyncio.gather(*(self._ask(nc, site, data, headers) for site in sites))
        entry = await self.audit.record(
            "federation.search",
            search_id,
            details=audit_details(request, results),
        )
        return pb.SearchSitesResponse(results=results, audit_seq=entry.seq)

    @staticmethod
    def _unreachable(site: str, why: str) -> pb.SiteResult:
        return pb.SiteResult(site=site, status=pb.SITE_STATUS_UNREACHABLE, message=f"{why}: not searched")

    def _sites(self, caller: Caller, asked: list[str]) -> list[str]:
        if not asked:
            sites = [s for s in self.facilities if caller.sees_site(caller.agency, s)]
            if not sites:
                raise PermissionDenied(f"none of this hub's facilities is within {caller.subject}'s sites")
            return sites
        unknown = sorted(set(asked) - set(self.facilities))
        if unknown:
            raise InvalidArgument(
                f"not facilities of this hub: {', '.join(unknown)} (it has {', '.join(self.facilities) or 'none'})"
            )
        outside = sorted(s for s in set(asked) if not caller.sees_site(caller.agency, s))
        if outside:
            raise PermissionDenied(f"sites outside {caller.subject}'s sites: {', '.join(outside)}")
        return list(dict.fromkeys(asked))

    async def _ask(self, nc: NATS, site: str, data: bytes, headers: dict[str, str]) -> pb.SiteResult:
        try:
            reply = await nc.request(
                streams.search_subject(site), data, timeout=self.timeout_s, headers=headers
            )
        except NoRespondersError:
            return self._unreachable(site, "its federation service cannot be reached")
        except NatsTimeout:
            return self._unreachable(site, f"no answer within {self.timeout_s:g} s")
        try:
            result = pb.SiteResult.FromString(reply.data)
        except DecodeError:
            return pb.SiteResult(site=site, status=pb.SITE_STATUS_FAILED, message="the answer is unreadable")
        if result.site != site:
            return pb.SiteResult(
                site=site, status=pb.SITE_STATUS_FAILED, message=f"answered by {result.site!r}, not {site}"
            )
        return result


def audit_details(request: pb.SearchSitesRequest, results: Sequence[pb.SiteResult]) -> dict[str, Any]:
    """The hub's record: who was found where (an auditor must see it), never the photo itself."""
    return {
        "purpose": request.purpose,
        "top_k": request.top_k or 10,
        "probe_sha256": hashlib.sha256(request.image).hexdigest(),
        "sites": [
            {
                "site": r.site,
                "status": pb.SiteStatus.Name(r.status),
                **({"message": r.message} if r.message else {}),
                "candidates": [
                    {"person_id": c.person_id, "external_id": c.external_id, "score": round(c.score, 4)}
                    for c in r.candidates
                ],
            }
            for r in results
        ],
    }

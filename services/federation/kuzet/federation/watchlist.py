"""Watchlist changes down: written at the hub, mirrored into every facility, applied to its identity.

A change is one watchlist entry of one agency: ``enrol`` (the entry with its photos, which every
facility embeds with its own model) or ``remove``. At the hub the forwarder follows the hub
identity's watchlist change stream (``WatchWatchlistChanges``) and writes each change into the
hub's watchlist stream (``publish_change``, which an operator's tool may also call); the stream's
last message carries the identity sequence number the forwarder resumes after. Each facility's
server mirrors that stream, so changes made while a facility is cut off arrive, in order, when
its link returns. The facility's applier reads the mirror with a durable consumer and applies
each change to the facility's identity service as the federation service of that agency,
acknowledging it only once applied; identity audits every enrolment and removal there, as the
hub's identity audited them at the hub.

Applying is idempotent: the watchlist is found by agency and name (created on first use with the
hub's purpose, legal basis, owner, expiry and reviewers), the entry by its external id; an entry
already enrolled with the same expiry and number of photos is left as it is, one that differs is replaced, a removal of
an entry that is not there does nothing. So a change delivered twice changes nothing.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

import grpc
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from kuzet.common.caller import Caller, calling_as, current_caller, service_caller
from kuzet.common.errors import InvalidArgument
from kuzet.common.timeutil import from_timestamp, to_timestamp
from kuzet.federation import streams
from kuzet.identity.v1 import identity_pb2 as pb
from kuzet.identity.v1 import identity_pb2_grpc

log = logging.getLogger(__name__)

FORMAT = "kuzet.federation.watchlist-change/1"
DURABLE = "facility-identity"
# The hub identity's change feed position of a forwarded change.
IDENTITY_SEQ_HEADER = "Kuzet-Identity-Seq"
# JetStream's default largest message (max_payload) is 1 MiB; photos travel base64-encoded.
MAX_PHOTO_BYTES = 700 * 1024
# What a facility answers for a change it can never apply (no face in a photo, an expired entry):
# logged and acknowledged, so one bad entry does not hold up the changes behind it.
_PERMANENT = frozenset(
    {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.PERMISSION_DENIED}
)


@dataclass(frozen=True)
class WatchlistSpec:
    """The hub's watchlist, as every facility creates it."""

    name: str
    purpose: str
    legal_basis: str
    owner: str
    # ISO 8601, UTC; empty: no expiry.
    expires_at: str = ""
    required_reviewers: int = 0


@dataclass(frozen=True)
class WatchlistChange:
    op: Literal["enrol", "remove"]
    agency: str
    watchlist: WatchlistSpec
    external_id: str
    display_name: str = ""
    # ISO 8601, UTC; empty: the watchlist's expiry.
    expires_at: str = ""
    photos: list[bytes] = field(default_factory=list)
    # Photos that are already face crops (enrolled as such at the hub).
    crops: list[bytes] = field(default_factory=list)
    # Why an entry is removed (kept in the facility's audit trail).
    reason: str = ""

    def validate(self) -> None:
        if not self.agency or not self.external_id or not self.watchlist.name:
            raise InvalidArgument("a watchlist change needs an agency, a watchlist name and an external id")
        if self.op == "enrol" and not (self.photos or self.crops):
            raise InvalidArgument(f"enrolling {self.external_id} needs at least one photo")
        if self.op == "remove" and not self.reason.strip():
            raise InvalidArgument(f"removing {self.external_id} needs a reason (it is audited)")
        if sum(len(p) for p in [*self.photos, *self.crops]) > MAX_PHOTO_BYTES:
            raise InvalidArgument(f"the photos of {self.external_id} exceed {MAX_PHOTO_BYTES} bytes")

    def encode(self) -> bytes:
        body: dict[str, Any] = asdict(self)
        body["photos"] = [base64.b64encode(p).decode() for p in self.photos]
        body["crops"] = [base64.b64encode(p).decode() for p in self.crops]
        body["format"] = FORMAT
        return json.dumps(body, sort_keys=True).encode()

    @classmethod
    def decode(cls, data: bytes) -> WatchlistChange:
        body = json.loads(data)
        if body.pop("format", None) != FORMAT:
            raise ValueError("not a watchlist change this version understands")
        body["watchlist"] = WatchlistSpec(**body["watchlist"])
        body["photos"] = [base64.b64decode(p) for p in body["photos"]]
        body["crops"] = [base64.b64decode(p) for p in body.get("crops", [])]
        return cls(**body)


async def publish_change(
    js: JetStreamContext, hub: str, change: WatchlistChange, *, identity_seq: int = 0
) -> int:
    """Hub ``hub``: write a change into its watchlist stream; its stream sequence. The same change
    published twice (a retried call; the forwarder re-sending identity change ``identity_seq``)
    is stored once."""
    change.validate()
    data = change.encode()
    headers = {streams.MSG_ID_HEADER: hashlib.sha256(data).hexdigest()}
    if identity_seq:
        # By sequence number, not content: the same entry enrolled again later is a new change.
        headers = {streams.MSG_ID_HEADER: f"identity.{identity_seq}", IDENTITY_SEQ_HEADER: str(identity_seq)}
    ack = await js.publish(streams.watchlist_subject(hub, change.agency), data, headers=headers)
    return int(ack.seq)


def _iso(message: Message, name: str) -> str:
    at = from_timestamp(getattr(message, name)) if message.HasField(name) else None
    return at.isoformat() if at is not None else ""


def from_identity(change: pb.WatchlistChange) -> WatchlistChange | None:
    """The federation message of one change of the hub identity's feed; None if it cannot travel."""
    gallery, person = change.watchlist, change.person
    # Entries enrolled by display name only have no external id: the hub's person id stands in.
    external_id = person.external_id or f"hub:{person.person_id}"
    spec = WatchlistSpec(
        name=gallery.name,
        purpose=gallery.purpose,
        legal_basis=gallery.legal_basis,
        owner=gallery.owner,
        expires_at=_iso(gallery, "expires_at"),
        required_reviewers=gallery.required_reviewers,
    )
    if change.kind == pb.WATCHLIST_CHANGE_KIND_REMOVE:
        return WatchlistChange(
            op="remove",
            agency=gallery.agency_id,
            watchlist=spec,
            external_id=external_id,
            reason=change.reason or "removed at the hub",
        )
    photos: list[bytes] = []
    crops: list[bytes] = []
    room = MAX_PHOTO_BYTES
    for image in change.images:
        data = image.crop if image.WhichOneof("kind") == "crop" else image.image
        if len(data) > room:  # the photos that fit one message; the facility needs one
            continue
        (crops if image.WhichOneof("kind") == "crop" else photos).append(data)
        room -= len(data)
    if not (photos or crops):
        log.error(
            "watchlist entry %s of agency %s: no photo fits a message of %d bytes, not sent",
            external_id,
            gallery.agency_id,
            MAX_PHOTO_BYTES,
            extra={"agency": gallery.agency_id},
        )
        return None
    return WatchlistChange(
        op="enrol",
        agency=gallery.agency_id,
        watchlist=spec,
        external_id=external_id,
        display_name=person.display_name,
        expires_at=_iso(person, "expires_at"),
        photos=photos,
        crops=crops,
    )


class WatchlistForwarder:
    """Hub: the hub identity's watchlist changes into the hub's watchlist stream, in order."""

    def __init__(
        self, identity: grpc.aio.Channel, js: JetStreamContext, hub: str, *, retry_s: float = 1.0
    ) -> None:
        self.identity = identity_pb2_grpc.IdentityServiceStub(identity)
        self.js = js
        self.hub = hub
        self.retry_s = retry_s
        self.forwarded = 0

    async def resume_point(self) -> int:
        """The identity seq of the newest forwarded change the stream holds (0: none)."""
        try:
            seq = (await self.js.stream_info(streams.WATCHLIST)).state.last_seq
        except NotFoundError:
            return 0
        # Changes an operator's tool published carry no identity seq: look past them.
        while seq > 0:
            try:
                message = await self.js.get_msg(streams.WATCHLIST, seq)
            except NotFoundError:  # deleted or aged out
                return 0
            if message.headers and IDENTITY_SEQ_HEADER in message.headers:
                return int(message.headers[IDENTITY_SEQ_HEADER])
            seq -= 1
        return 0

    async def run(self) -> None:
        # The watch sees every agency's watchlists: only the federation service itself may.
        with calling_as(service_caller("federation")):
            while True:
                try:
                    after = await self.resume_point()
                    request = pb.WatchWatchlistChangesRequest(after_seq=after)
                    async for response in self.identity.WatchWatchlistChanges(request):
                        message = from_identity(response.change)
                        if message is not None:
                            await publish_change(self.js, self.hub, message, identity_seq=response.change.seq)
                            self.forwarded += 1
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # identity or the hub's NATS server restarting
                    reason = (
                        f"{exc.code().name}: {exc.details()}"
                        if isinstance(exc, grpc.aio.AioRpcError)
                        else repr(exc)
                    )
                    log.warning("watchlist forwarder: %s; resuming", reason)
                    await asyncio.sleep(self.retry_s)


def _timestamp(iso: str) -> Timestamp | None:
    return to_timestamp(datetime.fromisoformat(iso)) if iso else None


class WatchlistApplier:
    """Facility (and a region under its nation): the mirrored hub changes into this release's
    identity, in order, from ``stream``."""

    def __init__(
        self,
        identity: grpc.aio.Channel,
        js: JetStreamContext,
        *,
        stream: str = streams.WATCHLIST,
        retry_s: float = 1.0,
    ) -> None:
        self.identity = identity_pb2_grpc.IdentityServiceStub(identity)
        self.js = js
        self.stream = stream
        self.retry_s = retry_s

    async def run(self) -> None:
        while True:
            try:
                await self.js.add_consumer(
                    self.stream,
                    ConsumerConfig(
                        durable_name=DURABLE,
                        deliver_policy=DeliverPolicy.ALL,
                        ack_policy=AckPolicy.EXPLICIT,
                        ack_wait=300.0,
                        max_ack_pending=1,
                    ),
                )
                subscription = await self.js.pull_subscribe_bind(durable=DURABLE, stream=self.stream)
                while True:
                    try:
                        messages = await subscription.fetch(1, timeout=1.0)
                    except TimeoutError:  # nats' own, or asyncio's when the wait ran out early
                        continue
                    for message in messages:
                        await self._apply_until_done(message)
                        await message.ack()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the local NATS server restarting
                log.warning("watchlist applier: %r; retrying", exc)
                await asyncio.sleep(self.retry_s)

    async def _apply_until_done(self, message: Msg) -> None:
        try:
            change = WatchlistChange.decode(message.data)
        except (ValueError, KeyError, TypeError) as exc:
            log.error("watchlist change %s is unreadable, skipped: %s", message.metadata.sequence.stream, exc)
            return
        while True:
            try:
                await self.apply(change)
                return
            except grpc.aio.AioRpcError as exc:
                if exc.code() in _PERMANENT:
                    log.error(
                        "watchlist change %s %s of agency %s refused by identity: %s",
                        change.op,
                        change.external_id,
                        change.agency,
                        exc.details(),
                        extra={"agency": change.agency},
                    )
                    return
                log.warning("identity unavailable (%s); retrying the watchlist change", exc.code().name)
                await asyncio.sleep(self.retry_s)

    async def apply(self, change: WatchlistChange) -> None:
        """Make this facility's watchlist hold what ``change`` says (idempotent)."""
        with calling_as(Caller("service:federation", change.agency, frozenset({"admin", "service"}))):
            gallery_id = await self._watchlist(change.watchlist)
            person = await self._person(gallery_id, change.external_id)
            if change.op == "remove":
                if person is not None:
                    await self.identity.RemovePerson(
                        pb.RemovePersonRequest(person_id=person.person_id, reason=change.reason)
                    )
                return
            expires = _timestamp(change.expires_at)
            if person is not None:
                same_expiry = (expires is None and not person.HasField("expires_at")) or (
                    expires is not None and person.expires_at == expires
                )
                if person.image_count == len(change.photos) + len(change.crops) and same_expiry:
                    return
                await self.identity.RemovePerson(
                    pb.RemovePersonRequest(
                        person_id=person.person_id, reason="replaced by a hub watchlist change"
                    )
                )
            request = pb.EnrolPersonRequest(
                gallery_id=gallery_id,
                external_id=change.external_id,
                display_name=change.display_name,
                images=[
                    *(pb.FaceImage(image=photo) for photo in change.photos),
                    *(pb.FaceImage(crop=crop) for crop in change.crops),
                ],
            )
            if expires is not None:
                request.expires_at.CopyFrom(expires)
            await self.identity.EnrolPerson(request)

    async def _watchlist(self, spec: WatchlistSpec) -> str:
        token = ""
        while True:
            page = await self.identity.ListGalleries(
                pb.ListGalleriesRequest(page={"page_size": 500, "page_token": token})
            )
            for gallery in page.galleries:
                if gallery.kind == pb.GALLERY_KIND_WATCHLIST and gallery.name == spec.name:
                    return gallery.gallery_id
            token = page.page.next_page_token
            if not token:
                break
        request = pb.CreateGalleryRequest(
            name=spec.name,
            kind=pb.GALLERY_KIND_WATCHLIST,
            purpose=spec.purpose,
            legal_basis=spec.legal_basis,
            owner=spec.owner,
            required_reviewers=spec.required_reviewers,
        )
        expires = _timestamp(spec.expires_at)
        if expires is not None:
            request.expires_at.CopyFrom(expires)
        created = await self.identity.CreateGallery(request)
        log.info("created watchlist %s from the hub's", spec.name, extra={"agency": current_caller().agency})
        return str(created.gallery.gallery_id)

    async def _person(self, gallery_id: str, external_id: str) -> pb.Person | None:
        token = ""
        while True:
            page = await self.identity.ListPeople(
                pb.ListPeopleRequest(gallery_id=gallery_id, page={"page_size": 500, "page_token": token})
            )
            for person in page.people:
                if person.external_id == external_id:
                    return person
            token = page.page.next_page_token
            if not token:
                return None

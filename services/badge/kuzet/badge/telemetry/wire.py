"""Connect on the device port: badges' streams served by the HTTP/2 endpoint of grpcwire.py.

The device port carries only Connect, the one call every badge holds open all shift; the API
port (grpc.aio) keeps every other call and Connect as well for clients inside the cluster.

The device port faces badges in the field, so caller metadata means nothing here: every stream
presents its badge's own device token (kuzet.badge.credentials) and is bound to that badge and its agency.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import grpc
from google.protobuf.message import DecodeError
from opentelemetry import propagate, trace

from kuzet.badge import credentials
from kuzet.badge.telemetry.grpcwire import StreamRefused, WireConnection, WireEndpoint, WireStream
from kuzet.badge.telemetry.h2grpc import H2GrpcConnection
from kuzet.badge.telemetry.h2limits import Limits
from kuzet.badge.telemetry.hub import TelemetryHub
from kuzet.badge.telemetry.live import BadgeLive
from kuzet.badge.telemetry.session import ConnectSessions
from kuzet.badge.v1 import badge_pb2
from kuzet.common.caller import Caller
from kuzet.common.errors import InvalidArgument, KuzetError, PermissionDenied, Unauthenticated
from kuzet.common.grpcserver import log_rpc
from kuzet.common.telemetry import current_trace_id

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

CONNECT = "/kuzet.badge.v1.BadgeService/Connect"


def http2_framing(name: str) -> Callable[[WireEndpoint], WireConnection]:
    """The framing KUZET_BADGE_DEVICE_HTTP2 names: ``builtin`` (h2grpc.py) or ``h2`` (h2lib.py)."""
    if name == "h2":
        # Imported only when chosen: the default path does not load the h2 package.
        from kuzet.badge.telemetry.h2lib import H2LibConnection

        return H2LibConnection
    return H2GrpcConnection


class WireLink:
    """BadgeLink onto an HTTP/2 stream: every message is framed and queued for this loop turn."""

    __slots__ = ("_ack", "_stream", "badge_id")

    def __init__(self, stream: WireStream, badge_id: str, acked_seq: int) -> None:
        self._stream = stream
        self.badge_id = badge_id
        self._ack = acked_seq

    def send_ack(self, seq: int) -> None:
        if seq > self._ack:
            self._ack = seq
            self._send(badge_pb2.ConnectResponse(ack=badge_pb2.Ack(up_to_seq=seq)))

    def resend_ack(self) -> None:
        if self._ack:
            self._send(badge_pb2.ConnectResponse(ack=badge_pb2.Ack(up_to_seq=self._ack)))

    def send_command(self, command: badge_pb2.BadgeCommand) -> None:
        self._send(badge_pb2.ConnectResponse(command=command))

    def _send(self, message: badge_pb2.ConnectResponse) -> None:
        self._stream.send_message(message.SerializeToString())

    def close(self, error: Exception | None = None) -> None:
        if error is None:
            self._stream.finish(grpc.StatusCode.OK)
        elif isinstance(error, KuzetError):
            self._stream.finish(error.code, error.message)
        else:
            log.error("badge %s stream failed", self.badge_id, exc_info=error)
            self._stream.finish(
                grpc.StatusCode.INTERNAL, f"internal error (trace {current_trace_id() or '-'})"
            )


class ConnectCall:
    """One badge's Connect stream on the device port."""

    __slots__ = (
        "_goodbye",
        "_started",
        "badge",
        "caller",
        "credential_hash",
        "hub",
        "link",
        "live",
        "sessions",
        "span",
        "stream",
    )

    def __init__(
        self, sessions: ConnectSessions, stream: WireStream, badge: BadgeLive, span: trace.Span
    ) -> None:
        self.sessions = sessions
        self.hub: TelemetryHub = sessions.hub
        self.stream = stream
        # The badge its token authenticated: the stream may speak for it only.
        self.badge = badge
        self.credential_hash = badge.credential_hash
        self.caller = Caller(f"badge:{badge.badge_id}", badge.agency_id, frozenset({"badge"}))
        self.span = span
        self.live: BadgeLive | None = None
        self.link: WireLink | None = None
        self._goodbye: asyncio.Task[None] | None = None
        self._started = time.perf_counter()

    def on_message(self, data: bytes) -> None:
        try:
            try:
                message = badge_pb2.ConnectRequest.FromString(data)
            except DecodeError:
                raise InvalidArgument("malformed ConnectRequest") from None
            if self.live is None:
                self._open(message)
            else:
                self.sessions.receive(self.live, message)
        except KuzetError as exc:
            self._end(exc)

    def _open(self, hello: badge_pb2.ConnectRequest) -> None:
        with trace.use_span(self.span):
            if hello.WhichOneof("payload") == "hello" and hello.hello.badge_id != self.badge.badge_id:
                raise PermissionDenied(
                    f"the device token is badge {self.badge.badge_id}'s; it may not speak for "
                    f"badge {hello.hello.badge_id}"
                )
            if self.badge.credential_hash != self.credential_hash:
                raise Unauthenticated(f"the device credential of badge {self.badge.badge_id} was revoked")
            live = self.sessions.open(self.caller, hello)
            self.span.set_attribute("kuzet.agency", live.agency_id)
            self.span.set_attribute("kuzet.badge", live.badge_id)
            self.live = live
            self.link = WireLink(self.stream, live.badge_id, live.acked_seq)
            self.hub.attach(live, self.link)
            self.stream.send_message(self.sessions.welcome(live).SerializeToString())

    def on_half_close(self) -> None:
        if self.live is None or self.link is None:
            self._end(InvalidArgument("the first Connect message must be hello"))
            return
        self._goodbye = asyncio.create_task(self.sessions.goodbye(self.live, self.link))

    def on_closed(self) -> None:
        if self._goodbye is not None:
            self._goodbye.cancel()
        if self.live is not None and self.link is not None:
            self.hub.detach(self.live, self.link)
        with trace.use_span(self.span, end_on_exit=True):
            log_rpc(CONNECT, self._started, self.live.agency_id if self.live else self.caller.agency)

    def _end(self, error: KuzetError) -> None:
        with trace.use_span(self.span):
            log.info("%s refused: %s", CONNECT, error.message, extra={"grpc_code": error.code.name})
        if self.link is not None:
            self.link.close(error)
        else:
            self.stream.finish(error.code, error.message)


class DeviceEndpoint:
    """The device port: an HTTP/2 gRPC endpoint serving Connect only."""

    def __init__(self, sessions: ConnectSessions, limits: Limits, http2: str = "builtin") -> None:
        self.sessions = sessions
        self.endpoint = WireEndpoint({CONNECT: self._connect}, http2_framing(http2), limits)
        self.port = 0

    def _connect(self, stream: WireStream) -> ConnectCall:
        metadata = stream.metadata
        span = tracer.start_span(
            CONNECT.lstrip("/"),
            context=propagate.extract(dict(metadata)),
            kind=trace.SpanKind.SERVER,
            attributes={"rpc.system": "grpc", "kuzet.service": "badge"},
        )
        try:
            badge = self._authenticate(stream.header(credentials.METADATA_KEY))
        except KuzetError as exc:
            with trace.use_span(span, end_on_exit=True):
                log.info("%s refused: %s", CONNECT, exc.message, extra={"grpc_code": exc.code.name})
            raise StreamRefused(exc.code, exc.message) from None
        span.set_attribute("kuzet.badge", badge.badge_id)
        return ConnectCall(self.sessions, stream, badge, span)

    def _authenticate(self, authorization: str | None) -> BadgeLive:
        badge_id, secret = credentials.parse(authorization)
        live = self.sessions.hub.badges.get(badge_id)
        # One answer for an unknown badge and a wrong secret: a guess learns nothing.
        if live is None or not credentials.matches(live.credential_hash, secret):
            raise Unauthenticated(f"invalid or revoked device token for badge {badge_id[:64]}")
        return live

    async def start(self, host: str, port: int) -> int:
        self.port = await self.endpoint.start(host, port)
        log.info("badge device port listening on %s:%d", host, self.port)
        return self.port

    async def stop(self, grace: float) -> None:
        await self.endpoint.stop(grace)

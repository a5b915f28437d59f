"""Garbage at every gRPC port of `kuzet up`: valid gRPC framing around bytes that are no protobuf,
protobuf cut short, a gRPC message whose length prefix promises more than the stream carries, and
a message over the server's size limit (its max_message_mb). Bytes that are no message get
INVALID_ARGUMENT naming the type, an oversized message RESOURCE_EXHAUSTED; a message cut short
leaves gRPC waiting for the rest, so its call ends at its deadline with an error status and a
message (or a reset stream). Never a crash: the service keeps serving (health SERVING), during the
cut-short call too.

The services run as `kuzet up` runs them (the session's platform: separate processes, mTLS with
the launcher's CA); calls carry a valid caller token, so the garbage reaches the service itself.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import struct
import zlib
from types import ModuleType

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hpack import Decoder, Encoder

from kuzet.alerting.config import AlertingSettings
from kuzet.alerting.v1 import alerting_pb2
from kuzet.badge.config import BadgeSettings
from kuzet.badge.telemetry import h2grpc as h2
from kuzet.badge.v1 import badge_pb2
from kuzet.common.caller import Caller, caller_metadata
from kuzet.common.config import ServiceSettings
from kuzet.common.tls import secure_channel
from kuzet.common.v1 import holds_pb2
from kuzet.drone.config import DroneSettings
from kuzet.drone.v1 import drone_pb2
from kuzet.e2e.platform import Platform
from kuzet.federation.config import FederationSettings
from kuzet.federation.v1 import federation_pb2
from kuzet.identity.config import IdentitySettings
from kuzet.identity.v1 import identity_pb2
from kuzet.inference.config import InferenceSettings
from kuzet.inference.v1 import inference_pb2
from kuzet.ingest.config import IngestSettings
from kuzet.ingest.v1 import ingest_pb2
from kuzet.traffic.config import TrafficSettings
from kuzet.traffic.v1 import traffic_pb2

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ADMIN = Caller("garbage-admin", "police", frozenset({"admin", "service"}))
# Each gRPC service's own API; HoldService is served by some of them and UNIMPLEMENTED elsewhere.
PROTOS: dict[str, ModuleType] = {
    "alerting": alerting_pb2,
    "badge": badge_pb2,
    "drone": drone_pb2,
    "federation": federation_pb2,
    "identity": identity_pb2,
    "inference": inference_pb2,
    "ingest": ingest_pb2,
    "traffic": traffic_pb2,
}
# Whose max_message_mb each service runs with (`kuzet up` keeps the defaults).
SETTINGS: dict[str, type[ServiceSettings]] = {
    "alerting": AlertingSettings,
    "badge": BadgeSettings,
    "drone": DroneSettings,
    "federation": FederationSettings,
    "identity": IdentitySettings,
    "inference": InferenceSettings,
    "ingest": IngestSettings,
    "traffic": TrafficSettings,
}


def _not_protobuf(seed: int) -> list[bytes]:
    """Payloads no protobuf parser accepts (so no call can run on them), seeded for repeatability."""
    rng = random.Random(seed)
    noise = rng.randbytes(200)
    return [
        b"\x0f" + noise,  # field 1 with wire type 7, which does not exist
        b"\x0a\x64" + noise[:10],  # field 1, length 100, 10 bytes follow: a truncated message
        b"\x08" + b"\xff" * 11,  # a varint longer than 10 bytes
        b"\x0b" + noise[:20],  # a group start never ended
    ]


def _methods(proto: ModuleType) -> list[MethodDescriptor]:
    return [m for s in proto.DESCRIPTOR.services_by_name.values() for m in s.methods]


def _path(method: MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


async def _call_raw(
    channel: grpc.aio.Channel, method: MethodDescriptor, payload: bytes, service: str
) -> grpc.aio.AioRpcError:
    """Send ``payload`` as the request bytes of ``method``; the error the server answers with."""
    path, md = _path(method), caller_metadata(ADMIN, audience=service)
    try:
        if method.client_streaming and method.server_streaming:
            async for _ in channel.stream_stream(path)(iter([payload]), metadata=md, timeout=10):
                pass
        elif method.client_streaming:
            await channel.stream_unary(path)(iter([payload]), metadata=md, timeout=10)
        elif method.server_streaming:
            async for _ in channel.unary_stream(path)(payload, metadata=md, timeout=10):
                pass
        else:
            await channel.unary_unary(path)(payload, metadata=md, timeout=10)
    except grpc.aio.AioRpcError as exc:
        return exc
    raise AssertionError(f"{path} accepted bytes that are no protobuf")


async def _serving(address: str) -> int:
    async with secure_channel(address) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    return int(reply.status)


def _grpc_services(platform: Platform) -> list[str]:
    return sorted(n for n, spec in platform.launcher.specs.items() if spec.protocol == "grpc")


def test_every_grpc_service_is_covered(platform: Platform) -> None:
    assert _grpc_services(platform) == sorted(PROTOS), "a new gRPC service: add its proto to PROTOS"


@pytest.mark.parametrize("service", sorted(PROTOS))
async def test_bytes_that_are_no_protobuf_get_a_clear_error(platform: Platform, service: str) -> None:
    address = platform.address(service)
    methods = _methods(PROTOS[service])
    assert methods
    async with secure_channel(address) as channel:
        for method in [*methods, *_methods(holds_pb2)]:
            for i, payload in enumerate(_not_protobuf(zlib.crc32(method.full_name.encode()))):
                err = await _call_raw(channel, method, payload, service)
                where = f"{service} {_path(method)} payload {i}"
                if err.code() == grpc.StatusCode.UNIMPLEMENTED and method.containing_service.file is (
                    holds_pb2.DESCRIPTOR
                ):
                    continue  # a service that keeps nothing under retention serves no HoldService
                # Parsed by kuzet.common.grpcserver: gRPC's own parsing would answer UNKNOWN.
                assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (
                    f"{where}: {err.code()} {err.details()}"
                )
                assert "not a valid message" in (err.details() or ""), where
    assert await _serving(address) == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("service", sorted(PROTOS))
async def test_a_message_over_the_size_limit_is_refused(platform: Platform, service: str) -> None:
    address = platform.address(service)
    method = _methods(PROTOS[service])[0]
    limit_mb = SETTINGS[service].model_fields["max_message_mb"].default
    oversized = b"\x0f" * (limit_mb * 1024 * 1024 + 1)
    # The client would send any size: what refuses it is the server.
    options = [("grpc.max_send_message_length", -1)]
    async with secure_channel(address, options=options) as channel:
        err = await _call_raw(channel, method, oversized, service)
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, f"{service}: {err.code()} {err.details()}"
    assert err.details()
    assert await _serving(address) == health_pb2.HealthCheckResponse.SERVING


class RawGrpc:
    """One HTTP/2 connection over the platform's mTLS that sends a gRPC request as given bytes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.encoder, self.decoder = Encoder(), Decoder()

    @classmethod
    async def open(cls, address: str, tls_env: dict[str, str]) -> RawGrpc:
        context = ssl.create_default_context(cafile=tls_env["KUZET_TLS_CA"])
        context.load_cert_chain(tls_env["KUZET_TLS_CERT"], tls_env["KUZET_TLS_KEY"])
        context.set_alpn_protocols(["h2"])
        host, port = address.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port), ssl=context)
        raw = cls(reader, writer)
        writer.write(h2.PREFACE + h2.frame(h2.SETTINGS, 0, 0))
        return raw

    def request(self, path: str, metadata: list[tuple[str, str]], body: bytes, timeout: str) -> None:
        headers = [
            (":method", "POST"),
            (":scheme", "https"),
            (":path", path),
            (":authority", "127.0.0.1"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
            ("grpc-timeout", timeout),
            *metadata,
        ]
        end_headers, end_stream = 0x4, 0x1
        self.writer.write(h2.frame(h2.HEADERS, end_headers, 1, bytes(self.encoder.encode(headers))))
        self.writer.write(h2.frame(h2.DATA, end_stream, 1, body))

    async def outcome(self) -> dict[str, str]:
        """Stream 1's trailers (grpc-status...), or {'rst_stream': code} if the server reset it."""
        headers: dict[str, str] = {}
        while True:
            head = await self.reader.readexactly(9)
            length, kind, flags = int.from_bytes(head[:3], "big"), head[3], head[4]
            stream = struct.unpack(">L", head[5:9])[0] & 0x7FFFFFFF
            payload = await self.reader.readexactly(length)
            if kind == h2.SETTINGS and not flags & 0x1:
                self.writer.write(h2.frame(h2.SETTINGS, 0x1, 0))
            elif kind == h2.GOAWAY:
                return {"goaway": str(struct.unpack(">L", payload[4:8])[0])}
            elif stream == 1 and kind == h2.RST_STREAM:
                return {"rst_stream": str(struct.unpack(">L", payload)[0])}
            elif stream == 1 and kind == h2.HEADERS:
                headers.update({str(k): str(v) for k, v in self.decoder.decode(payload)})
                if flags & 0x1:
                    return headers

    def close(self) -> None:
        self.writer.close()


@pytest.mark.parametrize("service", sorted(PROTOS))
async def test_a_grpc_message_cut_short_gets_an_error(platform: Platform, service: str) -> None:
    address = platform.address(service)
    method = _methods(PROTOS[service])[0]
    # The length prefix promises 1000 bytes; 10 come, then the stream ends. gRPC waits for the
    # rest (no handler runs meanwhile) until the call's deadline: the call must end there, with
    # an error, while the service serves others.
    body = struct.pack(">BL", 0, 1000) + b"\x0f" * 10
    raw = await RawGrpc.open(address, platform.launcher.client_tls_env)
    try:
        raw.request(_path(method), caller_metadata(ADMIN, audience=service), body, timeout="3S")
        assert await _serving(address) == health_pb2.HealthCheckResponse.SERVING
        outcome = await asyncio.wait_for(raw.outcome(), 30)
    finally:
        raw.close()
    if "grpc-status" in outcome:
        assert outcome["grpc-status"] != "0", f"{service}: {outcome}"
        assert outcome.get("grpc-message"), f"{service}: {outcome}"
    else:
        assert "rst_stream" in outcome, f"{service}: {outcome}"
    assert await _serving(address) == health_pb2.HealthCheckResponse.SERVING

"""Channels to other Kuzet services: mTLS, tracing, caller propagation and retries with backoff."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import grpc
from opentelemetry.instrumentation.grpc import aio_client_interceptors

from kuzet.common.caller import SUBJECT_KEY, TOKEN_KEY, Caller, caller_metadata, current_caller
from kuzet.common.config import TlsSettings
from kuzet.common.errors import LEADER_KEY
from kuzet.common.tls import secure_channel

# UNAVAILABLE means the call did not reach a healthy server: safe to retry, and Kuzet's mutating
# RPCs are idempotent by client-chosen ids (event_id, upload id) where a retry could repeat work.
# Round robin spreads calls over every address of a multi-address target (the replicas `kuzet up`
# runs, `ipv4:a:p0,a:p1`) and leaves out a dead one, so a retry lands on a live replica.
_SERVICE_CONFIG = json.dumps(
    {
        "loadBalancingConfig": [{"round_robin": {}}],
        "methodConfig": [
            {
                "name": [{}],
                "retryPolicy": {
                    "maxAttempts": 5,
                    "initialBackoff": "0.1s",
                    "maxBackoff": "2s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ],
    }
)


def _with_caller(details: Any, caller: Caller | None, audience: str) -> Any:
    existing = list(details.metadata or ())
    # A call that carries its own caller (a tool speaking for several) keeps it.
    if any(key in (TOKEN_KEY, SUBJECT_KEY) for key, _ in existing):
        return details
    extra = caller_metadata(caller or current_caller(), audience=audience)
    if not extra:
        return details
    return details._replace(metadata=grpc.aio.Metadata(*existing, *extra))


class _CallerInterceptor:
    """Forwards the caller of the RPC being served (or a fixed caller) on every outgoing call,
    in a token for the target service."""

    def __init__(self, caller: Caller | None, audience: str) -> None:
        self.caller = caller
        self.audience = audience


class _UnaryUnaryCaller(_CallerInterceptor, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        return await continuation(_with_caller(details, self.caller, self.audience), request)


class _UnaryStreamCaller(_CallerInterceptor, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        return await continuation(_with_caller(details, self.caller, self.audience), request)


class _StreamUnaryCaller(_CallerInterceptor, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(
        self, continuation: Callable[..., Any], details: Any, requests: Any
    ) -> Any:
        return await continuation(_with_caller(details, self.caller, self.audience), requests)


class _StreamStreamCaller(_CallerInterceptor, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(
        self, continuation: Callable[..., Any], details: Any, requests: Any
    ) -> Any:
        return await continuation(_with_caller(details, self.caller, self.audience), requests)


def _caller_interceptors(caller: Caller | None, audience: str) -> list[grpc.aio.ClientInterceptor]:
    # grpc.aio files each interceptor under the first call type it implements, so one per type.
    return [
        cls(caller, audience)
        for cls in (_UnaryUnaryCaller, _UnaryStreamCaller, _StreamUnaryCaller, _StreamStreamCaller)
    ]


def open_channel(
    address: str,
    *,
    audience: str,
    caller: Caller | None = None,
    max_message_mb: int = 32,
    server_name: str | None = None,
    tls: TlsSettings | None = None,
) -> grpc.aio.Channel:
    """An mTLS channel to ``address`` (kuzet.common.tls), the service ``audience`` (its name:
    the audience of the caller tokens its calls carry). Without ``caller`` the current RPC's
    caller is forwarded; ``server_name``: the name to verify where ``address`` is a replica's IP;
    ``tls``: other settings than the process's (the badge device port is plaintext h2c)."""
    max_bytes = max_message_mb * 1024 * 1024
    return secure_channel(
        address,
        settings=tls,
        server_name=server_name,
        interceptors=[*_caller_interceptors(caller, audience), *aio_client_interceptors()],
        options=[
            ("grpc.enable_retries", 1),
            ("grpc.service_config", _SERVICE_CONFIG),
            ("grpc.max_receive_message_length", max_bytes),
            ("grpc.max_send_message_length", max_bytes),
            ("grpc.keepalive_time_ms", 30_000),
        ],
    )


def leader_address(exc: grpc.aio.AioRpcError) -> str:
    """The replica a follower's UNAVAILABLE names (``x-kuzet-leader``); '' for any other error."""
    if exc.code() != grpc.StatusCode.UNAVAILABLE:
        return ""
    for key, value in exc.trailing_metadata() or ():
        if key == LEADER_KEY:
            return str(value)
    return ""

"""gRPC server bootstrap shared by every service: mTLS, health, reflection (opt-in), interceptors, graceful stop."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import aio_server_interceptor

from kuzet.common.caller import CallerTokens, reset_current_caller, set_current_caller, use_caller_tokens
from kuzet.common.config import ServiceSettings
from kuzet.common.errors import InvalidArgument, KuzetError
from kuzet.common.telemetry import current_trace_id, set_current_service
from kuzet.common.tls import bind, server_credentials

log = logging.getLogger(__name__)
access_log = logging.getLogger("kuzet.access")

AddServicer = Callable[[Any, grpc.aio.Server], None]


@dataclass(frozen=True)
class ServiceSpec:
    """How `kuzet serve` and `kuzet up` run a service."""

    name: str
    default_port: int
    run: Callable[[], Coroutine[Any, Any, None]]
    # Start order in `kuzet up`: dependencies first.
    order: int = 50
    protocol: str = "grpc"


# Callable without a caller token: probes and (opt-in) reflection carry no caller.
_OPEN_SERVICES = (f"/{health.SERVICE_NAME}/", f"/{reflection.SERVICE_NAME}/")


class _ContextInterceptor(grpc.aio.ServerInterceptor):
    """Verifies the caller's token, sets caller and service for the RPC and turns domain errors
    into status codes."""

    def __init__(self, service: str, tokens: CallerTokens) -> None:
        self.service = service
        self.tokens = tokens

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(_OPEN_SERVICES):
            return handler
        method = handler_call_details.method
        metadata = handler_call_details.invocation_metadata
        # Requests reach the handlers as bytes and are parsed in _parsed, where a bad one can be
        # answered INVALID_ARGUMENT; gRPC's own parsing answers it UNKNOWN.
        parse = handler.request_deserializer
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(_parsed(handler.unary_unary, parse, streamed=False), method, metadata),
                None,
                handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._unary(_parsed(handler.stream_unary, parse, streamed=True), method, metadata),
                None,
                handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._streaming(_parsed(handler.unary_stream, parse, streamed=False), method, metadata),
                None,
                handler.response_serializer,
            )
        return grpc.stream_stream_rpc_method_handler(
            self._streaming(_parsed(handler.stream_stream, parse, streamed=True), method, metadata),
            None,
            handler.response_serializer,
        )

    def _enter(self, method: str, metadata: Any) -> tuple[Any, Any]:
        try:
            caller = self.tokens.caller_from(metadata, self.service)
        except KuzetError as exc:
            log.warning("%s refused: %s", method, exc.message, extra={"grpc_code": exc.code.name})
            raise
        span = trace.get_current_span()
        span.set_attribute("kuzet.service", self.service)
        if caller.agency:
            span.set_attribute("kuzet.agency", caller.agency)
        return set_current_caller(caller), set_current_service(self.service)

    async def _fail(self, context: grpc.aio.ServicerContext, method: str, exc: BaseException) -> None:
        if isinstance(exc, KuzetError):
            log.info("%s refused: %s", method, exc.message, extra={"grpc_code": exc.code.name})
            await context.abort(exc.code, exc.message, trailing_metadata=exc.trailers)
        log.exception("%s failed", method)
        await context.abort(grpc.StatusCode.INTERNAL, f"internal error (trace {current_trace_id() or '-'})")

    def _unary(self, behaviour: Callable[..., Any], method: str, metadata: Any) -> Callable[..., Any]:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                tokens = self._enter(method, metadata)
            except KuzetError as exc:
                await context.abort(exc.code, exc.message)
            started = time.perf_counter()
            try:
                return await behaviour(request, context)
            except (grpc.aio.AbortError, asyncio.CancelledError):
                raise
            except Exception as exc:
                await self._fail(context, method, exc)
            finally:
                log_rpc(method, started)
                reset_current_caller(tokens[0])

        return wrapped

    def _streaming(self, behaviour: Callable[..., Any], method: str, metadata: Any) -> Callable[..., Any]:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            try:
                tokens = self._enter(method, metadata)
            except KuzetError as exc:
                await context.abort(exc.code, exc.message)
            started = time.perf_counter()
            try:
                result = behaviour(request, context)
                if inspect.isasyncgen(result):
                    async for item in result:
                        yield item
                else:
                    await result
            except (grpc.aio.AbortError, asyncio.CancelledError, GeneratorExit):
                raise
            except Exception as exc:
                await self._fail(context, method, exc)
            finally:
                log_rpc(method, started)
                # A cancelled stream is closed from another task: its context is not ours to reset.
                with contextlib.suppress(ValueError):
                    reset_current_caller(tokens[0])

        return wrapped


def _parse(parse: Callable[[bytes], Any], raw: bytes) -> Any:
    try:
        return parse(raw)
    except DecodeError as exc:
        raise InvalidArgument(f"the request is not a valid message: {exc}") from None


def _parsed(
    behaviour: Callable[..., Any], parse: Callable[[bytes], Any] | None, *, streamed: bool
) -> Callable[..., Any]:
    """``behaviour`` fed the requests parsed from the bytes that came (each of them if ``streamed``)."""
    if parse is None:
        return behaviour
    if not streamed:
        return lambda raw, context: behaviour(_parse(parse, raw), context)

    async def each(raw_requests: AsyncIterator[bytes]) -> AsyncIterator[Any]:
        async for raw in raw_requests:
            yield _parse(parse, raw)

    return lambda raw_requests, context: behaviour(each(raw_requests), context)


def log_rpc(method: str, started: float, agency: str | None = None) -> None:
    """The access-log line of a call (``started``: its perf_counter), inside its span.

    One line per call lets an operator follow a trace id through every service; ``agency`` for
    calls served outside the interceptors, where no caller is set in the context.
    """
    extra: dict[str, object] = {"duration_ms": round((time.perf_counter() - started) * 1000, 2)}
    if agency is not None:
        extra["agency"] = agency
    access_log.info("rpc %s", method, extra=extra)


class GrpcServer:
    """One service's gRPC server with the platform's standard parts."""

    def __init__(
        self,
        settings: ServiceSettings,
        servicers: Sequence[tuple[AddServicer, Any]],
        service_names: Sequence[str],
        *,
        port: int | None = None,
        on_start: Sequence[Callable[[], Awaitable[None]]] = (),
        on_stop: Sequence[Callable[[], Awaitable[None]]] = (),
    ) -> None:
        self.settings = settings
        self.service_names = list(service_names)
        self._port = settings.listen_port if port is None else port
        self._on_start = list(on_start)
        self._on_stop = list(on_stop)
        # Read now so that missing caller keys stop the service before it starts; the process
        # mints its outgoing tokens with the same keys.
        self.tokens = CallerTokens.from_settings(settings)
        use_caller_tokens(self.tokens)
        # Read now so that a missing or unreadable certificate stops the service before it starts.
        self._credentials = server_credentials()
        max_bytes = settings.max_message_mb * 1024 * 1024
        self.server = grpc.aio.server(
            # Tracing outermost, so that the caller, errors and access log are inside the span.
            interceptors=[aio_server_interceptor(), _ContextInterceptor(settings.service_name, self.tokens)],
            options=[
                ("grpc.max_receive_message_length", max_bytes),
                ("grpc.max_send_message_length", max_bytes),
                ("grpc.so_reuseport", 0),
            ],
        )
        for add, servicer in servicers:
            add(servicer, self.server)
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        if settings.grpc_reflection:
            reflection.enable_server_reflection(
                [*self.service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server
            )
        self.bound_port = 0

    @property
    def address(self) -> str:
        return f"{self.settings.host}:{self.bound_port}"

    async def start(self) -> str:
        self.bound_port = bind(self.server, f"{self.settings.host}:{self._port}", self._credentials)
        if not self.bound_port:
            raise RuntimeError(f"cannot listen on {self.settings.host}:{self._port}")
        await self.server.start()
        try:
            for hook in self._on_start:
                await hook()
        except BaseException:
            await self.server.stop(0)
            raise
        for name in ["", *self.service_names]:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("%s listening on %s", self.settings.service_name, self.address)
        return self.address

    async def stop(self, grace: float | None = None) -> None:
        """Report NOT_SERVING, let in-flight calls finish, then run the service's clean-up."""
        for name in ["", *self.service_names]:
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.stop(self.settings.shutdown_grace_s if grace is None else grace)
        for hook in self._on_stop:
            await hook()
        log.info("%s stopped", self.settings.service_name)

    async def serve_until_signal(self) -> None:
        """Run until SIGINT/SIGTERM, then stop gracefully (what Kubernetes expects)."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await self.start()
        await stop.wait()
        await self.stop()

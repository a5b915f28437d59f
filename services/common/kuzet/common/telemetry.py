"""OpenTelemetry set-up: one tracer provider per process, OTLP export when an endpoint is set.

Spans are stamped with the service and agency they were made for, so that traces stay readable
when several services share a process (tests) and so that auditors can filter by agency.
"""

from __future__ import annotations

import contextvars
import logging

from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from kuzet.common.caller import current_caller

_service: contextvars.ContextVar[str] = contextvars.ContextVar("kuzet_service", default="")
log = logging.getLogger(__name__)


def set_current_service(name: str) -> contextvars.Token[str]:
    return _service.set(name)


def current_service() -> str:
    return _service.get()


class KuzetAttributes(SpanProcessor):
    """Adds kuzet.service and kuzet.agency to every span when it starts."""

    def __init__(self, default_service: str = "") -> None:
        self.default_service = default_service

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        span.set_attribute("kuzet.service", _service.get() or self.default_service)
        agency = current_caller().agency
        if agency:
            span.set_attribute("kuzet.agency", agency)

    def on_end(self, span: ReadableSpan) -> None:
        return None


def setup_telemetry(service_name: str, otlp_endpoint: str = "") -> TracerProvider:
    """Install the process-wide tracer provider once; later calls (in-process tests) reuse it."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(KuzetAttributes(service_name))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint, insecure=True))
        )
        _setup_metrics(service_name, otlp_endpoint)
        log.info("exporting traces and metrics to %s", otlp_endpoint)
    trace.set_tracer_provider(provider)
    return provider


def _setup_metrics(service_name: str, otlp_endpoint: str) -> None:
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=otlp_endpoint, insecure=True))
    metrics.set_meter_provider(
        MeterProvider(resource=Resource.create({"service.name": service_name}), metric_readers=[reader])
    )


def current_trace_id() -> str:
    """Hex trace id of the active span, '' when there is none."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""


def traceparent() -> str:
    """The W3C traceparent of the active span ('' outside a span), for storing with a record."""
    from opentelemetry.propagate import inject

    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier.get("traceparent", "")


def context_from_traceparent(value: str) -> Context | None:
    """A context whose parent is the stored traceparent, to continue a trace later."""
    if not value:
        return None
    from opentelemetry.propagate import extract

    return extract({"traceparent": value})

"""The foundation's promise (issue 2): two services in-process, one calling the other, one trace.

A client calls identity; identity calls inference (DetectFaces, EmbedFaces) over gRPC through
kuzet.common's channel. Every server span of both services must carry the client's trace id, and
a bad request must come back as INVALID_ARGUMENT with a message that says what is wrong.
"""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from kuzet.common.grpcclient import open_channel
from kuzet.common.testing import free_port_number
from kuzet.identity.v1 import identity_pb2 as pb
from kuzet.identity.v1 import identity_pb2_grpc
from kuzet.inference.config import InferenceSettings
from kuzet.inference.server import build as build_inference

from .conftest import INVESTIGATOR, Photos, start_identity

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_one_trace_through_identity_and_inference(
    span_exporter: InMemorySpanExporter, tmp_path: Path, photos: Photos
) -> None:
    # Both servers are built after the test's tracer provider exists, so their interceptors use it.
    inference = await build_inference(InferenceSettings(port=free_port_number(), data_dir=tmp_path / "inf"))
    inference_address = await inference.start()
    identity = await start_identity(f"sqlite:///{tmp_path / 'id.db'}", tmp_path, inference_address)
    channel = open_channel(identity.server.address, audience="identity", caller=INVESTIGATOR)
    stub = identity_pb2_grpc.IdentityServiceStub(channel)
    try:
        span_exporter.clear()
        tracer = trace.get_tracer("kuzet.tests")
        with tracer.start_as_current_span("console request") as root:
            response = await stub.Identify(
                pb.IdentifyRequest(
                    probe=pb.Probe(image=photos.obama[0]), mode=pb.MATCH_MODE_ALERT, purpose="trace check"
                )
            )
        trace_id = root.get_span_context().trace_id
        assert response.model == "sface@2021dec" and response.HasField("probe_face")

        servers = [s for s in span_exporter.get_finished_spans() if s.kind == SpanKind.SERVER]
        by_service: dict[str, list[str]] = {}
        for s in servers:
            by_service.setdefault(str((s.attributes or {}).get("kuzet.service")), []).append(s.name)
        assert any("IdentityService/Identify" in n for n in by_service.get("identity", [])), by_service
        inference_calls = by_service.get("inference", [])
        assert any("DetectFaces" in n for n in inference_calls), by_service
        assert any("EmbedFaces" in n for n in inference_calls), by_service
        assert {s.context.trace_id for s in servers} == {trace_id}
        # The inference spans are children of identity's span, not separate roots.
        identity_span = next(s for s in servers if "Identify" in s.name)
        inference_spans = [s for s in servers if (s.attributes or {}).get("kuzet.service") == "inference"]
        assert all(s.parent is not None for s in inference_spans)
        ids_in_identity = {
            c.context.span_id for c in span_exporter.get_finished_spans() if c.context.trace_id == trace_id
        }
        assert all(s.parent.span_id in ids_in_identity for s in inference_spans if s.parent)
        assert (identity_span.attributes or {}).get("kuzet.agency") == "prison"

        # A bad request: the undecodable image is refused by inference, reported by identity.
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await stub.Identify(
                pb.IdentifyRequest(
                    probe=pb.Probe(image=b"GIF89a but not really"),
                    mode=pb.MATCH_MODE_ALERT,
                    purpose="trace check",
                )
            )
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "not a decodable image" in (bad.value.details() or ""), bad.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as no_purpose:
            await stub.Identify(
                pb.IdentifyRequest(probe=pb.Probe(image=photos.obama[0]), mode=pb.MATCH_MODE_ALERT)
            )
        assert no_purpose.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "purpose is required" in (no_purpose.value.details() or "")
    finally:
        await channel.close()
        await identity.channel.close()
        await identity.server.stop(0)
        await inference.stop(0)

import json
import logging

from kuzet.common.audit import AuditLog
from kuzet.common.auditservice import SERVICE_NAME, add_audit_service
from kuzet.common.caller import Caller
from kuzet.common.config import ServiceSettings
from kuzet.common.db import Database
from kuzet.common.grpcclient import open_channel
from kuzet.common.grpcserver import GrpcServer
from kuzet.common.logs import JsonFormatter
from kuzet.common.v1 import audit_pb2, audit_pb2_grpc


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, object]] = []
        self.formatter_ = JsonFormatter("test")

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.formatter_.format(record)))


async def test_server_span_and_access_log_share_the_trace(tmp_path, span_exporter) -> None:  # type: ignore[no-untyped-def]
    capture = _Capture()
    logging.getLogger("kuzet.access").addHandler(capture)
    logging.getLogger("kuzet.access").setLevel(logging.INFO)
    log = AuditLog(Database(f"sqlite:///{tmp_path / 'a.db'}"))
    server = GrpcServer(ServiceSettings(), [add_audit_service(log)], [SERVICE_NAME], port=0)
    await server.start()
    try:
        caller = Caller("ann", "prison-a", frozenset({"auditor"}))
        async with open_channel(server.address, audience="service", caller=caller) as channel:
            await audit_pb2_grpc.AuditServiceStub(channel).VerifyAudit(audit_pb2.VerifyAuditRequest())
    finally:
        await server.stop(0)
        logging.getLogger("kuzet.access").removeHandler(capture)
    spans = span_exporter.get_finished_spans()
    server_span = next(s for s in spans if s.kind.name == "SERVER")
    client_span = next(s for s in spans if s.kind.name == "CLIENT")
    assert server_span.context.trace_id == client_span.context.trace_id
    assert server_span.attributes["kuzet.service"] == "service"
    assert server_span.attributes["kuzet.agency"] == "prison-a"
    trace_id = format(server_span.context.trace_id, "032x")
    access = [line for line in capture.lines if "VerifyAudit" in str(line["msg"])]
    assert access and access[0]["trace_id"] == trace_id and access[0]["agency"] == "prison-a"

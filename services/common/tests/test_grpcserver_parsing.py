"""A request whose bytes are no valid message is the caller's error: INVALID_ARGUMENT naming the
type, where gRPC's own parsing answers UNKNOWN; the server goes on serving valid ones."""

import grpc
import pytest

from kuzet.common.audit import AuditLog
from kuzet.common.auditservice import SERVICE_NAME, add_audit_service
from kuzet.common.caller import Caller
from kuzet.common.config import ServiceSettings
from kuzet.common.db import Database
from kuzet.common.grpcclient import open_channel
from kuzet.common.grpcserver import GrpcServer
from kuzet.common.v1 import audit_pb2, audit_pb2_grpc

AUDITOR = Caller("ann", "prison-a", frozenset({"auditor"}))
LIST_AUDIT = f"/{SERVICE_NAME}/ListAudit"


@pytest.fixture
async def server(tmp_path):  # type: ignore[no-untyped-def]
    log = AuditLog(Database(f"sqlite:///{tmp_path / 'a.db'}"))
    log.append("identity.search", "g1", agency="prison-a", actor="bob")
    srv = GrpcServer(ServiceSettings(), [add_audit_service(log)], [SERVICE_NAME], port=0)
    await srv.start()
    yield srv
    await srv.stop(0)


@pytest.mark.parametrize(
    "garbage",
    [b"\x0f\x01\x02", b"\x0a\x64short", b"\x08" + b"\xff" * 11],
    ids=["no such wire type", "length past the end", "endless varint"],
)
async def test_bytes_that_are_no_message_are_invalid_argument(server: GrpcServer, garbage: bytes) -> None:
    async with open_channel(server.address, audience="service", caller=AUDITOR) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await channel.unary_unary(LIST_AUDIT)(garbage, timeout=10)
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "kuzet.common.v1.ListAuditRequest" in (bad.value.details() or "")
        reply = await audit_pb2_grpc.AuditServiceStub(channel).ListAudit(audit_pb2.ListAuditRequest())
    assert [r.target for r in reply.records] == ["g1"]

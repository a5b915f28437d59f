import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from kuzet.common.audit import AuditLog
from kuzet.common.auditservice import SERVICE_NAME, add_audit_service
from kuzet.common.caller import Caller, caller_tokens, use_caller_tokens
from kuzet.common.config import ServiceSettings
from kuzet.common.db import Database
from kuzet.common.errors import ConfigError
from kuzet.common.grpcclient import open_channel
from kuzet.common.grpcserver import GrpcServer
from kuzet.common.tls import secure_channel
from kuzet.common.v1 import audit_pb2, audit_pb2_grpc, common_pb2

AUDITOR = Caller("ann", "prison-a", frozenset({"auditor"}))


@pytest.fixture
async def server(tmp_path):  # type: ignore[no-untyped-def]
    log = AuditLog(Database(f"sqlite:///{tmp_path / 'a.db'}"))
    log.append("identity.search", "g1", agency="prison-a", actor="bob")
    log.append("identity.search", "g2", agency="police-b", actor="carl")
    srv = GrpcServer(ServiceSettings(), [add_audit_service(log)], [SERVICE_NAME], port=0)
    await srv.start()
    yield srv
    await srv.stop(0)


async def test_health_and_caller_scoped_listing(server: GrpcServer) -> None:
    async with open_channel(server.address, audience="service", caller=AUDITOR) as channel:
        health = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=SERVICE_NAME)
        )
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        reply = await audit_pb2_grpc.AuditServiceStub(channel).ListAudit(audit_pb2.ListAuditRequest())
    assert [r.target for r in reply.records] == ["g1"]
    assert reply.records[0].actor == "bob"


async def test_domain_errors_become_status_codes(server: GrpcServer) -> None:
    async with open_channel(server.address, audience="service", caller=AUDITOR) as channel:
        stub = audit_pb2_grpc.AuditServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await stub.ListAudit(audit_pb2.ListAuditRequest(page=common_pb2.PageRequest(page_size=10_000)))
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "page_size" in (bad.value.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as other:
            await stub.ListAudit(audit_pb2.ListAuditRequest(agency_id="police-b"))
        assert other.value.code() == grpc.StatusCode.PERMISSION_DENIED
    async with open_channel(
        server.address, audience="service", caller=Caller("op", "prison-a", frozenset({"operator"}))
    ) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await audit_pb2_grpc.AuditServiceStub(channel).VerifyAudit(audit_pb2.VerifyAuditRequest())
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "auditor" in (denied.value.details() or "")


async def test_calls_need_a_caller_token_but_health_does_not(server: GrpcServer) -> None:
    async with open_channel(server.address, audience="service", caller=AUDITOR) as channel:
        ok = await audit_pb2_grpc.AuditServiceStub(channel).VerifyAudit(audit_pb2.VerifyAuditRequest())
        assert ok.ok
    plain = [("x-kuzet-subject", "ann"), ("x-kuzet-agency", "police-b"), ("x-kuzet-roles", "auditor")]
    async with secure_channel(server.address) as raw:
        health = await health_pb2_grpc.HealthStub(raw).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        for metadata in (plain, None):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await audit_pb2_grpc.AuditServiceStub(raw).VerifyAudit(
                    audit_pb2.VerifyAuditRequest(), metadata=metadata
                )
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert "no caller token" in (err.value.details() or "")


async def test_a_service_without_caller_keys_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUZET_CALLER_SIGNING_KEY")
    with pytest.raises(ConfigError, match="KUZET_CALLER_SIGNING_KEY"):
        GrpcServer(ServiceSettings(), [], [], port=0)
    # Only when development is said explicitly (a server makes its tokens the process's: restored).
    previous = caller_tokens()
    try:
        GrpcServer(ServiceSettings(insecure_plain_callers=True), [], [], port=0)
    finally:
        use_caller_tokens(previous)


async def test_caller_travels_on_streaming_calls_too(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kuzet.common.caller import current_caller

    async def who(request: bytes, context: grpc.aio.ServicerContext):  # type: ignore[no-untyped-def]
        caller = current_caller()
        yield f"{caller.subject}@{caller.agency}".encode()

    def add(_servicer: object, server: grpc.aio.Server) -> None:
        handler = grpc.unary_stream_rpc_method_handler(who)
        server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler("test.Who", {"Stream": handler})]
        )

    srv = GrpcServer(ServiceSettings(), [(add, None)], ["test.Who"], port=0)
    await srv.start()
    try:
        async with open_channel(srv.address, audience="service", caller=AUDITOR) as channel:
            call = channel.unary_stream("/test.Who/Stream")(b"")
            replies = [reply async for reply in call]
    finally:
        await srv.stop(0)
    assert replies == [b"ann@prison-a"]


@pytest.mark.parametrize("enabled", [False, True])
async def test_reflection_is_served_only_when_enabled(enabled: bool) -> None:
    settings = ServiceSettings(grpc_reflection=enabled)
    srv = GrpcServer(settings, [], [], port=0)
    await srv.start()
    try:
        async with secure_channel(srv.address) as channel:
            stub = reflection_pb2_grpc.ServerReflectionStub(channel)
            call = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
            if enabled:
                reply = await call.read()
                names = {s.name for s in reply.list_services_response.service}
                assert "grpc.health.v1.Health" in names
            else:
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await call.read()
                assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        await srv.stop(0)

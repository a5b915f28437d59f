"""Per-device credentials: a token per badge, stored as a hash, the only key to the device port."""

from __future__ import annotations

import contextlib

import grpc
import pytest
from sqlalchemy import select

from kuzet.badge import credentials
from kuzet.badge.models import BadgeRow
from kuzet.badge.server import BadgeApp
from kuzet.badge.sim import register_badges
from kuzet.badge.v1 import badge_pb2 as A
from kuzet.badge.v1 import badge_pb2_grpc
from kuzet.common.caller import Caller

from .conftest import AGENCY, StubFactory

Stub = badge_pb2_grpc.BadgeServiceStub


async def _open(
    channel: grpc.aio.Channel, token: str, badge_id: str
) -> tuple[grpc.aio.Channel, grpc.aio.StreamStreamCall]:
    # A badge has no caller identity: a plain channel, its token the only metadata.
    call = Stub(channel).Connect(metadata=(credentials.metadata(token),))
    await call.write(A.ConnectRequest(hello=A.Hello(badge_id=badge_id)))
    return channel, call


async def _status(port: int, token: str, badge_id: str) -> tuple[grpc.StatusCode, str]:
    """How the device port answers a stream's hello: OK and the reply's kind, or the status."""
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    call = Stub(channel).Connect(metadata=(credentials.metadata(token),))
    try:
        # A refusal can end the call before the hello is written; the call's status says why.
        with contextlib.suppress(grpc.aio.AioRpcError):
            await call.write(A.ConnectRequest(hello=A.Hello(badge_id=badge_id)))
        reply = await call.read()
        return grpc.StatusCode.OK, reply.WhichOneof("payload")
    except grpc.aio.AioRpcError:
        return await call.code(), await call.details()
    finally:
        await channel.close()


async def test_only_the_badges_own_current_token_opens_its_stream(app: BadgeApp, admin: Stub) -> None:
    tokens = await register_badges(admin, AGENCY, ["K-1", "K-2"])
    port = app.device.port
    assert await _status(port, tokens["K-1"], "K-1") == (grpc.StatusCode.OK, "welcome")
    code, message = await _status(port, tokens["K-2"], "K-1")
    assert code == grpc.StatusCode.PERMISSION_DENIED and "K-2" in message
    badge_id, _, secret = tokens["K-1"].rpartition(".")
    wrong = f"{badge_id}.{secret[:-2]}AA" if not secret.endswith("AA") else f"{badge_id}.{secret[:-2]}BB"
    code, message = await _status(port, wrong, "K-1")
    assert code == grpc.StatusCode.UNAUTHENTICATED and "invalid or revoked" in message
    code, message = await _status(port, "no-dot-here", "K-1")
    assert code == grpc.StatusCode.UNAUTHENTICATED and "malformed" in message
    code, message = await _status(port, f"K-404.{secret}", "K-404")
    assert code == grpc.StatusCode.UNAUTHENTICATED and "invalid or revoked" in message
    # Only a hash is stored: the secret is nowhere in the table.
    with app.database.session() as session:
        row = session.scalar(select(BadgeRow).where(BadgeRow.badge_id == "K-1"))
        assert row is not None and secret not in row.device_credential_hash
        assert len(row.device_credential_hash) == 64


async def test_revocation_ends_the_live_stream_and_a_new_token_replaces_the_old(
    app: BadgeApp, admin: Stub
) -> None:
    tokens = await register_badges(admin, AGENCY, ["K-3"])
    port = app.device.port
    channel, call = await _open(grpc.aio.insecure_channel(f"127.0.0.1:{port}"), tokens["K-3"], "K-3")
    assert (await call.read()).WhichOneof("payload") == "welcome"
    revoked = await admin.RevokeDeviceCredential(A.RevokeDeviceCredentialRequest(badge_id="K-3"))
    assert revoked.revoked and not revoked.badge.has_device_credential
    with pytest.raises(grpc.aio.AioRpcError) as err:
        while (await call.read()) is not grpc.aio.EOF:
            pass
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED and "revoked" in (err.value.details() or "")
    await channel.close()
    assert (await _status(port, tokens["K-3"], "K-3"))[0] == grpc.StatusCode.UNAUTHENTICATED
    again = await admin.RevokeDeviceCredential(A.RevokeDeviceCredentialRequest(badge_id="K-3"))
    assert not again.revoked

    issued = await admin.IssueDeviceCredential(A.IssueDeviceCredentialRequest(badge_id="K-3"))
    assert issued.badge.has_device_credential and issued.device_token != tokens["K-3"]
    assert await _status(port, issued.device_token, "K-3") == (grpc.StatusCode.OK, "welcome")
    # A second issue retires the first token and the stream it opened.
    channel, call = await _open(grpc.aio.insecure_channel(f"127.0.0.1:{port}"), issued.device_token, "K-3")
    assert (await call.read()).WhichOneof("payload") == "welcome"
    newer = await admin.IssueDeviceCredential(A.IssueDeviceCredentialRequest(badge_id="K-3"))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        while (await call.read()) is not grpc.aio.EOF:
            pass
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    await channel.close()
    assert (await _status(port, issued.device_token, "K-3"))[0] == grpc.StatusCode.UNAUTHENTICATED
    assert await _status(port, newer.device_token, "K-3") == (grpc.StatusCode.OK, "welcome")

    # Audited without the token itself.
    entries = app.evidence.audit.list(agency=AGENCY, target="K-3")
    actions = [e.action for e in entries]
    assert actions.count("badge.credential.issue") == 2 and actions.count("badge.credential.revoke") == 2
    assert not any(newer.device_token.rpartition(".")[2] in str(e) for e in entries)


async def test_issuing_and_revoking_is_for_admins_of_the_badges_agency(
    app: BadgeApp, admin: Stub, stub_for: StubFactory
) -> None:
    await register_badges(admin, AGENCY, ["K-5"])
    operator = stub_for(Caller("op-1", AGENCY, frozenset({"operator"})))
    other_admin = stub_for(Caller("adm-9", "traffic-police", frozenset({"admin"})))
    for stub, code in (
        (operator, grpc.StatusCode.PERMISSION_DENIED),
        (other_admin, grpc.StatusCode.PERMISSION_DENIED),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.IssueDeviceCredential(A.IssueDeviceCredentialRequest(badge_id="K-5"))
        assert err.value.code() == code
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.RevokeDeviceCredential(A.RevokeDeviceCredentialRequest(badge_id="K-5"))
        assert err.value.code() == code
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await admin.IssueDeviceCredential(A.IssueDeviceCredentialRequest(badge_id="K-404"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await admin.IssueDeviceCredential(A.IssueDeviceCredentialRequest(badge_id="bad id!"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT

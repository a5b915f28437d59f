"""The HoldService a service registers for the kinds of item its retention jobs delete."""

from __future__ import annotations

import grpc

from kuzet.common.caller import current_caller
from kuzet.common.errors import InvalidArgument
from kuzet.common.grpcserver import AddServicer
from kuzet.common.holds import Holds
from kuzet.common.retention import Retention
from kuzet.common.v1 import common_pb2, holds_pb2, holds_pb2_grpc

SERVICE_NAME = holds_pb2.DESCRIPTOR.services_by_name["HoldService"].full_name


class HoldServicer(holds_pb2_grpc.HoldServiceServicer):
    def __init__(self, holds: Holds, retention: Retention | None) -> None:
        self.holds = holds
        self.retention = retention

    async def PlaceHold(
        self, request: holds_pb2.PlaceHoldRequest, context: grpc.aio.ServicerContext
    ) -> holds_pb2.PlaceHoldResponse:
        hold = await self.holds.place(current_caller(), request)
        return holds_pb2.PlaceHoldResponse(hold=hold.to_proto())

    async def ReleaseHold(
        self, request: holds_pb2.ReleaseHoldRequest, context: grpc.aio.ServicerContext
    ) -> holds_pb2.ReleaseHoldResponse:
        if not request.hold_id:
            raise InvalidArgument("hold_id is required")
        hold, released = await self.holds.release(current_caller(), request.hold_id, request.reason)
        return holds_pb2.ReleaseHoldResponse(hold=hold.to_proto(), released=released)

    async def GetHold(
        self, request: holds_pb2.GetHoldRequest, context: grpc.aio.ServicerContext
    ) -> holds_pb2.GetHoldResponse:
        if not request.hold_id:
            raise InvalidArgument("hold_id is required")
        hold = await self.holds.get(current_caller(), request.hold_id)
        return holds_pb2.GetHoldResponse(hold=hold.to_proto())

    async def ListHolds(
        self, request: holds_pb2.ListHoldsRequest, context: grpc.aio.ServicerContext
    ) -> holds_pb2.ListHoldsResponse:
        holds, token = await self.holds.page(current_caller(), request)
        return holds_pb2.ListHoldsResponse(
            holds=[h.to_proto() for h in holds], page=common_pb2.PageResponse(next_page_token=token)
        )

    async def GetRetentionStatus(
        self, request: holds_pb2.GetRetentionStatusRequest, context: grpc.aio.ServicerContext
    ) -> holds_pb2.GetRetentionStatusResponse:
        current_caller().require_role("admin", "auditor", "service")
        jobs = self.retention.to_proto() if self.retention is not None else []
        return holds_pb2.GetRetentionStatusResponse(jobs=jobs)


def add_hold_service(holds: Holds, retention: Retention | None) -> tuple[AddServicer, HoldServicer]:
    """(add function, servicer) pair for GrpcServer's servicer list."""
    return holds_pb2_grpc.add_HoldServiceServicer_to_server, HoldServicer(holds, retention)

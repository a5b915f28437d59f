"""gRPC stubs of the services behind the gateway, one channel per service."""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf.descriptor import ServiceDescriptor

from kuzet.alerting.v1 import alerting_pb2, alerting_pb2_grpc
from kuzet.badge.v1 import badge_pb2, badge_pb2_grpc
from kuzet.common.config import Endpoints
from kuzet.common.grpcclient import open_channel
from kuzet.common.tls import host_of
from kuzet.common.v1 import audit_pb2_grpc
from kuzet.drone.v1 import drone_pb2, drone_pb2_grpc
from kuzet.federation.v1 import federation_pb2, federation_pb2_grpc
from kuzet.identity.v1 import identity_pb2, identity_pb2_grpc
from kuzet.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from kuzet.traffic.v1 import traffic_pb2, traffic_pb2_grpc

# Services whose audit trail an auditor can read through the gateway.
AUDITED_SERVICES = ("alerting", "identity", "ingest", "badge", "drone", "traffic", "federation")

# Each backing service's stub and its contract (routes check their RPC names against it).
STUBS: dict[str, tuple[type[Any], ServiceDescriptor]] = {
    "alerting": (
        alerting_pb2_grpc.AlertingServiceStub,
        alerting_pb2.DESCRIPTOR.services_by_name["AlertingService"],
    ),
    "identity": (
        identity_pb2_grpc.IdentityServiceStub,
        identity_pb2.DESCRIPTOR.services_by_name["IdentityService"],
    ),
    "ingest": (ingest_pb2_grpc.IngestServiceStub, ingest_pb2.DESCRIPTOR.services_by_name["IngestService"]),
    "badge": (badge_pb2_grpc.BadgeServiceStub, badge_pb2.DESCRIPTOR.services_by_name["BadgeService"]),
    "drone": (drone_pb2_grpc.DroneServiceStub, drone_pb2.DESCRIPTOR.services_by_name["DroneService"]),
    "traffic": (
        traffic_pb2_grpc.TrafficServiceStub,
        traffic_pb2.DESCRIPTOR.services_by_name["TrafficService"],
    ),
    "federation": (
        federation_pb2_grpc.FederationServiceStub,
        federation_pb2.DESCRIPTOR.services_by_name["FederationService"],
    ),
}


class Backends:
    def __init__(self, endpoints: Endpoints, *, max_message_mb: int = 32) -> None:
        self.endpoints = endpoints
        self._max_mb = max_message_mb
        self._channels: dict[str, grpc.aio.Channel] = {}

    def channel(self, service: str, address: str = "") -> grpc.aio.Channel:
        """The channel to ``service`` (its endpoint, or one replica's ``address``)."""
        key = f"{service}@{address}" if address else service
        ch = self._channels.get(key)
        if ch is None:
            # Calls carry the caller that Gateway.call sets around them, in a token for ``service``.
            # A replica's address is its pod IP, which no certificate names: it must prove to
            # be the service's, by the name of the service's endpoint.
            endpoint = getattr(self.endpoints, service)
            ch = open_channel(
                address or endpoint,
                audience=service,
                max_message_mb=self._max_mb,
                server_name=host_of(endpoint) if address else None,
            )
            self._channels[key] = ch
        return ch

    def stub(self, service: str, address: str = "") -> Any:
        """The stub of ``service`` (at one replica's ``address``, e.g. the leader a follower named)."""
        return STUBS[service][0](self.channel(service, address))

    @property
    def alerting(self) -> alerting_pb2_grpc.AlertingServiceStub:
        return alerting_pb2_grpc.AlertingServiceStub(self.channel("alerting"))

    @property
    def identity(self) -> identity_pb2_grpc.IdentityServiceStub:
        return identity_pb2_grpc.IdentityServiceStub(self.channel("identity"))

    @property
    def ingest(self) -> ingest_pb2_grpc.IngestServiceStub:
        return ingest_pb2_grpc.IngestServiceStub(self.channel("ingest"))

    @property
    def badge(self) -> badge_pb2_grpc.BadgeServiceStub:
        return badge_pb2_grpc.BadgeServiceStub(self.channel("badge"))

    @property
    def drone(self) -> drone_pb2_grpc.DroneServiceStub:
        return drone_pb2_grpc.DroneServiceStub(self.channel("drone"))

    def audit(self, service: str) -> Any:
        return audit_pb2_grpc.AuditServiceStub(self.channel(service))

    async def close(self) -> None:
        for ch in self._channels.values():
            await ch.close()
        self._channels.clear()

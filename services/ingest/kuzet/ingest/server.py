"""The ingest process: database, object store, the camera pipelines and their shard ownership,
the channels to inference and identity, the event sink to alerting, retention, and the gRPC
server (`kuzet serve ingest`)."""

from __future__ import annotations

import asyncio
from typing import Any

from kuzet.common.audit import open_audit_log
from kuzet.common.auditservice import SERVICE_NAME as AUDIT_SERVICE_NAME
from kuzet.common.auditservice import add_audit_service
from kuzet.common.caller import service_caller
from kuzet.common.config import Endpoints
from kuzet.common.db import Database, migrate
from kuzet.common.dblease import open_membership
from kuzet.common.eventsink import EventSink
from kuzet.common.grpcclient import open_channel
from kuzet.common.grpcserver import GrpcServer, ServiceSpec
from kuzet.common.holds import Holds
from kuzet.common.holdservice import SERVICE_NAME as HOLD_SERVICE_NAME
from kuzet.common.holdservice import add_hold_service
from kuzet.common.k8s import LeaseMembership
from kuzet.common.objectstore import ObjectStore, open_object_store
from kuzet.common.runner import run_service
from kuzet.ingest import metrics
from kuzet.ingest.config import IngestSettings
from kuzet.ingest.detect import ObjectDetector
from kuzet.ingest.dronefeed import DroneFeed
from kuzet.ingest.faces import IdentityHandoff
from kuzet.ingest.manager import PipelineManager
from kuzet.ingest.observations import ObservationSender
from kuzet.ingest.ownership import LeaseShardOwner, lease_timing
from kuzet.ingest.pipeline import CameraPipeline, PipelineOptions, Sink
from kuzet.ingest.platereader import InferencePlateReader
from kuzet.ingest.poses import PoseEstimator
from kuzet.ingest.profiles import TrafficProfiles
from kuzet.ingest.retention import HOLD_KINDS, build_retention
from kuzet.ingest.service import IngestServicer
from kuzet.ingest.shard import ReplicaSource, ShardOwner
from kuzet.ingest.store import CameraStore
from kuzet.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from kuzet.ingest.vehicles import TrafficLinks, VehicleOptions


async def build(
    settings: IngestSettings,
    *,
    port: int | None = None,
    replica_source: ReplicaSource | None = None,
    membership: LeaseMembership | None = None,
    sink: Sink | None = None,
    store: ObjectStore | None = None,
    endpoints: Endpoints | None = None,
) -> GrpcServer:
    """The server, its pipelines and clients; usable in-process by tests (``port=0``: any free
    port; ``sink`` replaces the alerting outbox; ``replica_source`` a fixed replica set and
    ``membership`` the lease membership chosen from the environment, see ownership.py)."""
    endpoints = endpoints or Endpoints()
    db = Database(settings.effective_database_url)
    await asyncio.to_thread(migrate, db, "kuzet.ingest.migrations")
    objects = store or open_object_store(settings.effective_object_store_url)
    # The trail of legal holds and of what retention deleted (counts per agency).
    audit = await asyncio.to_thread(open_audit_log, settings, db)
    holds = Holds(db, audit, HOLD_KINDS, release_ttl_s=settings.hold_release_ttl_s)
    retention = build_retention(settings, db, audit, objects, holds)
    retention.register_metrics()
    me = service_caller("ingest", roles=("service",))
    inference = open_channel(endpoints.inference, audience="inference", caller=me)
    identity = open_channel(endpoints.identity, audience="identity", caller=me)
    traffic = open_channel(endpoints.traffic, audience="traffic", caller=me)
    detector = ObjectDetector(
        inference,
        concurrency=settings.inference_concurrency,
        max_side=settings.inference_max_side,
        min_score=min(settings.min_person_score, settings.min_vehicle_score),
    )
    observations = ObservationSender(traffic, batch_size=settings.observation_batch_size)
    observations.start()
    drones = DroneFeed(endpoints.drone, me)
    drones.start()
    links = TrafficLinks(
        TrafficProfiles(traffic, refresh_s=settings.traffic_profile_refresh_s),
        observations,
        InferencePlateReader(inference),
        VehicleOptions(min_score=settings.min_vehicle_score, max_plate_reads=settings.max_plate_reads),
    )
    own_sink: EventSink | None = None
    if sink is None:
        own_sink = EventSink(endpoints.alerting, caller=me, capacity=settings.outbox_capacity)
        await own_sink.start()
        sink = own_sink
    faces = IdentityHandoff(inference, identity)
    options = PipelineOptions(
        decode_threads=settings.decode_threads,
        connect_timeout_s=settings.connect_timeout_s,
        backoff_max_s=settings.reconnect_max_s,
        motion_gate=settings.motion_gate,
        loop_files=settings.loop_files,
        fault_hold_s=settings.fault_hold_s,
        frozen_after_s=settings.frozen_after_s,
        min_analysed_interval_s=settings.min_analysed_interval_s,
    )
    out_sink: Sink = sink

    poser = PoseEstimator(inference, max_side=settings.inference_max_side)

    def make(cfg: Any) -> CameraPipeline:
        return CameraPipeline(
            cfg,
            detector=detector,
            sink=out_sink,
            store=objects,
            options=options,
            faces=faces,
            traffic=links,
            poser=poser,
            drones=drones,
        )

    shard: ShardOwner
    if replica_source is not None or settings.replicas:
        source = replica_source if replica_source is not None else settings.replicas
        shard = ShardOwner(settings.replica_id, source, poll_s=settings.shard_poll_s)
    else:
        lease_s, renew_s = lease_timing(settings.lease_duration_s)
        membership = membership or open_membership(
            "ingest",
            database=db,
            identity=settings.replica_id,
            lease_duration_s=lease_s,
            renew_interval_s=renew_s,
            backend=settings.membership,
        )
        shard = LeaseShardOwner(membership, poll_s=settings.membership_poll_s)
    cams = CameraStore(db)
    manager = PipelineManager(
        cams, shard, make, reconcile_s=settings.reconcile_s, allow_file=settings.allow_file_urls
    )
    servicer = IngestServicer(settings, cams, manager, drones)
    metrics.register(lambda: list(manager.pipelines.values()))
    metrics.register_shard(settings.replica_id, lambda: shard.lease_held)

    async def on_stop() -> None:
        retention_task.cancel()
        await asyncio.gather(retention_task, return_exceptions=True)
        await manager.stop()
        await observations.close()
        await traffic.close()
        await drones.close()
        if own_sink is not None:
            await own_sink.close()
        await inference.close()
        await identity.close()
        await audit.stop()
        db.dispose()

    server = GrpcServer(
        settings,
        [
            (ingest_pb2_grpc.add_IngestServiceServicer_to_server, servicer),
            add_audit_service(audit),
            add_hold_service(holds, retention),
        ],
        [
            ingest_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name,
            AUDIT_SERVICE_NAME,
            HOLD_SERVICE_NAME,
        ],
        on_stop=[on_stop],
        port=port,
    )
    await retention.report_to(server.health)
    server.manager = manager  # type: ignore[attr-defined,unused-ignore]  # tests look at the pipelines
    server.faces = faces  # type: ignore[attr-defined,unused-ignore]
    server.observations = observations  # type: ignore[attr-defined,unused-ignore]
    server.drones = drones  # type: ignore[attr-defined,unused-ignore]
    await audit.start()
    retention_task = asyncio.create_task(retention.run(), name="ingest-retention")
    await manager.start()
    return server


async def _run() -> None:
    await run_service(IngestSettings, build)


SPEC = ServiceSpec(name="ingest", default_port=IngestSettings.default_port, run=_run, order=40)

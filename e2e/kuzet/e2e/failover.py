"""The whole platform losing one replica of each stateful service at once (bench/failover.py and
e2e/tests/test_failover.py).

The platform runs as `kuzet up --replicas` runs it: separate processes on loopback, ``replicas``
of identity, ingest, badge, alerting and drone, one inference and one gateway. During a camera
burst (cameras replaying a walk into a restricted zone), a badge stream (simulated badges on the
badge service's multi-address target), a stream of published events and of commands to the badges
and to a simulated drone, one replica of each of those services is killed with SIGKILL and stays
down (a lost node, not a restart: the supervisor's backoff is set beyond the run). Counted:
  - alerts acknowledged by alerting (Publish returned) that are not stored or never reached the
    console, and alerts created twice for one event or one intrusion;
  - per camera, the longest time it went unanalysed (frames_inferred polled on every ingest
    replica), how long after the kill the dead replica's cameras were analysed again, and any
    camera analysed by two replicas in one polling interval;
  - badge commands acknowledged by SendCommand that never reached the badge, drone commands
    never carried out (a HOLD that the leader confirmed, retried at the replica a follower names);
  - before the kills: enrol on one identity replica, found on the other (ms); erase on one, a
    search on the other the moment the erasure returned (stale matches).
With one replica per service (the baseline) the same kills leave nothing to fail over to.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc

from kuzet.common.caller import Caller, caller_metadata, service_caller
from kuzet.common.events import new_event
from kuzet.common.grpcclient import leader_address, open_channel
from kuzet.common.launcher import Backoff
from kuzet.common.testing import free_port_number
from kuzet.common.timeutil import to_timestamp
from kuzet.common.tls import secure_channel
from kuzet.common.v1 import common_pb2
from kuzet.e2e.console import ConsoleFeed
from kuzet.e2e.platform import Platform
from kuzet.e2e.site import CameraPlan, add_camera, admin

KILLED = ("identity", "ingest", "badge", "alerting", "drone")
AGENCY_PRISON, AGENCY_POLICE = "prison", "police"
HOME = (43.2400, 76.9430)
DRONE_ID = "failover-eagle"
PILOT = Caller("police-pilot", AGENCY_POLICE, frozenset({"pilot"}))
BADGE_CALLER = Caller("service:badge-sim", AGENCY_POLICE, frozenset({"admin", "service"}))
PUBLISHER = service_caller("failover-bench", AGENCY_PRISON)
# What kuzet.common.grpcclient gives its channels: calls spread over the replicas, a dead one left out.
ROUND_ROBIN = [("grpc.service_config", json.dumps({"loadBalancingConfig": [{"round_robin": {}}]}))]
# Ingest's takeover goal (KUZET_INGEST_LEASE_DURATION_S default) and the drone controllers' lease
# (KUZET_DRONE_LEASE_S default).
INGEST_LEASE_S = 15.0
DRONE_LEASE_S = 10.0
# Longest wait for what is still on its way when the load stops (alerts to the console, commands
# to a badge that has just reconnected); the wait ends as soon as everything arrived.
TAIL_S = 3.0


@dataclass(frozen=True)
class Plan:
    replicas: int
    cameras: int = 4
    badges: int = 6
    warmup_s: float = 20.0
    after_kill_s: float = 30.0
    identity_rounds: int = 10
    ingest_lease_s: float = INGEST_LEASE_S
    drone_lease_s: float = DRONE_LEASE_S

    @property
    def command_deadline_s(self) -> float:
        """A drone command not carried out this long after it was first sent counts as lost: three
        drone leases, time for the controller's lease to run out and another to take over."""
        return 3 * self.drone_lease_s

    def env(self) -> dict[str, str]:
        return {
            "KUZET_INGEST_LEASE_DURATION_S": str(self.ingest_lease_s),
            "KUZET_DRONE_LEASE_S": str(self.drone_lease_s),
        }


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))], 1)


def intrusion_duplicates(messages: list[dict[str, Any]]) -> int:
    """Alerts beyond one per intrusion: the clip's person walks in once per loop, so two alerts of
    one camera whose first frames are less than half a loop apart are about one intrusion."""
    from kuzet.ingest.testing.videotest import walking_scenario

    half_loop = walking_scenario(640, 360).duration / 2
    first_seen: dict[str, dict[str, float]] = {}
    for m in messages:
        alert = m["alert"]
        seen = datetime.fromisoformat(alert["first_seen_at"].replace("Z", "+00:00")).timestamp()
        first_seen.setdefault(alert["source"]["id"], {}).setdefault(alert["alert_id"], seen)
    extra = 0
    for alerts in first_seen.values():
        times = sorted(alerts.values())
        extra += sum(1 for a, b in itertools.pairwise(times) if b - a < half_loop)
    return extra


@dataclass
class Coverage:
    """frames_inferred per camera on every ingest replica, polled: who analyses what, and when."""

    last: dict[tuple[str, str], int] = field(default_factory=dict)
    analysed_at: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    double_analysed: set[str] = field(default_factory=set)

    def observe(self, now: float, replica: str, counts: dict[str, int]) -> set[str]:
        advanced = set()
        for camera, n in counts.items():
            before = self.last.get((replica, camera))
            self.last[(replica, camera)] = n
            if before is not None and n > before:
                advanced.add(camera)
                self.analysed_at.setdefault(camera, []).append((now, replica))
        return advanced

    def longest_gap_s(self, until: float) -> float | None:
        gaps = []
        for times in self.analysed_at.values():
            stamps = [t for t, _ in times] + [until]
            gaps += [b - a for a, b in itertools.pairwise(stamps)]
        return round(max(gaps), 1) if gaps else None

    def owners_before(self, t: float, window: float = 3.0) -> dict[str, str]:
        return {c: r for c, times in self.analysed_at.items() for ts, r in times if t - window <= ts <= t}

    def first_after(self, camera: str, t: float) -> float | None:
        return next((ts for ts, _ in self.analysed_at.get(camera, []) if ts > t), None)


class Run:
    def __init__(self, platform: Platform, plan: Plan, clip: Path) -> None:
        self.platform = platform
        self.plan = plan
        self.clip = clip
        self.stop = asyncio.Event()
        self.coverage = Coverage()
        self.published: dict[str, str] = {}  # source id -> alert id acknowledged
        self.publish_failed = 0
        self.badge_commands: list[str] = []
        self.badge_command_errors = 0
        self.drone_delays: list[float | None] = []
        self.drone_unjudged = 0
        self.kill_at: float | None = None
        self.killed: dict[str, str] = {}
        self.console_reconnects = 0

    # -------------------------------------------------------------------- addresses ---

    def replica_addresses(self, service: str) -> dict[str, str]:
        launcher = self.platform.launcher
        return {u.key: launcher.url(u.key) for u in launcher.units(service)}

    # -------------------------------------------------------------------- load ---

    async def publish_events(self) -> None:
        from kuzet.alerting.v1 import alerting_pb2, alerting_pb2_grpc

        async with open_channel(
            self.platform.address("alerting"), audience="alerting", caller=PUBLISHER
        ) as channel:
            stub = alerting_pb2_grpc.AlertingServiceStub(channel)
            i = 0
            while not self.stop.is_set():
                source = f"failover-probe-{i}"
                event = new_event(
                    AGENCY_PRISON,
                    "zone_intrusion",
                    common_pb2.Source(kind=common_pb2.SOURCE_KIND_CAMERA, id=source, site_id="failover"),
                )
                try:
                    reply = await stub.Publish(alerting_pb2.PublishRequest(event=event), timeout=5)
                    self.published[source] = reply.alert_id
                except grpc.aio.AioRpcError:
                    self.publish_failed += 1  # not acknowledged: the producer's outbox keeps it
                i += 1
                await asyncio.sleep(0.2)

    async def poll_coverage(self) -> None:
        from kuzet.ingest.v1 import ingest_pb2, ingest_pb2_grpc

        addresses = self.replica_addresses("ingest")
        channels = {k: open_channel(a, audience="ingest", caller=PUBLISHER) for k, a in addresses.items()}
        try:
            while not self.stop.is_set():
                now = time.monotonic()
                advanced: dict[str, int] = {}
                for key, channel in channels.items():
                    try:
                        reply = await ingest_pb2_grpc.IngestServiceStub(channel).ListCameraHealth(
                            ingest_pb2.ListCameraHealthRequest(), timeout=2, wait_for_ready=False
                        )
                    except grpc.aio.AioRpcError:
                        continue
                    # Analysed: by the detector, or by the motion gate (nothing moved).
                    counts = {h.camera_id: h.frames_inferred + h.frames_motion_skipped for h in reply.health}
                    for camera in self.coverage.observe(now, key, counts):
                        advanced[camera] = advanced.get(camera, 0) + 1
                self.coverage.double_analysed |= {c for c, n in advanced.items() if n > 1}
                await asyncio.sleep(0.5)
        finally:
            for channel in channels.values():
                await channel.close()

    async def badge_stream(self) -> list[Any]:
        from kuzet.badge.sim import SimBadge, register_badges
        from kuzet.badge.v1 import badge_pb2, badge_pb2_grpc

        ids = [f"FO-{i:03d}" for i in range(self.plan.badges)]
        badges = [
            SimBadge(
                b,
                HOME[0],
                HOME[1],
                radius_m=50,
                metadata=lambda: caller_metadata(BADGE_CALLER, audience="badge"),
            )
            for b in ids
        ]
        self._badges = badges
        async with open_channel(
            self.platform.address("badge"), audience="badge", caller=BADGE_CALLER
        ) as channel:
            await register_badges(badge_pb2_grpc.BadgeServiceStub(channel), AGENCY_POLICE, ids, "unit-1")
        # The other badge replicas see the registrations at their next registry poll
        # (KUZET_BADGE_REPLICA_POLL_S, 1 s); until then a badge reaching one is told NOT_FOUND
        # and asks again (SimBadge.run).
        # Devices have no RPC to forward a caller from: a plain channel, caller metadata per call
        # (grpc.aio cannot close an intercepted channel while an intercepted stream is open).
        async with secure_channel(self.platform.address("badge"), options=ROUND_ROBIN) as channel:
            stub = badge_pb2_grpc.BadgeServiceStub(channel)
            tasks = [asyncio.create_task(b.run(stub, self.stop)) for b in badges]
            i = 0
            while not self.stop.is_set():
                command = badge_pb2.BadgeCommand(settings=badge_pb2.BadgeSettings(report_interval_s=1))
                try:
                    reply = await stub.SendCommand(
                        badge_pb2.SendCommandRequest(badge_id=ids[i % len(ids)], command=command),
                        metadata=caller_metadata(BADGE_CALLER, audience="badge"),
                        timeout=5,
                    )
                    self.badge_commands.append(reply.command_id)
                except grpc.aio.AioRpcError:
                    self.badge_command_errors += 1
                i += 1
                await asyncio.sleep(0.5)
            # Commands still in flight to a badge that has just reconnected.
            await until(lambda: self.badge_commands_missing(badges) == set(), TAIL_S)
            await asyncio.gather(*tasks, return_exceptions=True)
        return badges

    def past_deadline(self, sent: float) -> bool:
        return time.monotonic() - sent >= self.plan.command_deadline_s

    async def drone_commands(self) -> None:
        from kuzet.drone.v1 import drone_pb2 as pb
        from kuzet.drone.v1 import drone_pb2_grpc

        channels: dict[str, grpc.aio.Channel] = {}

        def stub(address: str) -> Any:
            if address not in channels:
                channels[address] = open_channel(address, audience="drone", caller=PILOT)
            return drone_pb2_grpc.DroneServiceStub(channels[address])

        request = pb.ControlRequest(drone_id=DRONE_ID, action=pb.CONTROL_ACTION_HOLD, reason="failover")
        endpoint = self.platform.address("drone")
        try:
            while not self.stop.is_set():
                sent = time.monotonic()
                done: float | None = None
                target = endpoint
                # Retried until carried out, until its deadline, or until the run ends.
                while done is None and not self.stop.is_set() and not self.past_deadline(sent):
                    try:
                        await stub(target).Control(request, timeout=5)
                        done = time.monotonic() - sent
                    except grpc.aio.AioRpcError as exc:
                        # A follower names the leader: the gateway retries there once; so do we.
                        target = leader_address(exc) or endpoint
                        if not leader_address(exc):
                            await asyncio.sleep(0.5)
                if done is None and not self.past_deadline(sent):
                    self.drone_unjudged += 1  # the run ended before its deadline: neither
                else:
                    self.drone_delays.append(done)
                await asyncio.sleep(1.0)
        finally:
            for channel in channels.values():
                await channel.close()

    # -------------------------------------------------------------------- set-up ---

    async def register_drone(self, link_port: int) -> None:
        from kuzet.drone.v1 import drone_pb2 as pb
        from kuzet.drone.v1 import drone_pb2_grpc

        drone = pb.Drone(
            drone_id=DRONE_ID,
            agency_id=AGENCY_POLICE,
            name="Failover Eagle",
            home=common_pb2.GeoPoint(latitude=HOME[0], longitude=HOME[1]),
            system_id=9,
            link_url=f"udpin:127.0.0.1:{link_port}",
        )
        async with open_channel(
            self.platform.address("drone"), audience="drone", caller=admin(AGENCY_POLICE)
        ) as channel:
            await drone_pb2_grpc.DroneServiceStub(channel).RegisterDrone(pb.RegisterDroneRequest(drone=drone))

    async def add_cameras(self) -> None:
        from kuzet.ingest.testing.videotest import walking_scenario

        zone = list(walking_scenario(640, 360).geometry["restricted_zone"])
        for i in range(self.plan.cameras):
            plan = CameraPlan(
                f"failover-{i}",
                f"failover {i}",
                self.clip.as_uri(),
                640,
                360,
                zone=zone,
                faces=False,
                clip_recording=False,  # the measure is failover, not the clips' encoding on 2 cores
            )
            await add_camera(self.platform.address("ingest"), AGENCY_PRISON, "failover", plan)

    # -------------------------------------------------------------------- identity ---

    async def identity_rounds(self) -> dict[str, Any]:
        """Enrol on replica A, search B until found; erase on A, search B at once."""
        addresses = list(self.replica_addresses("identity").values())
        if len(addresses) < 2:
            reason = "one identity replica: nothing to be visible on"
            return {"identity_visible_ms": None, "stale_matches_after_erasure": None, "identity_note": reason}
        from kuzet.common.inference.client import InferenceClient
        from kuzet.common.testdata import face_photos
        from kuzet.identity.faces import Face, InferenceFaces, QualityBar
        from kuzet.identity.v1 import identity_pb2 as pb
        from kuzet.identity.v1 import identity_pb2_grpc

        photo = face_photos()["obama"][0].read_bytes()
        investigator = Caller("failover-investigator", AGENCY_PRISON, frozenset({"investigator"}))
        async with (
            open_channel(
                self.platform.address("inference"), audience="inference", caller=PUBLISHER
            ) as inference,
            open_channel(addresses[0], audience="identity", caller=admin(AGENCY_PRISON)) as ca,
            open_channel(addresses[1], audience="identity", caller=investigator) as cb,
        ):
            face = await InferenceFaces(InferenceClient(inference), QualityBar()).face(
                photo, crop=False, strict=False
            )
            assert isinstance(face, Face), face
            probe = pb.Probe(embedding=pb.Embedding(values=face.vector.tolist(), model=face.model))
            a, b = identity_pb2_grpc.IdentityServiceStub(ca), identity_pb2_grpc.IdentityServiceStub(cb)
            gallery = (
                await a.CreateGallery(
                    pb.CreateGalleryRequest(
                        name=f"failover-{uuid.uuid4().hex[:6]}",
                        kind=pb.GALLERY_KIND_WATCHLIST,
                        purpose="failover benchmark",
                        legal_basis="none (synthetic)",
                        owner="failover",
                        # A watchlist must say when it lapses.
                        expires_at=to_timestamp(datetime.now(UTC) + timedelta(days=30)),
                    )
                )
            ).gallery

            async def found(person_id: str) -> bool:
                reply = await b.Identify(
                    pb.IdentifyRequest(
                        probe=probe,
                        gallery_ids=[gallery.gallery_id],
                        mode=pb.MATCH_MODE_INVESTIGATION,
                        top_k=100,
                        purpose="failover benchmark",
                    )
                )
                return any(c.person_id == person_id for c in reply.candidates)

            visible, missed, stale = [], 0, 0
            for i in range(self.plan.identity_rounds):
                enrolled = await a.EnrolPerson(
                    pb.EnrolPersonRequest(
                        gallery_id=gallery.gallery_id,
                        external_id=f"fo-{i}",
                        display_name=f"FO {i}",
                        images=[pb.FaceImage(image=photo)],
                    )
                )
                pid = enrolled.person.person_id
                t0 = time.perf_counter()
                while not await found(pid):
                    if time.perf_counter() - t0 > 5:
                        missed += 1
                        break
                    await asyncio.sleep(0.005)
                else:
                    visible.append((time.perf_counter() - t0) * 1000)
                await a.RemovePerson(pb.RemovePersonRequest(person_id=pid, reason="failover erasure"))
                stale += int(await found(pid))
        return {
            "identity_visible_ms": percentile(visible, 99),
            "identity_visible_ms_p50": percentile(visible, 50),
            "identity_not_visible_within_5s": missed,
            "stale_matches_after_erasure": stale,
            "identity_rounds": self.plan.identity_rounds,
        }

    # -------------------------------------------------------------------- kills ---

    async def victims(self) -> dict[str, str]:
        """One replica per service: ingest's busiest, drone's leader, else the first."""
        launcher = self.platform.launcher
        chosen = {service: launcher.units(service)[0].key for service in KILLED}
        owners = list(self.coverage.owners_before(time.monotonic()).values())
        if owners:
            chosen["ingest"] = max(set(owners), key=owners.count)
        if leader := await self._drone_leader():
            chosen["drone"] = leader
        return chosen

    async def _drone_leader(self) -> str | None:
        """The drone replica that carries out commands: the first replica, or the one it names."""
        from kuzet.drone.v1 import drone_pb2 as pb
        from kuzet.drone.v1 import drone_pb2_grpc

        first = self.platform.launcher.units("drone")[0].key
        request = pb.ControlRequest(drone_id=DRONE_ID, action=pb.CONTROL_ACTION_HOLD, reason="who leads")
        async with open_channel(self.platform.launcher.url(first), audience="drone", caller=PILOT) as channel:
            try:
                await drone_pb2_grpc.DroneServiceStub(channel).Control(request, timeout=5)
                return first
            except grpc.aio.AioRpcError as exc:
                named = leader_address(exc)
        for unit in self.platform.launcher.units("drone"):
            if named and self.platform.launcher.url(unit.key) == named:
                return unit.key
        return None

    async def kill(self) -> None:
        self.killed = await self.victims()
        procs = self.platform.launcher.procs
        self.kill_at = time.monotonic()
        for key in self.killed.values():
            os.kill(procs[key].pid, signal.SIGKILL)

    # -------------------------------------------------------------------- the run ---

    async def run(self) -> dict[str, Any]:
        from kuzet.drone.sim.host import SimHost
        from kuzet.drone.sim.vehicle import VehicleConfig

        link_port = free_port_number()
        vehicles = SimHost()
        vehicles.add(VehicleConfig(9, HOME[0], HOME[1], 700.0, speedup=4.0), f"udpout:127.0.0.1:{link_port}")
        vehicles.start()
        try:
            token = self.platform.token("prison-operator")
            async with ConsoleFeed(self.platform.address("gateway"), token) as feed:
                await self.register_drone(link_port)
                await self.add_cameras()
                started = time.monotonic()
                tasks = [
                    asyncio.create_task(self.publish_events()),
                    asyncio.create_task(self.poll_coverage()),
                    asyncio.create_task(self.drone_commands()),
                ]
                badges_task = asyncio.create_task(self.badge_stream())
                identity = await self.identity_rounds()
                await asyncio.sleep(max(0.0, self.plan.warmup_s - (time.monotonic() - started)))
                await self.kill()
                await asyncio.sleep(self.plan.after_kill_s)
                self.stop.set()
                ended = time.monotonic()
                await asyncio.gather(*tasks)
                badges = await badges_task
                # The last acknowledged alerts on their way to the console.
                await until(lambda: self.missing_at_console(feed.alerts()) == set(), TAIL_S)
                console = list(feed.alerts())
                self.console_reconnects = feed.reconnects
            stored = await self._stored_alerts()
        finally:
            vehicles.stop()
        return {**self._results(console, stored, badges, ended), **identity}

    async def _stored_alerts(self) -> set[str]:
        from kuzet.alerting.v1 import alerting_pb2, alerting_pb2_grpc

        found = set()
        async with open_channel(
            self.platform.address("alerting"), audience="alerting", caller=admin(AGENCY_PRISON)
        ) as channel:
            stub = alerting_pb2_grpc.AlertingServiceStub(channel)

            async def get(alert_id: str) -> None:
                with contextlib.suppress(grpc.aio.AioRpcError):
                    await stub.GetAlert(alerting_pb2.GetAlertRequest(alert_id=alert_id), timeout=5)
                    found.add(alert_id)

            # All at once: with no alerting replica left every call waits out its timeout.
            await asyncio.gather(*(get(a) for a in set(self.published.values())))
        return found

    def missing_at_console(self, console: list[dict[str, Any]]) -> set[str]:
        """Sources of acknowledged alerts that the console has not shown."""
        return set(self.published) - {m["alert"]["source"]["id"] for m in console}

    def badge_commands_missing(self, badges: list[Any]) -> set[str]:
        """Acknowledged badge commands that no badge received."""
        return set(self.badge_commands) - {c.command_id for b in badges for c in b.commands}

    def _results(
        self, console: list[dict[str, Any]], stored: set[str], badges: list[Any], ended: float
    ) -> dict[str, Any]:
        assert self.kill_at is not None
        by_source: dict[str, set[str]] = {}
        for m in console:
            by_source.setdefault(m["alert"]["source"]["id"], set()).add(m["alert"]["alert_id"])
        missing_in_store = {s for s, a in self.published.items() if a not in stored}
        missing_at_console = self.missing_at_console(console)
        camera_alerts = {s: a for s, a in by_source.items() if s.startswith("failover-") and "probe" not in s}
        # A probe source publishes once: a second alert for it is a duplicate.
        duplicates = sum(len(a) - 1 for s, a in by_source.items() if "probe" in s)
        duplicates += intrusion_duplicates(
            [m for m in console if m["alert"]["source"]["id"] in camera_alerts]
        )
        dead_ingest = self.killed["ingest"]
        owned = [c for c, r in self.coverage.owners_before(self.kill_at).items() if r == dead_ingest]
        firsts = [self.coverage.first_after(c, self.kill_at) for c in owned]
        takeovers = [t - self.kill_at for t in firsts if t is not None]
        delays = [d for d in self.drone_delays if d is not None]
        return {
            "replicas": self.plan.replicas,
            "killed": self.killed,
            "lost_alerts": len(missing_in_store | missing_at_console),
            "alerts_acknowledged": len(self.published),
            "alerts_missing_in_store": len(missing_in_store),
            "alerts_missing_at_console": len(missing_at_console),
            # The feed resumed from its last cursor after the gateway lost its alerting replica.
            "console_reconnects": self.console_reconnects,
            "publish_refused": self.publish_failed,
            "duplicated_alerts": duplicates,
            "camera_alerts": sum(len(a) for a in camera_alerts.values()),
            "ingest_takeover_s": (
                round(max(takeovers), 1) if owned and len(takeovers) == len(owned) else None
            ),
            "ingest_cameras_of_killed_replica": len(owned),
            "ingest_cameras_never_taken_over": len(owned) - len(takeovers),
            "longest_unanalysed_s": self.coverage.longest_gap_s(ended),
            "cameras_analysed_by_two_replicas": sorted(self.coverage.double_analysed),
            "badge_commands_acknowledged": len(self.badge_commands),
            "badge_commands_lost": len(self.badge_commands_missing(badges)),
            "badge_command_errors": self.badge_command_errors,
            "drone_commands": len(self.drone_delays),
            "drone_commands_lost": sum(1 for d in self.drone_delays if d is None),
            "drone_command_deadline_s": self.plan.command_deadline_s,
            # Still retried when the run ended, short of their deadline: not counted either way.
            "drone_commands_unjudged": self.drone_unjudged,
            "ingest_lease_duration_s": self.plan.ingest_lease_s,
            "drone_command_longest_s": round(max(delays), 1) if delays else None,
            "drone_command_median_s": round(statistics.median(delays), 2) if delays else None,
        }


async def until(check: Callable[[], bool], within_s: float) -> None:
    """Wait until ``check()`` holds, at most ``within_s``."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.1)


def start_platform(data_dir: Path, plan: Plan) -> Platform:
    """The platform with ``plan.replicas`` of each killed service; a killed process stays down."""
    platform = Platform(
        data_dir,
        env={"KUZET_INGEST_LOOP_FILES": "true", "KUZET_LOG_LEVEL": "INFO", **plan.env()},
        replicas={s: plan.replicas for s in KILLED},
        backoff=Backoff(initial_s=3600.0, cap_s=3600.0),
    )
    platform.start()
    return platform


def run_failover(data_dir: Path, plan: Plan, clip: Path) -> dict[str, Any]:
    platform = start_platform(data_dir, plan)
    try:
        return asyncio.run(Run(platform, plan, clip).run())
    finally:
        platform.stop()

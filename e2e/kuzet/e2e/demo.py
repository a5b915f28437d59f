"""`kuzet demo`: the whole platform with a demo prison site, simulated badges, a drone and a
police traffic camera.

A newcomer opens the console and, within a minute, sees a zone intrusion with its snapshot and a
face-match candidate waiting for two reviewers, a badge panic on the map, a drone to dispatch, and
lane counts and a hotlist hit on a road.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from kuzet.common.caller import Caller
from kuzet.common.grpcclient import open_channel
from kuzet.common.launcher import Launcher
from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.common.v1 import common_pb2
from kuzet.common.waiting import wait_set
from kuzet.e2e.platform import DEMO_OVERSIGHT, DEMO_PASSWORD
from kuzet.e2e.site import (
    WATCHLIST_DAYS,
    CameraPlan,
    add_camera,
    admin,
    configure_traffic,
    create_watchlist,
    traffic_profile,
)

if TYPE_CHECKING:
    from kuzet.common.roads.scene import RoadScene

AGENCY_PRISON, AGENCY_POLICE = "prison", "police"
SITE = (43.2380, 76.9450)  # the demo facility, WGS84
DRONE_PORT = 14650
ROAD = (43.2551, 76.9126)  # the traffic camera over the M4, WGS84
ROAD_CAMERA = "m4-km12"
# Analysed 2 frames a second: what the rendered road is made for, and light on one machine.
ROAD_FPS = 2.0

INSTRUCTIONS = """
Kuzet demo is running. Console: {gateway}/   (password for every demo user: {password})

  prison-operator   live alerts: a person walks into the staff-only corridor every ~16 s
                    -> open an alert to see the snapshot, acknowledge it, resolve it
  prison-reviewer   Reviews: the watchlist candidate (probe next to enrolled photo) -> Confirm
  prison-reviewer2  Reviews: sees the first confirmation -> Confirm (two reviewers confirm a watchlist match)
  prison-auditor    Audit: every search, view and review on record -> Verify chain
  police-operator   badges on the map; a panic button is pressed ~30 s after start
  police-pilot      Drones: plan a patrol or dispatch the drone to the panic alert (needs your confirmation)
  police-operator   Traffic: vehicles per lane and speeds on camera "M4 km 12"; hotlist hits of {plate}
  police-admin      Traffic: the hotlist ({plate}: stolen vehicle) -> add or remove an entry

Logs: {logs}    Ctrl-C stops everything.
"""


def road() -> RoadScene:
    """The traffic camera's road (the same every run: its clip is rendered once)."""
    from kuzet.common.roads.scene import road_scenario

    return road_scenario(seed=18)


def _road_clip(data_dir: Path) -> Path:
    from kuzet.ingest.testing.videotest import encode_frames

    clip = data_dir / "road.mp4"
    if not clip.exists():
        clip.parent.mkdir(parents=True, exist_ok=True)
        print("rendering the demo road clip (once)...", flush=True)
        scene = road()
        encode_frames(scene.frames(), clip, width=scene.width, height=scene.height, fps=scene.fps)
    return clip


def hotlisted(scene: RoadScene) -> str:
    """The plate on the demo's hotlist: the first car's (a car's plate reads best)."""
    return next(t.plate for t in scene.truth if t.vehicle_class == "car" and t.direction == "forward")


async def seed_traffic(traffic: str, ingest: str, clip_uri: str) -> str:
    """The police's traffic camera: its profile (lines, calibration, limit), a hotlist entry for
    one of its plates, then the camera in ingest. Returns the hotlisted plate."""
    from kuzet.traffic.v1 import traffic_pb2

    scene = road()
    plate = hotlisted(scene)
    await configure_traffic(
        traffic,
        AGENCY_POLICE,
        traffic_profile(scene, ROAD_CAMERA, site="m4", name="M4 km 12", speed_limit_kmh=15, location=ROAD),
        [
            traffic_pb2.HotlistEntry(
                plate=plate,
                reason="stolen vehicle",
                source="demo: case 2026-118 (fictitious)",
                legal_basis="demo: court order 7/2026 (fictitious)",
                expires_at=to_timestamp(utcnow() + timedelta(days=WATCHLIST_DAYS)),
            )
        ],
    )
    await add_camera(
        ingest,
        AGENCY_POLICE,
        "m4",
        CameraPlan(
            ROAD_CAMERA, "M4 km 12", clip_uri, scene.width, scene.height,
            intrusion=False, faces=False, analytic_fps=ROAD_FPS, location=ROAD, models=("vehicle", "plate"),
            clip_recording=False,  # its alerts come from the traffic service, with the plate crop
        ),
    )  # fmt: skip
    return plate


def _assets(data_dir: Path) -> tuple[Path, list[Path]]:
    """The looping corridor clip (a real face on the walking person) and the watchlist photos."""
    from kuzet.common.testdata import face_photos
    from kuzet.ingest.testing.videotest import walking_scenario, write_h264

    photos = [p for p in face_photos()["obama"] if "obama" in p.name]
    clip = data_dir / "corridor.mp4"
    if not clip.exists():
        clip.parent.mkdir(parents=True, exist_ok=True)
        print("rendering the demo camera clip (once)...", flush=True)
        write_h264(walking_scenario(1280, 720, face=photos[0]), clip)
    return clip, photos[1:3]


async def _seed(launcher: Launcher, clip_uri: str, photos: list[Path]) -> None:
    from kuzet.ingest.testing.videotest import walking_scenario

    geometry = walking_scenario(1280, 720).geometry
    await create_watchlist(launcher.url("identity"), AGENCY_PRISON, "Escape risk", {"Demo Person": photos})
    await add_camera(
        launcher.url("ingest"),
        AGENCY_PRISON,
        "block-a",
        CameraPlan(
            "corridor-1",
            "Staff corridor, block A",
            clip_uri,
            1280,
            720,
            zone=list(geometry["restricted_zone"]),  # type: ignore[call-overload]
            person_down=True,
            location=SITE,
        ),
    )


async def _drone(launcher: Launcher) -> None:
    from kuzet.drone.v1 import drone_pb2 as pb
    from kuzet.drone.v1 import drone_pb2_grpc

    drone = pb.Drone(
        drone_id="eagle-1",
        agency_id=AGENCY_POLICE,
        name="Eagle 1",
        home=common_pb2.GeoPoint(latitude=SITE[0] + 0.002, longitude=SITE[1] - 0.002),
        system_id=1,
        link_url=f"udpin:127.0.0.1:{DRONE_PORT}",
    )
    async with open_channel(launcher.url("drone"), audience="drone", caller=admin(AGENCY_POLICE)) as channel:
        await drone_pb2_grpc.DroneServiceStub(channel).RegisterDrone(
            pb.RegisterDroneRequest(drone=drone, update=True)
        )


async def _badges(launcher: Launcher, stop: asyncio.Event) -> None:
    from kuzet.badge.sim import SimBadge, register_badges
    from kuzet.badge.v1 import badge_pb2_grpc

    caller = Caller("service:badge-sim", AGENCY_POLICE, frozenset({"admin", "service"}))
    async with open_channel(launcher.url("badge"), audience="badge", caller=caller) as channel:
        stub = badge_pb2_grpc.BadgeServiceStub(channel)
        ids = [f"DEMO-{i:03d}" for i in range(5)]
        await register_badges(stub, AGENCY_POLICE, ids, "unit-1")
        badges = [SimBadge(b, SITE[0], SITE[1]) for b in ids]
        tasks = [asyncio.create_task(b.run(stub, stop)) for b in badges]
        await wait_set(stop, 30)
        if not stop.is_set():
            badges[0].press_panic()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _run(launcher: Launcher, clip_uri: str, road_uri: str, photos: list[Path]) -> int:
    from kuzet.drone.sim.host import SimHost
    from kuzet.drone.sim.vehicle import VehicleConfig

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    vehicles = SimHost()
    vehicles.add(VehicleConfig(1, SITE[0] + 0.002, SITE[1] - 0.002, 700.0), f"udpout:127.0.0.1:{DRONE_PORT}")
    vehicles.start()
    try:
        await _seed(launcher, clip_uri, photos)
        await _drone(launcher)
        plate = await seed_traffic(launcher.url("traffic"), launcher.url("ingest"), road_uri)
        badges = asyncio.create_task(_badges(launcher, stop))
        print(
            INSTRUCTIONS.format(
                gateway=launcher.url("gateway"), password="kuzet-demo", logs=launcher.logs, plate=plate
            )
        )
        # A service that exits meanwhile is restarted by the launcher's supervisor, which says so.
        await stop.wait()
        await badges
        return 0
    finally:
        vehicles.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kuzet demo", description=__doc__)
    parser.add_argument("--data-dir", default=".kuzet/demo", help="where the demo keeps its state")
    opts = parser.parse_args(argv)
    data_dir = Path(opts.data_dir)
    # Every run starts from a fresh site; only the rendered clip is kept between runs.
    shutil.rmtree(data_dir / "state", ignore_errors=True)
    clip, photos = _assets(data_dir)
    road_clip = _road_clip(data_dir)
    data_dir = data_dir / "state"
    launcher = Launcher(
        data_dir,
        env={
            "KUZET_INGEST_LOOP_FILES": "true",
            "KUZET_GATEWAY_DEMO_PASSWORD": DEMO_PASSWORD,
            "KUZET_ALERTING_OVERSIGHT_AGENCIES": DEMO_OVERSIGHT,
        },
    )
    launcher.use_client_certificate()
    launcher.use_tools_key()
    try:
        for name in launcher.start_all():
            print(f"  {name:<10} {launcher.url(name)}", flush=True)
        return asyncio.run(_run(launcher, clip.resolve().as_uri(), road_clip.resolve().as_uri(), photos))
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        launcher.stop_all()
        print("Kuzet demo stopped.", flush=True)

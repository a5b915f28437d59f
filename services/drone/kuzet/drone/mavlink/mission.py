"""A patrol as MAVLink mission items, the agency's zones as fence items, and their upload.

Mission layout: ``[home,] NAV_TAKEOFF, DO_CHANGE_SPEED, the plan's waypoints..., NAV_RETURN_TO_LAUNCH``
(home is item 0 on ArduPilot and is not flown; PX4 flies every item).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mav

from kuzet.common.v1 import common_pb2
from kuzet.drone.mavlink.link import DroneLink, LinkError
from kuzet.drone.v1 import drone_pb2

log = logging.getLogger(__name__)


def first_waypoint_seq(home_is_item_zero: bool) -> int:
    """Mission seq of the plan's first waypoint: [home,] takeoff, speed, waypoints..., RTL."""
    return (1 if home_is_item_zero else 0) + 2


def mission_items(link: DroneLink, plan: drone_pb2.PatrolPlan, home: common_pb2.GeoPoint) -> list[Any]:
    m = link.mav
    items: list[Any] = []

    def item(
        cmd: int,
        p1: float = 0,
        p2: float = 0,
        lat: float = 0,
        lon: float = 0,
        alt: float = 0,
        frame: int = mav.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
    ) -> None:
        items.append(
            m.mission_item_int_encode(
                0, 0, len(items), frame, cmd, 0, 1, p1, p2, 0, 0, round(lat * 1e7), round(lon * 1e7), alt
            )
        )

    if link.state.autopilot.home_is_item_zero:
        item(
            mav.MAV_CMD_NAV_WAYPOINT,
            lat=home.latitude,
            lon=home.longitude,
            alt=home.altitude_m,
            frame=mav.MAV_FRAME_GLOBAL_INT,
        )
    item(mav.MAV_CMD_NAV_TAKEOFF, alt=plan.altitude_m)
    item(mav.MAV_CMD_DO_CHANGE_SPEED, p1=1, p2=plan.speed_mps)  # 1 = ground speed
    assert len(items) == first_waypoint_seq(link.state.autopilot.home_is_item_zero)
    for wp in plan.waypoints:
        item(
            mav.MAV_CMD_NAV_WAYPOINT,
            p1=wp.hold_s,
            lat=wp.latitude,
            lon=wp.longitude,
            alt=wp.relative_altitude_m,
        )
    item(mav.MAV_CMD_NAV_RETURN_TO_LAUNCH)
    return items


def fence_items(link: DroneLink, zones: Sequence[drone_pb2.Zone]) -> list[Any]:
    m = link.mav
    items: list[Any] = []
    for z in zones:
        cmd = (
            mav.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION
            if z.kind == drone_pb2.ZONE_KIND_GEOFENCE
            else mav.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION
        )
        for p in z.polygon:
            items.append(
                m.mission_item_int_encode(
                    0,
                    0,
                    len(items),
                    mav.MAV_FRAME_GLOBAL,
                    cmd,
                    0,
                    1,
                    len(z.polygon),
                    0,
                    0,
                    0,
                    round(p.latitude * 1e7),
                    round(p.longitude * 1e7),
                    0,
                )
            )
    return items


async def upload_with_retries(
    link: DroneLink, items: list[Any], mission_type: int, *, drone_id: str, agency_id: str, attempts: int = 3
) -> None:
    """A whole transfer again when one fails (the vehicle cancelled it, or went silent)."""
    for attempt in range(1, attempts + 1):
        try:
            await link.upload(items, mission_type)
            return
        except LinkError as exc:
            if attempt == attempts:
                raise
            log.warning(
                "drone %s: upload attempt %d failed (%s), retrying",
                drone_id,
                attempt,
                exc,
                extra={"agency": agency_id},
            )

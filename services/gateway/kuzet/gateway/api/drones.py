"""The pilot's commands to a flying drone, and which drone to send to an alert (drone service).

Hold, resume, return-to-launch, land and emergency stop go to the drone service's Control RPC,
which audits each; an emergency stop (the motors stop, the drone falls) also needs the drone's id
typed back in `confirm`, so that no stray request or click can send one.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from kuzet.common.v1 import common_pb2
from kuzet.drone.v1 import drone_pb2 as dpb
from kuzet.gateway.errors import bad_request, error_responses
from kuzet.gateway.roles import Permission
from kuzet.gateway.routes import Call, Route, mount, rpc

ACTIONS = {
    "hold": dpb.CONTROL_ACTION_HOLD,
    "resume": dpb.CONTROL_ACTION_RESUME,
    "return_to_launch": dpb.CONTROL_ACTION_RETURN_TO_LAUNCH,
    "land": dpb.CONTROL_ACTION_LAND,
    "emergency_stop": dpb.CONTROL_ACTION_EMERGENCY_STOP,
}


class ControlBody(BaseModel):
    action: Literal["hold", "resume", "return_to_launch", "land", "emergency_stop"]
    reason: str = Field(default="", max_length=500, description="why, for the audit trail")
    confirm: str = Field(
        default="", max_length=128, description="emergency_stop only: the drone's id, typed by the pilot"
    )


class ReenableBody(BaseModel):
    reason: str = Field(min_length=1, max_length=500, description="why the block may be lifted")


def _control(c: Call) -> dpb.ControlRequest:
    body: ControlBody = c.body
    if body.action == "emergency_stop" and body.confirm != c.drone_id:
        raise bad_request("an emergency stop needs the drone's id typed in confirm")
    return dpb.ControlRequest(drone_id=c.drone_id, action=ACTIONS[body.action], reason=body.reason)


def _suggest(c: Call) -> dpb.SuggestDroneRequest:
    return dpb.SuggestDroneRequest(
        location=common_pb2.GeoPoint(latitude=c.latitude, longitude=c.longitude),
        altitude_m=c.altitude_m,
        hold_s=c.hold_s,
        max_results=c.max_results,
    )


DRONES = ("drones",)

ROUTES = [
    Route(
        "GET",
        "/drones/suggestions",
        Permission.DRONES_COMMAND,
        rpc("drone", "SuggestDrone"),
        _suggest,
        summary="The nearest available drones that can reach a place (an alert's) and come back",
        params={
            "latitude": (float, Query(..., ge=-90, le=90)),
            "longitude": (float, Query(..., ge=-180, le=180)),
            "altitude_m": (float, Query(0.0, ge=0, le=500, description="60 m when 0")),
            "hold_s": (float, Query(0.0, ge=0, le=3600)),
            "max_results": (int, Query(0, ge=0, le=20, description="3 when 0")),
        },
        tags=DRONES,
        name="suggest_drone",
    ),
    Route(
        "POST",
        "/drones/{drone_id}/control",
        Permission.DRONES_COMMAND,
        rpc("drone", "Control"),
        _control,
        summary="Hold, resume, return to launch, land or emergency-stop a drone (audited)",
        body=ControlBody,
        errors=(404, 409),
        at_leader=True,
        tags=DRONES,
        name="control_drone",
    ),
    Route(
        "POST",
        "/drones/{drone_id}/reenable",
        Permission.DRONES_COMMAND,
        rpc("drone", "ReenableCommands"),
        lambda c: dpb.ReenableCommandsRequest(drone_id=c.drone_id, reason=c.body.reason),
        summary="Lift the command block an emergency stop left (audited)",
        body=ReenableBody,
        errors=(404, 409),
        at_leader=True,
        tags=DRONES,
        name="reenable_drone_commands",
    ),
]

router = mount(APIRouter(prefix="/api/v1", responses=error_responses(400, 401, 403, 429, 503)), ROUTES)

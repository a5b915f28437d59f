"""What differs between autopilots: mode numbers, failsafe parameters, mission item 0, start.

ArduPilot (Copter) is what the simulator behaves like and what most tests prove. The PX4 table
follows PX4's documented custom_mode layout (main mode << 16 | sub mode << 24) and parameter
names; its modes are exercised against MAVSDK's server plugins (GENERIC), never against PX4 itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pymavlink.dialects.v20 import ardupilotmega as mav

from kuzet.drone.v1 import drone_pb2

FM = drone_pb2.FlightMode

# Normalised action -> how to ask for it.
HOLD, AUTO, GUIDED, RTL, LAND = "hold", "auto", "guided", "rtl", "land"


@dataclass(frozen=True)
class Autopilot:
    name: str
    # Kuzet action -> (DO_SET_MODE param2 custom main mode, param3 sub mode)
    modes: dict[str, tuple[int, int]]
    # custom_mode -> (FlightMode, name)
    decode: dict[int, tuple[int, str]]
    # Mission item 0 is home and is not flown (ArduPilot); PX4 flies every item.
    home_is_item_zero: bool
    # Failsafe parameters: name -> value given the link-loss timeout (seconds).
    link_loss_params: dict[str, str] = field(default_factory=dict)
    fence_params: dict[str, float] = field(default_factory=dict)
    # Mode to take off in (ArduCopter: NAV_TAKEOFF only in GUIDED); None: takeoff from any mode.
    takeoff_mode: str | None = GUIDED
    # Start the mission with MAV_CMD_MISSION_START (ArduCopter from the ground) or by switching to
    # the mission mode (PX4 and MAVSDK's mission server).
    start_with_command: bool = True
    # The autopilot enforces uploaded fences (MAV_MISSION_TYPE_FENCE). When not, the service itself
    # commands the return on a breach.
    enforces_fence: bool = True

    def flight_mode(self, custom_mode: int) -> tuple[int, str]:
        return self.decode.get(custom_mode, (FM.FLIGHT_MODE_OTHER, f"MODE_{custom_mode}"))


ARDUCOPTER = Autopilot(
    name="ardupilot",
    modes={HOLD: (5, 0), AUTO: (3, 0), GUIDED: (4, 0), RTL: (6, 0), LAND: (9, 0)},
    decode={
        0: (FM.FLIGHT_MODE_OTHER, "STABILIZE"),
        2: (FM.FLIGHT_MODE_OTHER, "ALT_HOLD"),
        3: (FM.FLIGHT_MODE_AUTO, "AUTO"),
        4: (FM.FLIGHT_MODE_GUIDED, "GUIDED"),
        5: (FM.FLIGHT_MODE_LOITER, "LOITER"),
        6: (FM.FLIGHT_MODE_RTL, "RTL"),
        9: (FM.FLIGHT_MODE_LAND, "LAND"),
        17: (FM.FLIGHT_MODE_LOITER, "BRAKE"),
        21: (FM.FLIGHT_MODE_RTL, "SMART_RTL"),
    },
    home_is_item_zero=True,
    # FS_GCS_ENABLE=1: RTL when the GCS heartbeat is lost for FS_GCS_TIMEOUT seconds.
    link_loss_params={"FS_GCS_ENABLE": "1", "FS_GCS_TIMEOUT": "timeout"},
    # FENCE_ACTION=1: RTL (or land when RTL is impossible); polygon + max altitude fences.
    fence_params={"FENCE_ENABLE": 1.0, "FENCE_ACTION": 1.0, "FENCE_TYPE": 7.0},
)


def _px4(main: int, sub: int = 0) -> int:
    return (main << 16) | (sub << 24)


PX4 = Autopilot(
    name="px4",
    modes={HOLD: (4, 3), AUTO: (4, 4), GUIDED: (6, 0), RTL: (4, 5), LAND: (4, 6)},
    decode={
        _px4(4, 3): (FM.FLIGHT_MODE_LOITER, "AUTO.LOITER"),
        _px4(4, 4): (FM.FLIGHT_MODE_AUTO, "AUTO.MISSION"),
        _px4(4, 5): (FM.FLIGHT_MODE_RTL, "AUTO.RTL"),
        _px4(4, 6): (FM.FLIGHT_MODE_LAND, "AUTO.LAND"),
        _px4(4, 2): (FM.FLIGHT_MODE_GUIDED, "AUTO.TAKEOFF"),
        _px4(6): (FM.FLIGHT_MODE_GUIDED, "OFFBOARD"),
        _px4(3): (FM.FLIGHT_MODE_OTHER, "POSCTL"),
        _px4(2): (FM.FLIGHT_MODE_OTHER, "ALTCTL"),
    },
    home_is_item_zero=False,
    # NAV_DLL_ACT=2: return on data-link loss after COM_DL_LOSS_T seconds.
    link_loss_params={"NAV_DLL_ACT": "2", "COM_DL_LOSS_T": "timeout"},
    # GF_ACTION=3: return mode on a geofence breach.
    fence_params={"GF_ACTION": 3.0},
    takeoff_mode=None,
    start_with_command=False,
)

# MAV_AUTOPILOT_GENERIC: e.g. a vehicle built on MAVSDK's server plugins. It uses PX4's mode
# numbers; its parameters and fence support are unknown, so none are assumed.
GENERIC = Autopilot(
    name="generic",
    modes=PX4.modes,
    decode=PX4.decode,
    home_is_item_zero=False,
    takeoff_mode=None,
    start_with_command=False,
    enforces_fence=False,
)


def autopilot_for(heartbeat_autopilot: int) -> Autopilot:
    if heartbeat_autopilot == mav.MAV_AUTOPILOT_PX4:
        return PX4
    if heartbeat_autopilot == mav.MAV_AUTOPILOT_GENERIC:
        return GENERIC
    return ARDUCOPTER

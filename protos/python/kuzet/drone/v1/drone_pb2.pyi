import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from kuzet.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LinkState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LINK_STATE_UNSPECIFIED: _ClassVar[LinkState]
    LINK_STATE_CONNECTING: _ClassVar[LinkState]
    LINK_STATE_UP: _ClassVar[LinkState]
    LINK_STATE_LOST: _ClassVar[LinkState]
    LINK_STATE_CLOSED: _ClassVar[LinkState]

class FlightMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FLIGHT_MODE_UNSPECIFIED: _ClassVar[FlightMode]
    FLIGHT_MODE_OTHER: _ClassVar[FlightMode]
    FLIGHT_MODE_AUTO: _ClassVar[FlightMode]
    FLIGHT_MODE_GUIDED: _ClassVar[FlightMode]
    FLIGHT_MODE_LOITER: _ClassVar[FlightMode]
    FLIGHT_MODE_RTL: _ClassVar[FlightMode]
    FLIGHT_MODE_LAND: _ClassVar[FlightMode]

class GpsFix(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GPS_FIX_UNSPECIFIED: _ClassVar[GpsFix]
    GPS_FIX_NO_GPS: _ClassVar[GpsFix]
    GPS_FIX_NO_FIX: _ClassVar[GpsFix]
    GPS_FIX_2D: _ClassVar[GpsFix]
    GPS_FIX_3D: _ClassVar[GpsFix]
    GPS_FIX_DGPS: _ClassVar[GpsFix]
    GPS_FIX_RTK_FLOAT: _ClassVar[GpsFix]
    GPS_FIX_RTK_FIXED: _ClassVar[GpsFix]

class PatrolKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PATROL_KIND_UNSPECIFIED: _ClassVar[PatrolKind]
    PATROL_KIND_PERIMETER: _ClassVar[PatrolKind]
    PATROL_KIND_AREA_SWEEP: _ClassVar[PatrolKind]
    PATROL_KIND_ROUTE_TO_POINT: _ClassVar[PatrolKind]

class ZoneKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ZONE_KIND_UNSPECIFIED: _ClassVar[ZoneKind]
    ZONE_KIND_GEOFENCE: _ClassVar[ZoneKind]
    ZONE_KIND_NO_FLY: _ClassVar[ZoneKind]

class ViolationKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VIOLATION_KIND_UNSPECIFIED: _ClassVar[ViolationKind]
    VIOLATION_KIND_OUTSIDE_GEOFENCE: _ClassVar[ViolationKind]
    VIOLATION_KIND_NO_FLY_ZONE: _ClassVar[ViolationKind]
    VIOLATION_KIND_MAX_RANGE: _ClassVar[ViolationKind]
    VIOLATION_KIND_MAX_ALTITUDE: _ClassVar[ViolationKind]
    VIOLATION_KIND_BATTERY: _ClassVar[ViolationKind]
    VIOLATION_KIND_LAUNCH_BATTERY: _ClassVar[ViolationKind]
    VIOLATION_KIND_DRONE_NOT_READY: _ClassVar[ViolationKind]

class MissionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MISSION_STATE_UNSPECIFIED: _ClassVar[MissionState]
    MISSION_STATE_UPLOADING: _ClassVar[MissionState]
    MISSION_STATE_LAUNCHING: _ClassVar[MissionState]
    MISSION_STATE_IN_PROGRESS: _ClassVar[MissionState]
    MISSION_STATE_PAUSED: _ClassVar[MissionState]
    MISSION_STATE_RETURNING: _ClassVar[MissionState]
    MISSION_STATE_LANDING: _ClassVar[MissionState]
    MISSION_STATE_COMPLETED: _ClassVar[MissionState]
    MISSION_STATE_ABORTED: _ClassVar[MissionState]

class ControlAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONTROL_ACTION_UNSPECIFIED: _ClassVar[ControlAction]
    CONTROL_ACTION_HOLD: _ClassVar[ControlAction]
    CONTROL_ACTION_RESUME: _ClassVar[ControlAction]
    CONTROL_ACTION_RETURN_TO_LAUNCH: _ClassVar[ControlAction]
    CONTROL_ACTION_LAND: _ClassVar[ControlAction]
    CONTROL_ACTION_EMERGENCY_STOP: _ClassVar[ControlAction]

class ProtectedAreaKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROTECTED_AREA_KIND_UNSPECIFIED: _ClassVar[ProtectedAreaKind]
    PROTECTED_AREA_KIND_RESERVE: _ClassVar[ProtectedAreaKind]
    PROTECTED_AREA_KIND_NO_FISHING: _ClassVar[ProtectedAreaKind]
    PROTECTED_AREA_KIND_FOREST_BLOCK: _ClassVar[ProtectedAreaKind]

class ObjectClass(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OBJECT_CLASS_UNSPECIFIED: _ClassVar[ObjectClass]
    OBJECT_CLASS_PERSON: _ClassVar[ObjectClass]
    OBJECT_CLASS_CAR: _ClassVar[ObjectClass]
    OBJECT_CLASS_TRUCK: _ClassVar[ObjectClass]
    OBJECT_CLASS_BUS: _ClassVar[ObjectClass]
    OBJECT_CLASS_MOTORCYCLE: _ClassVar[ObjectClass]
    OBJECT_CLASS_BICYCLE: _ClassVar[ObjectClass]
    OBJECT_CLASS_BOAT: _ClassVar[ObjectClass]
LINK_STATE_UNSPECIFIED: LinkState
LINK_STATE_CONNECTING: LinkState
LINK_STATE_UP: LinkState
LINK_STATE_LOST: LinkState
LINK_STATE_CLOSED: LinkState
FLIGHT_MODE_UNSPECIFIED: FlightMode
FLIGHT_MODE_OTHER: FlightMode
FLIGHT_MODE_AUTO: FlightMode
FLIGHT_MODE_GUIDED: FlightMode
FLIGHT_MODE_LOITER: FlightMode
FLIGHT_MODE_RTL: FlightMode
FLIGHT_MODE_LAND: FlightMode
GPS_FIX_UNSPECIFIED: GpsFix
GPS_FIX_NO_GPS: GpsFix
GPS_FIX_NO_FIX: GpsFix
GPS_FIX_2D: GpsFix
GPS_FIX_3D: GpsFix
GPS_FIX_DGPS: GpsFix
GPS_FIX_RTK_FLOAT: GpsFix
GPS_FIX_RTK_FIXED: GpsFix
PATROL_KIND_UNSPECIFIED: PatrolKind
PATROL_KIND_PERIMETER: PatrolKind
PATROL_KIND_AREA_SWEEP: PatrolKind
PATROL_KIND_ROUTE_TO_POINT: PatrolKind
ZONE_KIND_UNSPECIFIED: ZoneKind
ZONE_KIND_GEOFENCE: ZoneKind
ZONE_KIND_NO_FLY: ZoneKind
VIOLATION_KIND_UNSPECIFIED: ViolationKind
VIOLATION_KIND_OUTSIDE_GEOFENCE: ViolationKind
VIOLATION_KIND_NO_FLY_ZONE: ViolationKind
VIOLATION_KIND_MAX_RANGE: ViolationKind
VIOLATION_KIND_MAX_ALTITUDE: ViolationKind
VIOLATION_KIND_BATTERY: ViolationKind
VIOLATION_KIND_LAUNCH_BATTERY: ViolationKind
VIOLATION_KIND_DRONE_NOT_READY: ViolationKind
MISSION_STATE_UNSPECIFIED: MissionState
MISSION_STATE_UPLOADING: MissionState
MISSION_STATE_LAUNCHING: MissionState
MISSION_STATE_IN_PROGRESS: MissionState
MISSION_STATE_PAUSED: MissionState
MISSION_STATE_RETURNING: MissionState
MISSION_STATE_LANDING: MissionState
MISSION_STATE_COMPLETED: MissionState
MISSION_STATE_ABORTED: MissionState
CONTROL_ACTION_UNSPECIFIED: ControlAction
CONTROL_ACTION_HOLD: ControlAction
CONTROL_ACTION_RESUME: ControlAction
CONTROL_ACTION_RETURN_TO_LAUNCH: ControlAction
CONTROL_ACTION_LAND: ControlAction
CONTROL_ACTION_EMERGENCY_STOP: ControlAction
PROTECTED_AREA_KIND_UNSPECIFIED: ProtectedAreaKind
PROTECTED_AREA_KIND_RESERVE: ProtectedAreaKind
PROTECTED_AREA_KIND_NO_FISHING: ProtectedAreaKind
PROTECTED_AREA_KIND_FOREST_BLOCK: ProtectedAreaKind
OBJECT_CLASS_UNSPECIFIED: ObjectClass
OBJECT_CLASS_PERSON: ObjectClass
OBJECT_CLASS_CAR: ObjectClass
OBJECT_CLASS_TRUCK: ObjectClass
OBJECT_CLASS_BUS: ObjectClass
OBJECT_CLASS_MOTORCYCLE: ObjectClass
OBJECT_CLASS_BICYCLE: ObjectClass
OBJECT_CLASS_BOAT: ObjectClass

class DroneLimits(_message.Message):
    __slots__ = ("max_altitude_m", "max_range_m", "min_launch_battery_pct", "return_reserve_pct", "endurance_s", "cruise_speed_mps", "link_loss_timeout_s")
    MAX_ALTITUDE_M_FIELD_NUMBER: _ClassVar[int]
    MAX_RANGE_M_FIELD_NUMBER: _ClassVar[int]
    MIN_LAUNCH_BATTERY_PCT_FIELD_NUMBER: _ClassVar[int]
    RETURN_RESERVE_PCT_FIELD_NUMBER: _ClassVar[int]
    ENDURANCE_S_FIELD_NUMBER: _ClassVar[int]
    CRUISE_SPEED_MPS_FIELD_NUMBER: _ClassVar[int]
    LINK_LOSS_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    max_altitude_m: float
    max_range_m: float
    min_launch_battery_pct: float
    return_reserve_pct: float
    endurance_s: float
    cruise_speed_mps: float
    link_loss_timeout_s: float
    def __init__(self, max_altitude_m: _Optional[float] = ..., max_range_m: _Optional[float] = ..., min_launch_battery_pct: _Optional[float] = ..., return_reserve_pct: _Optional[float] = ..., endurance_s: _Optional[float] = ..., cruise_speed_mps: _Optional[float] = ..., link_loss_timeout_s: _Optional[float] = ...) -> None: ...

class CameraSpec(_message.Message):
    __slots__ = ("horizontal_fov_deg", "side_overlap", "gimbal_pitch_deg")
    HORIZONTAL_FOV_DEG_FIELD_NUMBER: _ClassVar[int]
    SIDE_OVERLAP_FIELD_NUMBER: _ClassVar[int]
    GIMBAL_PITCH_DEG_FIELD_NUMBER: _ClassVar[int]
    horizontal_fov_deg: float
    side_overlap: float
    gimbal_pitch_deg: float
    def __init__(self, horizontal_fov_deg: _Optional[float] = ..., side_overlap: _Optional[float] = ..., gimbal_pitch_deg: _Optional[float] = ...) -> None: ...

class Drone(_message.Message):
    __slots__ = ("drone_id", "agency_id", "name", "home", "system_id", "component_id", "link_url", "limits", "camera", "registered_at", "site_id")
    DRONE_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    HOME_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_ID_FIELD_NUMBER: _ClassVar[int]
    COMPONENT_ID_FIELD_NUMBER: _ClassVar[int]
    LINK_URL_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    drone_id: str
    agency_id: str
    name: str
    home: _common_pb2.GeoPoint
    system_id: int
    component_id: int
    link_url: str
    limits: DroneLimits
    camera: CameraSpec
    registered_at: _timestamp_pb2.Timestamp
    site_id: str
    def __init__(self, drone_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., name: _Optional[str] = ..., home: _Optional[_Union[_common_pb2.GeoPoint, _Mapping]] = ..., system_id: _Optional[int] = ..., component_id: _Optional[int] = ..., link_url: _Optional[str] = ..., limits: _Optional[_Union[DroneLimits, _Mapping]] = ..., camera: _Optional[_Union[CameraSpec, _Mapping]] = ..., registered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., site_id: _Optional[str] = ...) -> None: ...

class Zone(_message.Message):
    __slots__ = ("zone_id", "agency_id", "name", "kind", "polygon", "max_altitude_m", "created_at")
    ZONE_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    POLYGON_FIELD_NUMBER: _ClassVar[int]
    MAX_ALTITUDE_M_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    zone_id: str
    agency_id: str
    name: str
    kind: ZoneKind
    polygon: _containers.RepeatedCompositeFieldContainer[_common_pb2.GeoPoint]
    max_altitude_m: float
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, zone_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[_Union[ZoneKind, str, int]] = ..., polygon: _Optional[_Iterable[_Union[_common_pb2.GeoPoint, _Mapping]]] = ..., max_altitude_m: _Optional[float] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Waypoint(_message.Message):
    __slots__ = ("seq", "latitude", "longitude", "relative_altitude_m", "hold_s")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    LATITUDE_FIELD_NUMBER: _ClassVar[int]
    LONGITUDE_FIELD_NUMBER: _ClassVar[int]
    RELATIVE_ALTITUDE_M_FIELD_NUMBER: _ClassVar[int]
    HOLD_S_FIELD_NUMBER: _ClassVar[int]
    seq: int
    latitude: float
    longitude: float
    relative_altitude_m: float
    hold_s: float
    def __init__(self, seq: _Optional[int] = ..., latitude: _Optional[float] = ..., longitude: _Optional[float] = ..., relative_altitude_m: _Optional[float] = ..., hold_s: _Optional[float] = ...) -> None: ...

class Violation(_message.Message):
    __slots__ = ("kind", "message", "zone_id", "waypoint_seq")
    KIND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ZONE_ID_FIELD_NUMBER: _ClassVar[int]
    WAYPOINT_SEQ_FIELD_NUMBER: _ClassVar[int]
    kind: ViolationKind
    message: str
    zone_id: str
    waypoint_seq: int
    def __init__(self, kind: _Optional[_Union[ViolationKind, str, int]] = ..., message: _Optional[str] = ..., zone_id: _Optional[str] = ..., waypoint_seq: _Optional[int] = ...) -> None: ...

class PatrolPlan(_message.Message):
    __slots__ = ("plan_id", "drone_id", "agency_id", "kind", "waypoints", "distance_m", "estimated_duration_s", "estimated_battery_pct", "estimated_landing_battery_pct", "altitude_m", "speed_mps", "ok", "violations", "alert_id", "created_at", "sweep_spacing_m", "coverage_plan_id", "coverage_leg")
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    DRONE_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    WAYPOINTS_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_M_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_DURATION_S_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_BATTERY_PCT_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_LANDING_BATTERY_PCT_FIELD_NUMBER: _ClassVar[int]
    ALTITUDE_M_FIELD_NUMBER: _ClassVar[int]
    SPEED_MPS_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SWEEP_SPACING_M_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_LEG_FIELD_NUMBER: _ClassVar[int]
    plan_id: str
    drone_id: str
    agency_id: str
    kind: PatrolKind
    waypoints: _containers.RepeatedCompositeFieldContainer[Waypoint]
    distance_m: float
    estimated_duration_s: float
    estimated_battery_pct: float
    estimated_landing_battery_pct: float
    altitude_m: float
    speed_mps: float
    ok: bool
    violations: _containers.RepeatedCompositeFieldContainer[Violation]
    alert_id: str
    created_at: _timestamp_pb2.Timestamp
    sweep_spacing_m: float
    coverage_plan_id: str
    coverage_leg: int
    def __init__(self, plan_id: _Optional[str] = ..., drone_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., kind: _Optional[_Union[PatrolKind, str, int]] = ..., waypoints: _Optional[_Iterable[_Union[Waypoint, _Mapping]]] = ..., distance_m: _Optional[float] = ..., estimated_duration_s: _Optional[float] = ..., estimated_battery_pct: _Optional[float] = ..., estimated_landing_battery_pct: _Optional[float] = ..., altitude_m: _Optional[float] = ..., speed_mps: _Optional[float] = ..., ok: _Optional[bool] = ..., violations: _Optional[_Iterable[_Union[Violation, _Mapping]]] = ..., alert_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sweep_spacing_m: _Optional[float] = ..., coverage_plan_id: _Optional[str] = ..., coverage_leg: _Optional[int] = ...) -> None: ...

class MissionProgress(_message.Message):
    __slots__ = ("current_seq", "total", "reached_seq")
    CURRENT_SEQ_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    REACHED_SEQ_FIELD_NUMBER: _ClassVar[int]
    current_seq: int
    total: int
    reached_seq: int
    def __init__(self, current_seq: _Optional[int] = ..., total: _Optional[int] = ..., reached_seq: _Optional[int] = ...) -> None: ...

class Mission(_message.Message):
    __slots__ = ("mission_id", "plan_id", "drone_id", "agency_id", "state", "dispatched_by", "dispatched_at", "ended_at", "progress", "reason", "alert_id")
    MISSION_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    DRONE_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DISPATCHED_BY_FIELD_NUMBER: _ClassVar[int]
    DISPATCHED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    mission_id: str
    plan_id: str
    drone_id: str
    agency_id: str
    state: MissionState
    dispatched_by: str
    dispatched_at: _timestamp_pb2.Timestamp
    ended_at: _timestamp_pb2.Timestamp
    progress: MissionProgress
    reason: str
    alert_id: str
    def __init__(self, mission_id: _Optional[str] = ..., plan_id: _Optional[str] = ..., drone_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., state: _Optional[_Union[MissionState, str, int]] = ..., dispatched_by: _Optional[str] = ..., dispatched_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., progress: _Optional[_Union[MissionProgress, _Mapping]] = ..., reason: _Optional[str] = ..., alert_id: _Optional[str] = ...) -> None: ...

class Telemetry(_message.Message):
    __slots__ = ("drone_id", "agency_id", "time", "position", "relative_altitude_m", "heading_deg", "ground_speed_mps", "climb_rate_mps", "battery_pct", "battery_voltage_v", "gps_fix", "satellites_visible", "mode", "autopilot_mode", "armed", "progress", "link_state", "last_heartbeat_at", "commands_blocked", "geofence_breached")
    DRONE_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    RELATIVE_ALTITUDE_M_FIELD_NUMBER: _ClassVar[int]
    HEADING_DEG_FIELD_NUMBER: _ClassVar[int]
    GROUND_SPEED_MPS_FIELD_NUMBER: _ClassVar[int]
    CLIMB_RATE_MPS_FIELD_NUMBER: _ClassVar[int]
    BATTERY_PCT_FIELD_NUMBER: _ClassVar[int]
    BATTERY_VOLTAGE_V_FIELD_NUMBER: _ClassVar[int]
    GPS_FIX_FIELD_NUMBER: _ClassVar[int]
    SATELLITES_VISIBLE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    AUTOPILOT_MODE_FIELD_NUMBER: _ClassVar[int]
    ARMED_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    LINK_STATE_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_AT_FIELD_NUMBER: _ClassVar[int]
    COMMANDS_BLOCKED_FIELD_NUMBER: _ClassVar[int]
    GEOFENCE_BREACHED_FIELD_NUMBER: _ClassVar[int]
    drone_id: str
    agency_id: str
    time: _timestamp_pb2.Timestamp
    position: _common_pb2.GeoPoint
    relative_altitude_m: float
    heading_deg: float
    ground_speed_mps: float
    climb_rate_mps: float
    battery_pct: float
    battery_voltage_v: float
    gps_fix: GpsFix
    satellites_visible: int
    mode: FlightMode
    autopilot_mode: str
    armed: bool
    progress: MissionProgress
    link_state: LinkState
    last_heartbeat_at: _timestamp_pb2.Timestamp
    commands_blocked: bool
    geofence_breached: bool
    def __init__(self, drone_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., position: _Optional[_Union[_common_pb2.GeoPoint, _Mapping]] = ..., relative_altitude_m: _Optional[float] = ..., heading_deg: _Optional[float] = ..., ground_speed_mps: _Optional[float] = ..., climb_rate_mps: _Optional[float] = ..., battery_pct: _Optional[float] = ..., battery_voltage_v: _Optional[float] = ..., gps_fix: _Optional[_Union[GpsFix, str, int]] = ..., satellites_visible: _Optional[int] = ..., mode: _Optional[_Union[FlightMode, str, int]] = ..., autopilot_mode: _Optional[str] = ..., armed: _Optional[bool] = ..., progress: _Optional[_Union[MissionProgress, _Mapping]] = ..., link_state: _Optional[_Union[LinkState, str, int]] = ..., last_heartbeat_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., commands_blocked: _Optional[bool] = ..., geofence_breached: _Optional[bool] = ...) -> None: ...

class DroneState(_message.Message):
    __slots__ = ("drone", "telemetry", "mission", "commands_blocked", "blocked_reason", "controller", "available", "plan")
    DRONE_FIELD_NUMBER: _ClassVar[int]
    TELEMETRY_FIELD_NUMBER: _ClassVar[int]
    MISSION_FIELD_NUMBER: _ClassVar[int]
    COMMANDS_BLOCKED_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_REASON_FIELD_NUMBER: _ClassVar[int]
    CONTROLLER_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    drone: Drone
    telemetry: Telemetry
    mission: Mission
    commands_blocked: bool
    blocked_reason: str
    controller: str
    available: bool
    plan: PatrolPlan
    def __init__(self, drone: _Optional[_Union[Drone, _Mapping]] = ..., telemetry: _Optional[_Union[Telemetry, _Mapping]] = ..., mission: _Optional[_Union[Mission, _Mapping]] = ..., commands_blocked: _Optional[bool] = ..., blocked_reason: _Optional[str] = ..., controller: _Optional[str] = ..., available: _Optional[bool] = ..., plan: _Optional[_Union[PatrolPlan, _Mapping]] = ...) -> None: ...

class RegisterDroneRequest(_message.Message):
    __slots__ = ("drone", "update")
    DRONE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_FIELD_NUMBER: _ClassVar[int]
    drone: Drone
    update: bool
    def __init__(self, drone: _Optional[_Union[Drone, _Mapping]] = ..., update: _Optional[bool] = ...) -> None: ...

class RegisterDroneResponse(_message.Message):
    __slots__ = ("drone",)
    DRONE_FIELD_NUMBER: _ClassVar[int]
    drone: Drone
    def __init__(self, drone: _Optional[_Union[Drone, _Mapping]] = ...) -> None: ...

class GetDroneRequest(_message.Message):
    __slots__ = ("drone_id",)
    DRONE_ID_FIELD_NUMBER: _ClassVar[int]
    drone_id: str
    def __init__(self, drone_id: _Optional[str] = ...) -> None: ...

class GetDroneResponse(_message.Message):
    __slots__ = ("drone",)
    DRONE_FIELD_NUMBER: _ClassVar[int]
    drone: Drone
    def __init__(self, drone: _Optional[_Union[Drone, _Mapping]] = ...) -> None: ...

class ListDronesRequest(_message.Message):
    __slots__ = ("agency_id", "page")
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    agency_id: str
    page: _common_pb2.PageRequest
    def __init__(self, agency_id: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListDronesResponse(_message.Message):
    __slots__ = ("drones", "page")
    DRONES_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    drones: _containers.RepeatedCompositeFieldContainer[Drone]
    page: _common_pb2.PageResponse
    def __init__(self, drones: _Optional[_Iterable[_Union[Drone, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class CreateZoneRequest(_message.Message):
    __slots__ = ("zone",)
    ZONE_FIELD_NUMBER: _ClassVar[int]
    zone: Zone
    def __init__(self, zone: _Optional[_Union[Zone, _Mapping]] = ...) -> None: ...

class CreateZoneResponse(_message.Message):
    __slots__ = ("zone",)
    ZONE_FIELD_NUMBER: _ClassVar[int]
    zone: Zone
    def __init__(self, zone: _Optional[_Union[Zone, _Mapping]] = ...) -> None: ...

class ListZonesRequest(_message.Message):
    __slots__ = ("agency_id",)
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    agency_id: str
    def __init__(self, agency_id: _Optional[str] = ...) -> None: ...

class ListZonesResponse(_message.Message):
    __slots__ = ("zones",)
    ZONES_FIELD_NUMBER: _ClassVar[int]
    zones: _containers.RepeatedCompositeFieldContainer[Zone]
    def __init__(self, zones: _Optional[_Iterable[_Union[Zone, _Mapping]]] = ...) -> None: ...

class DeleteZoneRequest(_message.Message):
    __slots__ = ("zone_id",)
    ZONE_ID_FIELD_NUMBER: _ClassVar[int]
    zone_id: str
    def __init__(self, zone_id: _Optional[str] = ...) -> None: ...

class DeleteZoneResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PlanPatrolRequest(_message.Message):
    __slots__ = ("drone_id", "kind", "polygon", "target", "altitude_m", "speed_mps", "sweep_spacing_m", "loops", "hold_s", "alert_id")
    DRONE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    POLYGON_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    ALTITUDE_M_FIELD_NUMBER: _ClassVar[int]
    SPEED_MPS_FIELD_NUMBER: _ClassVar[int]
    SWEEP_SPACING_M_FIELD_NUMBER: _ClassVar[int]
    LOOPS_FIELD_NUMBER: _ClassVar[int]
    HOLD_S_FIELD_NUMBER: _ClassVar[int]
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    drone_id: str
    kind: PatrolKind
    polygon: _containers.RepeatedCompositeFieldContainer[_common_pb2.GeoPoint]
    target: _common_pb2.GeoPoint
    altitude_m: float
    speed_mps: float
    sweep_spacing_m: float
    loops: int
    hold_s: float
    alert_id: str
    def __init__(self, drone_id: _Optional[str] = ..., kind: _Optional[_Union[PatrolKind, str, int]] = ..., polygon: _Optional[_Iterable[_Union[_common_pb2.GeoPoint, _Mapping]]] = ..., target: _Optional[_Union[_common_pb2.GeoPoint, _Mapping]] = ..., altitude_m: _Optional[float] = ..., speed_mps: _Optional[float] = ..., sweep_spacing_m: _Optional[float] = ..., loops: _Optional[int] = ..., hold_s: _Optional[float] = ..., alert_id: _Optional[str] = ...) -> None: ...

class PlanPatrolResponse(_message.Message):
    __slots__ = ("plan",)
    PLAN_FIELD_NUMBER: _ClassVar[int]
    plan: PatrolPlan
    def __init__(self, plan: _Optional[_Union[PatrolPlan, _Mapping]] = ...) -> None: ...

class DispatchRequest(_message.Message):
    __slots__ = ("plan_id", "pilot_confirmed")
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    PILOT_CONFIRMED_FIELD_NUMBER: _ClassVar[int]
    plan_id: str
    pilot_confirmed: bool
    def __init__(self, plan_id: _Optional[str] = ..., pilot_confirmed: _Optional[bool] = ...) -> None: ...

class DispatchResponse(_message.Message):
    __slots__ = ("mission",)
    MISSION_FIELD_NUMBER: _ClassVar[int]
    mission: Mission
    def __init__(self, mission: _Optional[_Union[Mission, _Mapping]] = ...) -> None: ...

class ControlRequest(_message.Message):
    __slots__ = ("drone_id", "action", "reason")
    DRONE_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    drone_id: str
    action: ControlAction
    reason: str
    def __init__(self, drone_id: _Optional[str] = ..., action: _Optional[_Union[ControlAction, str, int]] = ..., reason: _Optional[str] = ...) -> None: ...

class ControlResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: DroneState
    def __init__(self, state: _Optional[_Union[DroneState, _Mapping]] = ...) -> None: ...

class ReenableCommandsRequest(_message.Message):
    __slots__ = ("drone_id", "reason")
    DRONE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    drone_id: str
    reason: str
    def __init__(self, drone_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ReenableCommandsResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: DroneState
    def __init__(self, state: _Optional[_Union[DroneState, _Mapping]] = ...) -> None: ...

class SuggestDroneRequest(_message.Message):
    __slots__ = ("location", "agency_id", "altitude_m", "hold_s", "max_results")
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    ALTITUDE_M_FIELD_NUMBER: _ClassVar[int]
    HOLD_S_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    location: _common_pb2.GeoPoint
    agency_id: str
    altitude_m: float
    hold_s: float
    max_results: int
    def __init__(self, location: _Optional[_Union[_common_pb2.GeoPoint, _Mapping]] = ..., agency_id: _Optional[str] = ..., altitude_m: _Optional[float] = ..., hold_s: _Optional[float] = ..., max_results: _Optional[int] = ...) -> None: ...

class DroneSuggestion(_message.Message):
    __slots__ = ("drone_id", "distance_m", "battery_pct", "estimated_arrival_s", "estimated_landing_battery_pct")
    DRONE_ID_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_M_FIELD_NUMBER: _ClassVar[int]
    BATTERY_PCT_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_ARRIVAL_S_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_LANDING_BATTERY_PCT_FIELD_NUMBER: _ClassVar[int]
    drone_id: str
    distance_m: float
    battery_pct: float
    estimated_arrival_s: float
    estimated_landing_battery_pct: float
    def __init__(self, drone_id: _Optional[str] = ..., distance_m: _Optional[float] = ..., battery_pct: _Optional[float] = ..., estimated_arrival_s: _Optional[float] = ..., estimated_landing_battery_pct: _Optional[float] = ...) -> None: ...

class SuggestDroneResponse(_message.Message):
    __slots__ = ("suggestions",)
    SUGGESTIONS_FIELD_NUMBER: _ClassVar[int]
    suggestions: _containers.RepeatedCompositeFieldContainer[DroneSuggestion]
    def __init__(self, suggestions: _Optional[_Iterable[_Union[DroneSuggestion, _Mapping]]] = ...) -> None: ...

class WatchTelemetryRequest(_message.Message):
    __slots__ = ("drone_ids", "max_batch")
    DRONE_IDS_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_FIELD_NUMBER: _ClassVar[int]
    drone_ids: _containers.RepeatedScalarFieldContainer[str]
    max_batch: int
    def __init__(self, drone_ids: _Optional[_Iterable[str]] = ..., max_batch: _Optional[int] = ...) -> None: ...

class WatchTelemetryResponse(_message.Message):
    __slots__ = ("telemetry", "batch")
    TELEMETRY_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    telemetry: Telemetry
    batch: _containers.RepeatedCompositeFieldContainer[Telemetry]
    def __init__(self, telemetry: _Optional[_Union[Telemetry, _Mapping]] = ..., batch: _Optional[_Iterable[_Union[Telemetry, _Mapping]]] = ...) -> None: ...

class GetDroneStateRequest(_message.Message):
    __slots__ = ("drone_id",)
    DRONE_ID_FIELD_NUMBER: _ClassVar[int]
    drone_id: str
    def __init__(self, drone_id: _Optional[str] = ...) -> None: ...

class GetDroneStateResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: DroneState
    def __init__(self, state: _Optional[_Union[DroneState, _Mapping]] = ...) -> None: ...

class GeoRing(_message.Message):
    __slots__ = ("points",)
    POINTS_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[_common_pb2.GeoPoint]
    def __init__(self, points: _Optional[_Iterable[_Union[_common_pb2.GeoPoint, _Mapping]]] = ...) -> None: ...

class AreaPolygon(_message.Message):
    __slots__ = ("outline", "holes", "area_m2")
    OUTLINE_FIELD_NUMBER: _ClassVar[int]
    HOLES_FIELD_NUMBER: _ClassVar[int]
    AREA_M2_FIELD_NUMBER: _ClassVar[int]
    outline: _containers.RepeatedCompositeFieldContainer[_common_pb2.GeoPoint]
    holes: _containers.RepeatedCompositeFieldContainer[GeoRing]
    area_m2: float
    def __init__(self, outline: _Optional[_Iterable[_Union[_common_pb2.GeoPoint, _Mapping]]] = ..., holes: _Optional[_Iterable[_Union[GeoRing, _Mapping]]] = ..., area_m2: _Optional[float] = ...) -> None: ...

class PlanCoverageRequest(_message.Message):
    __slots__ = ("outline", "holes", "no_fly", "drone_ids", "altitude_m", "side_overlap", "speed_mps", "name")
    OUTLINE_FIELD_NUMBER: _ClassVar[int]
    HOLES_FIELD_NUMBER: _ClassVar[int]
    NO_FLY_FIELD_NUMBER: _ClassVar[int]
    DRONE_IDS_FIELD_NUMBER: _ClassVar[int]
    ALTITUDE_M_FIELD_NUMBER: _ClassVar[int]
    SIDE_OVERLAP_FIELD_NUMBER: _ClassVar[int]
    SPEED_MPS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    outline: _containers.RepeatedCompositeFieldContainer[_common_pb2.GeoPoint]
    holes: _containers.RepeatedCompositeFieldContainer[GeoRing]
    no_fly: _containers.RepeatedCompositeFieldContainer[GeoRing]
    drone_ids: _containers.RepeatedScalarFieldContainer[str]
    altitude_m: float
    side_overlap: float
    speed_mps: float
    name: str
    def __init__(self, outline: _Optional[_Iterable[_Union[_common_pb2.GeoPoint, _Mapping]]] = ..., holes: _Optional[_Iterable[_Union[GeoRing, _Mapping]]] = ..., no_fly: _Optional[_Iterable[_Union[GeoRing, _Mapping]]] = ..., drone_ids: _Optional[_Iterable[str]] = ..., altitude_m: _Optional[float] = ..., side_overlap: _Optional[float] = ..., speed_mps: _Optional[float] = ..., name: _Optional[str] = ...) -> None: ...

class DroneCoverage(_message.Message):
    __slots__ = ("drone_id", "strip_m2", "spacing_m", "footprint_across_m", "footprint_along_m", "speed_mps", "legs", "coverage_ratio")
    DRONE_ID_FIELD_NUMBER: _ClassVar[int]
    STRIP_M2_FIELD_NUMBER: _ClassVar[int]
    SPACING_M_FIELD_NUMBER: _ClassVar[int]
    FOOTPRINT_ACROSS_M_FIELD_NUMBER: _ClassVar[int]
    FOOTPRINT_ALONG_M_FIELD_NUMBER: _ClassVar[int]
    SPEED_MPS_FIELD_NUMBER: _ClassVar[int]
    LEGS_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_RATIO_FIELD_NUMBER: _ClassVar[int]
    drone_id: str
    strip_m2: float
    spacing_m: float
    footprint_across_m: float
    footprint_along_m: float
    speed_mps: float
    legs: _containers.RepeatedCompositeFieldContainer[PatrolPlan]
    coverage_ratio: float
    def __init__(self, drone_id: _Optional[str] = ..., strip_m2: _Optional[float] = ..., spacing_m: _Optional[float] = ..., footprint_across_m: _Optional[float] = ..., footprint_along_m: _Optional[float] = ..., speed_mps: _Optional[float] = ..., legs: _Optional[_Iterable[_Union[PatrolPlan, _Mapping]]] = ..., coverage_ratio: _Optional[float] = ...) -> None: ...

class CoveragePlan(_message.Message):
    __slots__ = ("coverage_plan_id", "agency_id", "name", "outline", "holes", "no_fly", "altitude_m", "drones", "asked_m2", "allowed_m2", "unflyable_m2", "coverage_ratio", "zones", "created_by", "created_at")
    COVERAGE_PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OUTLINE_FIELD_NUMBER: _ClassVar[int]
    HOLES_FIELD_NUMBER: _ClassVar[int]
    NO_FLY_FIELD_NUMBER: _ClassVar[int]
    ALTITUDE_M_FIELD_NUMBER: _ClassVar[int]
    DRONES_FIELD_NUMBER: _ClassVar[int]
    ASKED_M2_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_M2_FIELD_NUMBER: _ClassVar[int]
    UNFLYABLE_M2_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_RATIO_FIELD_NUMBER: _ClassVar[int]
    ZONES_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    coverage_plan_id: str
    agency_id: str
    name: str
    outline: _containers.RepeatedCompositeFieldContainer[_common_pb2.GeoPoint]
    holes: _containers.RepeatedCompositeFieldContainer[GeoRing]
    no_fly: _containers.RepeatedCompositeFieldContainer[GeoRing]
    altitude_m: float
    drones: _containers.RepeatedCompositeFieldContainer[DroneCoverage]
    asked_m2: float
    allowed_m2: float
    unflyable_m2: float
    coverage_ratio: float
    zones: _containers.RepeatedCompositeFieldContainer[Zone]
    created_by: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, coverage_plan_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., name: _Optional[str] = ..., outline: _Optional[_Iterable[_Union[_common_pb2.GeoPoint, _Mapping]]] = ..., holes: _Optional[_Iterable[_Union[GeoRing, _Mapping]]] = ..., no_fly: _Optional[_Iterable[_Union[GeoRing, _Mapping]]] = ..., altitude_m: _Optional[float] = ..., drones: _Optional[_Iterable[_Union[DroneCoverage, _Mapping]]] = ..., asked_m2: _Optional[float] = ..., allowed_m2: _Optional[float] = ..., unflyable_m2: _Optional[float] = ..., coverage_ratio: _Optional[float] = ..., zones: _Optional[_Iterable[_Union[Zone, _Mapping]]] = ..., created_by: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PlanCoverageResponse(_message.Message):
    __slots__ = ("plan",)
    PLAN_FIELD_NUMBER: _ClassVar[int]
    plan: CoveragePlan
    def __init__(self, plan: _Optional[_Union[CoveragePlan, _Mapping]] = ...) -> None: ...

class GetCoverageReportRequest(_message.Message):
    __slots__ = ("coverage_plan_id", "mission_id", "recompute")
    COVERAGE_PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    MISSION_ID_FIELD_NUMBER: _ClassVar[int]
    RECOMPUTE_FIELD_NUMBER: _ClassVar[int]
    coverage_plan_id: str
    mission_id: str
    recompute: bool
    def __init__(self, coverage_plan_id: _Optional[str] = ..., mission_id: _Optional[str] = ..., recompute: _Optional[bool] = ...) -> None: ...

class MissionCoverage(_message.Message):
    __slots__ = ("mission_id", "plan_id", "drone_id", "coverage_leg", "state", "reason", "flight_time_s", "track_points", "seen_m2")
    MISSION_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    DRONE_ID_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_LEG_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FLIGHT_TIME_S_FIELD_NUMBER: _ClassVar[int]
    TRACK_POINTS_FIELD_NUMBER: _ClassVar[int]
    SEEN_M2_FIELD_NUMBER: _ClassVar[int]
    mission_id: str
    plan_id: str
    drone_id: str
    coverage_leg: int
    state: MissionState
    reason: str
    flight_time_s: float
    track_points: int
    seen_m2: float
    def __init__(self, mission_id: _Optional[str] = ..., plan_id: _Optional[str] = ..., drone_id: _Optional[str] = ..., coverage_leg: _Optional[int] = ..., state: _Optional[_Union[MissionState, str, int]] = ..., reason: _Optional[str] = ..., flight_time_s: _Optional[float] = ..., track_points: _Optional[int] = ..., seen_m2: _Optional[float] = ...) -> None: ...

class CoverageReport(_message.Message):
    __slots__ = ("coverage_plan_id", "agency_id", "computed_at", "asked_m2", "allowed_m2", "seen_m2", "coverage_ratio", "allowed_coverage_ratio", "seen", "gaps", "gaps_m2", "flight_time_s", "detections", "legs_planned", "legs_flown", "missions")
    COVERAGE_PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    COMPUTED_AT_FIELD_NUMBER: _ClassVar[int]
    ASKED_M2_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_M2_FIELD_NUMBER: _ClassVar[int]
    SEEN_M2_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_RATIO_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_COVERAGE_RATIO_FIELD_NUMBER: _ClassVar[int]
    SEEN_FIELD_NUMBER: _ClassVar[int]
    GAPS_FIELD_NUMBER: _ClassVar[int]
    GAPS_M2_FIELD_NUMBER: _ClassVar[int]
    FLIGHT_TIME_S_FIELD_NUMBER: _ClassVar[int]
    DETECTIONS_FIELD_NUMBER: _ClassVar[int]
    LEGS_PLANNED_FIELD_NUMBER: _ClassVar[int]
    LEGS_FLOWN_FIELD_NUMBER: _ClassVar[int]
    MISSIONS_FIELD_NUMBER: _ClassVar[int]
    coverage_plan_id: str
    agency_id: str
    computed_at: _timestamp_pb2.Timestamp
    asked_m2: float
    allowed_m2: float
    seen_m2: float
    coverage_ratio: float
    allowed_coverage_ratio: float
    seen: _containers.RepeatedCompositeFieldContainer[AreaPolygon]
    gaps: _containers.RepeatedCompositeFieldContainer[AreaPolygon]
    gaps_m2: float
    flight_time_s: float
    detections: int
    legs_planned: int
    legs_flown: int
    missions: _containers.RepeatedCompositeFieldContainer[MissionCoverage]
    def __init__(self, coverage_plan_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., computed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., asked_m2: _Optional[float] = ..., allowed_m2: _Optional[float] = ..., seen_m2: _Optional[float] = ..., coverage_ratio: _Optional[float] = ..., allowed_coverage_ratio: _Optional[float] = ..., seen: _Optional[_Iterable[_Union[AreaPolygon, _Mapping]]] = ..., gaps: _Optional[_Iterable[_Union[AreaPolygon, _Mapping]]] = ..., gaps_m2: _Optional[float] = ..., flight_time_s: _Optional[float] = ..., detections: _Optional[int] = ..., legs_planned: _Optional[int] = ..., legs_flown: _Optional[int] = ..., missions: _Optional[_Iterable[_Union[MissionCoverage, _Mapping]]] = ...) -> None: ...

class GetCoverageReportResponse(_message.Message):
    __slots__ = ("report",)
    REPORT_FIELD_NUMBER: _ClassVar[int]
    report: CoverageReport
    def __init__(self, report: _Optional[_Union[CoverageReport, _Mapping]] = ...) -> None: ...

class GetFlightStatisticsRequest(_message.Message):
    __slots__ = ("agency_id", "since", "until", "time_zone")
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    agency_id: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    time_zone: str
    def __init__(self, agency_id: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., time_zone: _Optional[str] = ...) -> None: ...

class FlightFigures(_message.Message):
    __slots__ = ("month", "drone_id", "flight_hours", "missions", "completed", "aborted", "alert_missions")
    MONTH_FIELD_NUMBER: _ClassVar[int]
    DRONE_ID_FIELD_NUMBER: _ClassVar[int]
    FLIGHT_HOURS_FIELD_NUMBER: _ClassVar[int]
    MISSIONS_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    ABORTED_FIELD_NUMBER: _ClassVar[int]
    ALERT_MISSIONS_FIELD_NUMBER: _ClassVar[int]
    month: str
    drone_id: str
    flight_hours: float
    missions: int
    completed: int
    aborted: int
    alert_missions: int
    def __init__(self, month: _Optional[str] = ..., drone_id: _Optional[str] = ..., flight_hours: _Optional[float] = ..., missions: _Optional[int] = ..., completed: _Optional[int] = ..., aborted: _Optional[int] = ..., alert_missions: _Optional[int] = ...) -> None: ...

class GetFlightStatisticsResponse(_message.Message):
    __slots__ = ("figures",)
    FIGURES_FIELD_NUMBER: _ClassVar[int]
    figures: _containers.RepeatedCompositeFieldContainer[FlightFigures]
    def __init__(self, figures: _Optional[_Iterable[_Union[FlightFigures, _Mapping]]] = ...) -> None: ...

class PermittedTrack(_message.Message):
    __slots__ = ("points", "buffer_m", "name")
    POINTS_FIELD_NUMBER: _ClassVar[int]
    BUFFER_M_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[_common_pb2.GeoPoint]
    buffer_m: float
    name: str
    def __init__(self, points: _Optional[_Iterable[_Union[_common_pb2.GeoPoint, _Mapping]]] = ..., buffer_m: _Optional[float] = ..., name: _Optional[str] = ...) -> None: ...

class ProtectedArea(_message.Message):
    __slots__ = ("area_id", "agency_id", "name", "kind", "outline", "holes", "time_zone", "night_start", "night_end", "tracks", "stopped_minutes", "stopped_radius_m", "area_m2", "created_at", "updated_at", "updated_by")
    AREA_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OUTLINE_FIELD_NUMBER: _ClassVar[int]
    HOLES_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    NIGHT_START_FIELD_NUMBER: _ClassVar[int]
    NIGHT_END_FIELD_NUMBER: _ClassVar[int]
    TRACKS_FIELD_NUMBER: _ClassVar[int]
    STOPPED_MINUTES_FIELD_NUMBER: _ClassVar[int]
    STOPPED_RADIUS_M_FIELD_NUMBER: _ClassVar[int]
    AREA_M2_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    area_id: str
    agency_id: str
    name: str
    kind: ProtectedAreaKind
    outline: _containers.RepeatedCompositeFieldContainer[_common_pb2.GeoPoint]
    holes: _containers.RepeatedCompositeFieldContainer[GeoRing]
    time_zone: str
    night_start: str
    night_end: str
    tracks: _containers.RepeatedCompositeFieldContainer[PermittedTrack]
    stopped_minutes: float
    stopped_radius_m: float
    area_m2: float
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    updated_by: str
    def __init__(self, area_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[_Union[ProtectedAreaKind, str, int]] = ..., outline: _Optional[_Iterable[_Union[_common_pb2.GeoPoint, _Mapping]]] = ..., holes: _Optional[_Iterable[_Union[GeoRing, _Mapping]]] = ..., time_zone: _Optional[str] = ..., night_start: _Optional[str] = ..., night_end: _Optional[str] = ..., tracks: _Optional[_Iterable[_Union[PermittedTrack, _Mapping]]] = ..., stopped_minutes: _Optional[float] = ..., stopped_radius_m: _Optional[float] = ..., area_m2: _Optional[float] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_by: _Optional[str] = ...) -> None: ...

class CreateProtectedAreaRequest(_message.Message):
    __slots__ = ("area",)
    AREA_FIELD_NUMBER: _ClassVar[int]
    area: ProtectedArea
    def __init__(self, area: _Optional[_Union[ProtectedArea, _Mapping]] = ...) -> None: ...

class CreateProtectedAreaResponse(_message.Message):
    __slots__ = ("area",)
    AREA_FIELD_NUMBER: _ClassVar[int]
    area: ProtectedArea
    def __init__(self, area: _Optional[_Union[ProtectedArea, _Mapping]] = ...) -> None: ...

class UpdateProtectedAreaRequest(_message.Message):
    __slots__ = ("area",)
    AREA_FIELD_NUMBER: _ClassVar[int]
    area: ProtectedArea
    def __init__(self, area: _Optional[_Union[ProtectedArea, _Mapping]] = ...) -> None: ...

class UpdateProtectedAreaResponse(_message.Message):
    __slots__ = ("area",)
    AREA_FIELD_NUMBER: _ClassVar[int]
    area: ProtectedArea
    def __init__(self, area: _Optional[_Union[ProtectedArea, _Mapping]] = ...) -> None: ...

class GetProtectedAreaRequest(_message.Message):
    __slots__ = ("area_id",)
    AREA_ID_FIELD_NUMBER: _ClassVar[int]
    area_id: str
    def __init__(self, area_id: _Optional[str] = ...) -> None: ...

class GetProtectedAreaResponse(_message.Message):
    __slots__ = ("area",)
    AREA_FIELD_NUMBER: _ClassVar[int]
    area: ProtectedArea
    def __init__(self, area: _Optional[_Union[ProtectedArea, _Mapping]] = ...) -> None: ...

class ListProtectedAreasRequest(_message.Message):
    __slots__ = ("agency_id",)
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    agency_id: str
    def __init__(self, agency_id: _Optional[str] = ...) -> None: ...

class ListProtectedAreasResponse(_message.Message):
    __slots__ = ("areas",)
    AREAS_FIELD_NUMBER: _ClassVar[int]
    areas: _containers.RepeatedCompositeFieldContainer[ProtectedArea]
    def __init__(self, areas: _Optional[_Iterable[_Union[ProtectedArea, _Mapping]]] = ...) -> None: ...

class DeleteProtectedAreaRequest(_message.Message):
    __slots__ = ("area_id",)
    AREA_ID_FIELD_NUMBER: _ClassVar[int]
    area_id: str
    def __init__(self, area_id: _Optional[str] = ...) -> None: ...

class DeleteProtectedAreaResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Detection(_message.Message):
    __slots__ = ("box", "object_class", "score", "track_id")
    BOX_FIELD_NUMBER: _ClassVar[int]
    OBJECT_CLASS_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    box: _common_pb2.Box
    object_class: ObjectClass
    score: float
    track_id: int
    def __init__(self, box: _Optional[_Union[_common_pb2.Box, _Mapping]] = ..., object_class: _Optional[_Union[ObjectClass, str, int]] = ..., score: _Optional[float] = ..., track_id: _Optional[int] = ...) -> None: ...

class ReportDetectionsRequest(_message.Message):
    __slots__ = ("drone_id", "frame_time", "frame_width", "frame_height", "detections", "frame", "camera_id")
    DRONE_ID_FIELD_NUMBER: _ClassVar[int]
    FRAME_TIME_FIELD_NUMBER: _ClassVar[int]
    FRAME_WIDTH_FIELD_NUMBER: _ClassVar[int]
    FRAME_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    DETECTIONS_FIELD_NUMBER: _ClassVar[int]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    drone_id: str
    frame_time: _timestamp_pb2.Timestamp
    frame_width: int
    frame_height: int
    detections: _containers.RepeatedCompositeFieldContainer[Detection]
    frame: _common_pb2.ObjectRef
    camera_id: str
    def __init__(self, drone_id: _Optional[str] = ..., frame_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., frame_width: _Optional[int] = ..., frame_height: _Optional[int] = ..., detections: _Optional[_Iterable[_Union[Detection, _Mapping]]] = ..., frame: _Optional[_Union[_common_pb2.ObjectRef, _Mapping]] = ..., camera_id: _Optional[str] = ...) -> None: ...

class PlacedDetection(_message.Message):
    __slots__ = ("index", "location", "range_m", "area_ids", "alerts")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    RANGE_M_FIELD_NUMBER: _ClassVar[int]
    AREA_IDS_FIELD_NUMBER: _ClassVar[int]
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    index: int
    location: _common_pb2.GeoPoint
    range_m: float
    area_ids: _containers.RepeatedScalarFieldContainer[str]
    alerts: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, index: _Optional[int] = ..., location: _Optional[_Union[_common_pb2.GeoPoint, _Mapping]] = ..., range_m: _Optional[float] = ..., area_ids: _Optional[_Iterable[str]] = ..., alerts: _Optional[_Iterable[str]] = ...) -> None: ...

class ReportDetectionsResponse(_message.Message):
    __slots__ = ("placed",)
    PLACED_FIELD_NUMBER: _ClassVar[int]
    placed: _containers.RepeatedCompositeFieldContainer[PlacedDetection]
    def __init__(self, placed: _Optional[_Iterable[_Union[PlacedDetection, _Mapping]]] = ...) -> None: ...

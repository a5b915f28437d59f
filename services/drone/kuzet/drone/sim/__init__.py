"""A MAVLink 2 multicopter simulator that behaves like ArduCopter, for tests and benchmarks.

See vehicle.py for what it implements and how closely it follows ArduPilot.
"""

from kuzet.drone.sim.host import SimHost
from kuzet.drone.sim.vehicle import DropRule, SimVehicle, VehicleConfig

__all__ = ["DropRule", "SimHost", "SimVehicle", "VehicleConfig"]

"""The service's side of MAVLink 2: transports, one link per drone, the mission protocol."""

"""Coverage planning of a protected area: validate it, sweep it with several drones, measure what was seen.

``area`` (the area in metres, holes and no-fly zones subtracted) -> ``footprint`` (line spacing from
the camera) -> ``split`` (strips per drone, ``sweep`` lines joined by ``transit`` paths, cut into
``legs`` that fit a battery, each checked) -> ``coverage`` (the ground seen by the legs).
"""

"""Counts per interval from the per-minute rows, and a camera's speed distribution."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import numpy as np

from kuzet.common.timeutil import to_timestamp
from kuzet.traffic.store import CountRow
from kuzet.traffic.v1 import traffic_pb2

DEFAULT_BIN_KMH = 10.0


def lane_counts(rows: Sequence[CountRow], lanes: Mapping[str, str]) -> list[traffic_pb2.LaneCount]:
    """One LaneCount per line and interval, in time order, then by line id."""
    sums: dict[tuple[int, str], list[float]] = defaultdict(lambda: [0, 0.0, 0])
    classes: dict[tuple[int, str], dict[str, int]] = defaultdict(dict)
    for r in rows:
        key = (r.interval_s, r.line_id)
        total = sums[key]
        total[0] += r.vehicles
        total[1] += r.speed_sum
        total[2] += r.measured
        classes[key][r.vehicle_class] = classes[key].get(r.vehicle_class, 0) + r.vehicles
    return [
        traffic_pb2.LaneCount(
            line_id=line_id,
            lane=lanes.get(line_id, ""),
            interval_start=to_timestamp(datetime.fromtimestamp(start, UTC)),
            vehicles=int(vehicles),
            mean_speed_kmh=speed_sum / measured if measured else 0.0,
            by_class=classes[(start, line_id)],
        )
        for (start, line_id), (vehicles, speed_sum, measured) in sorted(sums.items())
    ]


def speed_distribution(
    speeds: Sequence[tuple[float, bool]], bin_kmh: float
) -> traffic_pb2.GetSpeedDistributionResponse:
    """Bins from 0 up to the fastest vehicle, the median and the 85th percentile (the speed a road
    is designed and signed by)."""
    response = traffic_pb2.GetSpeedDistributionResponse(bin_kmh=bin_kmh, measured=len(speeds))
    response.speeding = sum(1 for _, flagged in speeds if flagged)
    if not speeds:
        return response
    values = np.array([v for v, _ in speeds], dtype=np.float64)
    response.median_kmh = float(np.percentile(values, 50))
    response.p85_kmh = float(np.percentile(values, 85))
    bins = np.floor(values / bin_kmh).astype(np.int64)
    counts = np.bincount(bins)
    response.bins.extend(
        traffic_pb2.SpeedBin(low_kmh=i * bin_kmh, vehicles=int(n)) for i, n in enumerate(counts) if n
    )
    return response

"""Observations from ingest over real gRPC: idempotent batches, counts per interval, speeding,
plates normalised again."""

from __future__ import annotations

import grpc
import pytest

from kuzet.traffic.v1 import traffic_pb2

from .conftest import CAMERA, INGEST, OPERATOR, OTHER_OPERATOR, Traffic, minute, observation, to_timestamp
from .test_cameras import refused


async def record(
    traffic: Traffic, observations: list[traffic_pb2.VehicleObservation]
) -> traffic_pb2.RecordObservationsResponse:
    request = traffic_pb2.RecordObservationsRequest(observations=observations)
    return await traffic.stub(INGEST).RecordObservations(request)


async def counts(
    traffic: Traffic, interval_s: int, since_h: int = 8, until_h: int = 9
) -> list[traffic_pb2.LaneCount]:
    response = await traffic.stub(OPERATOR).GetCounts(
        traffic_pb2.GetCountsRequest(
            camera_id=CAMERA,
            since=to_timestamp(minute(since_h, 0)),
            until=to_timestamp(minute(until_h, 0)),
            interval_s=interval_s,
        )
    )
    return list(response.counts)


def traffic_of_an_hour() -> list[traffic_pb2.VehicleObservation]:
    """Minute 8:00 to 8:29, one car a minute in lane 1 at 50 km/h, a truck every tenth minute in
    lane 2 at 40 km/h (its speed not measured every time)."""
    batch = []
    for m in range(30):
        batch.append(observation(m, minute(8, m, 10), line="L1", speed=50.0))
        if m % 10 == 0:
            batch.append(observation(100 + m, minute(8, m, 20), line="L2", vehicle_class="truck", speed=40.0))
            batch.append(observation(200 + m, minute(8, m, 30), line="L2", vehicle_class="truck"))
    return batch


async def test_a_retried_batch_counts_nothing_twice(traffic: Traffic) -> None:
    batch = traffic_of_an_hour()
    first = await record(traffic, batch)
    assert (first.recorded, first.duplicates) == (36, 0)
    # The whole batch again, and a batch half old half new: only the new are recorded.
    again = await record(traffic, batch)
    assert (again.recorded, again.duplicates) == (0, 36)
    mixed = await record(traffic, [batch[0], observation(99, minute(8, 45), line="L1"), batch[0]])
    assert (mixed.recorded, mixed.duplicates) == (1, 2)
    per_minute = await counts(traffic, 60)
    assert sum(c.vehicles for c in per_minute) == 37
    assert len([c for c in per_minute if c.line_id == "L1"]) == 31


async def test_counts_per_minute_and_per_quarter_hour(traffic: Traffic) -> None:
    await record(traffic, traffic_of_an_hour())
    per_minute = await counts(traffic, 60)
    first = [c for c in per_minute if c.interval_start.ToDatetime().minute == 0]
    assert [(c.line_id, c.lane, c.vehicles, dict(c.by_class)) for c in first] == [
        ("L1", "1", 1, {"car": 1}),
        ("L2", "2", 2, {"truck": 2}),
    ]
    assert first[0].mean_speed_kmh == pytest.approx(50.0)
    # The mean is over the measured trucks only.
    assert first[1].mean_speed_kmh == pytest.approx(40.0)
    quarters = await counts(traffic, 900)
    assert [(c.interval_start.ToDatetime().minute, c.line_id, c.vehicles) for c in quarters] == [
        (0, "L1", 15),
        (0, "L2", 4),
        (15, "L1", 15),
        (15, "L2", 2),
    ]
    assert dict(quarters[1].by_class) == {"truck": 4}
    # A range in the middle of a quarter starts at the quarter.
    assert sum(c.vehicles for c in await counts(traffic, 3600)) == 36


async def test_unknown_camera_or_line_is_refused_and_nothing_is_recorded(traffic: Traffic) -> None:
    good = observation(1, minute(8, 0))
    details = await refused(record(traffic, [good, observation(2, minute(8, 0), line="L9")]))
    assert "unknown counting line 'L9'" in details and "observations[1]" in details
    details = await refused(record(traffic, [observation(3, minute(8, 0), camera_id="cam-nowhere")]))
    assert "unknown traffic camera 'cam-nowhere'" in details
    bad_class = observation(4, minute(8, 0), vehicle_class="tank")
    assert "vehicle class 'tank'" in await refused(record(traffic, [bad_class]))
    assert await counts(traffic, 60) == []


async def test_counts_bad_interval_and_another_agency(traffic: Traffic) -> None:
    stub = traffic.stub(OPERATOR)
    for interval in (90, 7 * 86400):
        await refused(stub.GetCounts(traffic_pb2.GetCountsRequest(camera_id=CAMERA, interval_s=interval)))
    await refused(
        traffic.stub(OTHER_OPERATOR).GetCounts(traffic_pb2.GetCountsRequest(camera_id=CAMERA)),
        grpc.StatusCode.NOT_FOUND,
    )


async def test_speeding_is_flagged_beyond_doubt_and_distributed(traffic: Traffic) -> None:
    # Limit 60 km/h, threshold 63: 70 +- 1 is speeding, 64 +- 1 is not (64 - 2 sigma < 63).
    batch = [
        observation(1, minute(8, 0, 1), speed=70.0),
        observation(2, minute(8, 0, 2), speed=64.0),
        observation(3, minute(8, 0, 3), speed=55.0),
        observation(4, minute(8, 0, 4), speed=45.0),
        observation(5, minute(8, 0, 5)),
    ]
    response = await record(traffic, batch)
    assert response.speeding == 1
    found = await traffic.stub(OPERATOR).GetSpeedDistribution(
        traffic_pb2.GetSpeedDistributionRequest(
            camera_id=CAMERA, since=to_timestamp(minute(7, 0)), until=to_timestamp(minute(9, 0))
        )
    )
    assert (found.measured, found.speeding, found.bin_kmh) == (4, 1, 10.0)
    assert [(b.low_kmh, b.vehicles) for b in found.bins] == [(40.0, 1), (50.0, 1), (60.0, 1), (70.0, 1)]
    assert found.median_kmh == pytest.approx(59.5)
    assert found.p85_kmh == pytest.approx(67.3)  # linear between 64 and 70


async def test_plates_are_normalised_again_and_unreadable_ones_kept_raw(traffic: Traffic) -> None:
    await record(
        traffic,
        [
            observation(1, minute(8, 0, 1), plate="123 авс 02"),  # Cyrillic look-alikes, spaces
            observation(2, minute(8, 0, 2), plate="###"),
        ],
    )
    found = await traffic.stub(OPERATOR).SearchPlates(
        traffic_pb2.SearchPlatesRequest(plate="123ABC02", purpose="case 4471")
    )
    assert [(o.plate, o.plate_raw, o.plate_format, o.agency_id, o.lane) for o in found.observations] == [
        ("123ABC02", "123 авс 02", "2012", "police", "1")
    ]

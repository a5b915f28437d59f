"""Two replicas on one database: the same batch sent to both at once is recorded once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kuzet.traffic.v1 import traffic_pb2

from .conftest import ADMIN, INGEST, camera, minute, observation, start_traffic
from .test_observations import counts


async def test_a_batch_sent_to_two_replicas_at_once_counts_once(db_url: str, tmp_path: Path) -> None:
    first = await start_traffic(db_url, tmp_path / "a")
    second = await start_traffic(db_url, tmp_path / "b")
    try:
        await first.stub(ADMIN).ConfigureCamera(traffic_pb2.ConfigureCameraRequest(camera=camera()))
        batch = traffic_pb2.RecordObservationsRequest(
            observations=[
                observation(n, minute(8, n % 60, n / 100), line=("L1", "L2")[n % 2]) for n in range(200)
            ]
        )
        answers = await asyncio.gather(
            *(replica.stub(INGEST).RecordObservations(batch) for replica in (first, second, first, second))
        )
        assert sum(a.recorded for a in answers) == 200
        assert sum(a.duplicates for a in answers) == 600
        for replica in (first, second):
            assert sum(c.vehicles for c in await counts(replica, 60)) == 200
    finally:
        await first.close()
        await second.close()

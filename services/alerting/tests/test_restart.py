"""Durability: kill -9 the real service process during a publish burst and restart it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from sqlalchemy import create_engine, text

from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.alerting.v1 import alerting_pb2_grpc
from kuzet.common.db import normalise_url
from kuzet.common.grpcclient import open_channel
from kuzet.common.tls import secure_channel

from .conftest import SERVICE, camera_event, md


def start_service(db_url: str, port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KUZET_ALERTING_DATABASE_URL": db_url,
        "KUZET_ALERTING_PORT": str(port),
        "KUZET_DATA_DIR": str(data_dir),
        "KUZET_ALERTING_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "kuzet.alerting"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(data_dir / "alerting.log", "ab"),
    )


async def wait_ready(address: str, timeout_s: float = 30.0) -> None:
    async with secure_channel(address) as channel:
        await asyncio.wait_for(channel.channel_ready(), timeout_s)


@pytest.mark.slow
async def test_kill_9_during_burst_loses_no_acknowledged_publish(
    db_url: str, tmp_path: Path, free_port: int
) -> None:
    address = f"127.0.0.1:{free_port}"
    proc = start_service(db_url, free_port, tmp_path)
    acked: dict[str, str] = {}
    try:
        await wait_ready(address)
        channel = open_channel(address, audience="alerting")
        stub = alerting_pb2_grpc.AlertingServiceStub(channel)
        stop = asyncio.Event()

        async def publisher(n: int) -> None:
            i = 0
            while not stop.is_set():
                # A mix of new alerts and folds into existing ones.
                event = camera_event(subject=f"p{n}-{i % 5}", camera=f"cam-{n}")
                i += 1
                try:
                    r = await stub.Publish(pb.PublishRequest(event=event), metadata=md(SERVICE), timeout=5)
                except grpc.aio.AioRpcError:
                    return
                acked[event.event_id] = r.alert_id

        tasks = [asyncio.create_task(publisher(n)) for n in range(8)]
        while len(acked) < 300:  # noqa: ASYNC110 - polling a plain dict filled by the publishers
            await asyncio.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        stop.set()
        await asyncio.gather(*tasks)
        await channel.close()
    finally:
        if proc.poll() is None:
            proc.kill()
    proc = start_service(db_url, free_port, tmp_path)
    try:
        await wait_ready(address)
        engine = create_engine(normalise_url(db_url))
        with engine.connect() as conn:
            stored: dict[str, str] = {
                r[0]: r[1] for r in conn.execute(text("SELECT event_id, alert_id FROM published_events"))
            }
            total = conn.execute(text("SELECT COALESCE(SUM(count), 0) FROM alerts")).scalar()
        engine.dispose()
        missing = [e for e in acked if e not in stored]
        assert not missing, f"{len(missing)} acknowledged publishes lost"
        assert all(stored[e] == a for e, a in acked.items())
        # Every stored event counted exactly once in some alert: nothing duplicated.
        folded = [e for e, a in stored.items() if a]
        assert total == len(folded)
        # A producer retrying after the crash gets the same alert, not a new one.
        async with open_channel(address, audience="alerting") as channel:
            stub = alerting_pb2_grpc.AlertingServiceStub(channel)
            some = next(iter(acked))
            event = camera_event()
            event.event_id = some
            r = await stub.Publish(pb.PublishRequest(event=event), metadata=md(SERVICE))
            assert r.disposition == pb.PUBLISH_DISPOSITION_DUPLICATE and r.alert_id == acked[some]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)

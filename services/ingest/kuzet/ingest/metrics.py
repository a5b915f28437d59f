"""Per-camera health as OpenTelemetry metrics (exported over OTLP like every Kuzet metric)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from kuzet.ingest.pipeline import CameraPipeline

_COUNTERS = {
    "kuzet.ingest.frames_decoded": ("frames", lambda p: p.source.stats.frames_decoded),
    "kuzet.ingest.frames_sampled": ("frames", lambda p: p.source.stats.frames_sampled),
    "kuzet.ingest.frames_motion_skipped": ("frames", lambda p: p.stats.frames_motion_skipped),
    "kuzet.ingest.frames_inferred": ("frames", lambda p: p.stats.frames_inferred),
    "kuzet.ingest.frames_dropped": ("frames", lambda p: p.frames_dropped),
    "kuzet.ingest.decode_errors": ("errors", lambda p: p.source.stats.decode_errors),
    "kuzet.ingest.reconnects": ("reconnects", lambda p: p.source.stats.reconnects),
    "kuzet.ingest.events_published": ("events", lambda p: p.stats.events_published),
}
_GAUGES = {
    "kuzet.ingest.connected": ("1", lambda p: 1 if p.source.stats.connected else 0),
    "kuzet.ingest.fps_in": ("frames/s", lambda p: p.source.stats.fps_in),
    "kuzet.ingest.fps_out": ("frames/s", lambda p: p.source.stats.fps_out),
    "kuzet.ingest.faults": ("faults", lambda p: len(p.stats.faults)),
    # Coverage under overload: seconds between analysed frames, and 1 while below the minimum rate.
    "kuzet.ingest.analysed_every_s": ("s", lambda p: p.rate.every(time.time())),
    "kuzet.ingest.degraded": ("1", lambda p: 1 if p.rate.degraded else 0),
}


def register(pipelines: Callable[[], Iterable[CameraPipeline]]) -> None:
    """Observable instruments read at each export from the running pipelines."""
    meter = metrics.get_meter("kuzet.ingest")

    def callback(
        read: Callable[[CameraPipeline], float],
    ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(_options: CallbackOptions) -> Iterable[Observation]:
            return [Observation(read(p), {"camera": p.cfg.id, "agency": p.cfg.agency}) for p in pipelines()]

        return observe

    for name, (unit, read) in _COUNTERS.items():
        meter.create_observable_counter(name, [callback(read)], unit=unit)
    for name, (unit, read) in _GAUGES.items():
        meter.create_observable_gauge(name, [callback(read)], unit=unit)


def register_shard(replica_id: str, lease_held: Callable[[], bool]) -> None:
    """1 while this replica may run cameras, 0 while it cannot prove it owns them (ownership.py)."""
    meter = metrics.get_meter("kuzet.ingest")

    def observe(_options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(1 if lease_held() else 0, {"replica": replica_id})]

    meter.create_observable_gauge("kuzet.ingest.lease_held", [observe], unit="1")

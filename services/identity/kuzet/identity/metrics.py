"""This replica's copy of the galleries as OpenTelemetry metrics (exported over OTLP like every
Kuzet metric): how far behind the database it is, and whether it can read it."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from kuzet.common.k8s import pod_identity
from kuzet.identity.replication import ChangeFeed, ReplicationStatus

_GAUGES: dict[str, tuple[str, Callable[[ReplicationStatus], float]]] = {
    "kuzet.identity.replication_lag_s": ("s", lambda s: s.lag_s),
    "kuzet.identity.applied_seq": ("changes", lambda s: s.applied_seq),
    "kuzet.identity.database_ok": ("1", lambda s: 1 if s.database_ok else 0),
    "kuzet.identity.behind": ("1", lambda s: 0 if s.current else 1),
}


def register(feed: ChangeFeed, provider: metrics.MeterProvider | None = None) -> None:
    """Observable gauges read from the change feed at each export (the global provider, unless
    one is given)."""
    meter = metrics.get_meter("kuzet.identity", meter_provider=provider)
    replica = pod_identity()

    def callback(
        read: Callable[[ReplicationStatus], float],
    ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(_options: CallbackOptions) -> Iterable[Observation]:
            return [Observation(read(feed.status()), {"replica": replica})]

        return observe

    for name, (unit, read) in _GAUGES.items():
        meter.create_observable_gauge(name, [callback(read)], unit=unit)

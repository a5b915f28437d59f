"""Kubernetes-native coordination on coordination.k8s.io/v1 Leases.

Two primitives the services build on when they run in a cluster:

- :class:`LeaseMembership` — every replica of a component (e.g. the ingest shards) holds and renews
  its own Lease, labelled with the component; the live replica set is the set of unexpired Leases.
  ``async for members in membership.changes()`` yields that set whenever it changes, which is what a
  rendezvous-hash shard owner consumes.
- :class:`LeaseLock` / :class:`LeaderElector` — one holder at a time for a named Lease (one drone
  controller per drone or fleet), with renewal, release and takeover after expiry.

Expiry is judged the way client-go's leader election judges it: a Lease is live while its record
keeps changing, measured on *our* monotonic clock from the moment we saw it change, so a skewed
clock on another node cannot make a dead holder look alive (or a live one dead). A record whose own
timestamps say it expired long ago is treated as expired at once, so a fresh observer does not wait
a whole lease duration for replicas that died before it started.

Writes carry the resourceVersion they were based on; the API server answers 409 Conflict when
somebody else wrote in between, and we treat that as "lost this round", never as an error.

The ``kubernetes`` client is synchronous; calls run in a worker thread so the event loop stays free.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import urllib3.exceptions
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from kuzet.common.waiting import wait_set

log = logging.getLogger(__name__)

# What an unreachable or failing API server raises: a round lost, never a crashed task.
TRANSIENT_ERRORS = (ApiException, OSError, urllib3.exceptions.HTTPError)

COMPONENT_LABEL = "app.kubernetes.io/component"
ROLE_LABEL = "kuzet.io/lease-role"
MEMBER_ROLE = "member"
LOCK_ROLE = "lock"
# Lease names are DNS subdomains; holder identities are free text but we keep them to pod names.
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def _now_micro() -> str:
    # MicroTime must carry exactly six fractional digits; datetime.isoformat() drops them at .000000.
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _format_micro(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _as_any(body: dict[str, Any]) -> Any:
    # The client accepts plain dicts (serialised as-is); its stubs only name the model class.
    return body


def _check_name(kind: str, value: str) -> str:
    if not _NAME_RE.match(value):
        raise ValueError(f"{kind} {value!r} is not a valid Kubernetes name (lowercase DNS subdomain)")
    return value


def pod_identity() -> str:
    """This replica's identity: the pod name (downward API ``KUZET_POD_NAME`` or HOSTNAME)."""
    return os.environ.get("KUZET_POD_NAME") or os.environ.get("HOSTNAME") or "local"


def pod_namespace() -> str:
    """The namespace to keep Leases in: ``KUZET_POD_NAMESPACE``, the in-cluster one, or default."""
    explicit = os.environ.get("KUZET_POD_NAMESPACE")
    if explicit:
        return explicit
    path = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
    with contextlib.suppress(OSError), open(path, encoding="utf-8") as fh:
        return fh.read().strip()
    return "default"


def load_api_client(kubeconfig: str | None = None) -> k8s_client.ApiClient:
    """In-cluster credentials when running in a pod, otherwise a kubeconfig file."""
    if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        conf = k8s_client.Configuration()
        k8s_config.load_incluster_config(client_configuration=conf)
        return k8s_client.ApiClient(conf)
    return k8s_config.new_client_from_config(config_file=kubeconfig)


@dataclass
class _Observation:
    """When we last saw a Lease record change, on our own monotonic clock."""

    resource_version: str
    seen_at: float
    duration_s: float


@dataclass(frozen=True)
class LeaseRecord:
    """The parts of a Lease the primitives reason about."""

    name: str
    holder: str
    duration_s: float
    resource_version: str
    renew_time: datetime | None
    acquire_time: datetime | None
    transitions: int
    labels: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_api(cls, lease: Any) -> LeaseRecord:
        spec = lease.spec
        renew = _utc(spec.renew_time if spec is not None else None)
        return cls(
            name=lease.metadata.name,
            holder=(spec.holder_identity or "") if spec is not None else "",
            duration_s=float((spec.lease_duration_seconds or 0) if spec is not None else 0),
            resource_version=lease.metadata.resource_version or "",
            renew_time=renew,
            acquire_time=_utc(spec.acquire_time if spec is not None else None),
            transitions=int((spec.lease_transitions or 0) if spec is not None else 0),
            labels=dict(lease.metadata.labels or {}),
        )

    def stale_by_wall_clock(self, margin_s: float) -> bool:
        """True when the record's own timestamp says it expired more than ``margin_s`` ago."""
        if self.renew_time is None:
            return True
        age = (datetime.now(UTC) - self.renew_time).total_seconds()
        return age > self.duration_s + margin_s


class _ExpiryTracker:
    """Decides liveness from observed changes (client-go style), see module docstring."""

    def __init__(self, skew_margin_s: float) -> None:
        self._seen: dict[str, _Observation] = {}
        self._margin = skew_margin_s

    def observe(self, record: LeaseRecord) -> None:
        prev = self._seen.get(record.name)
        if prev is not None and prev.resource_version == record.resource_version:
            return
        if prev is None and record.stale_by_wall_clock(self._margin):
            # First sight of a record that by its own clock died long ago: expired immediately.
            seen_at = time.monotonic() - record.duration_s - 1.0
        else:
            seen_at = time.monotonic()
        self._seen[record.name] = _Observation(record.resource_version, seen_at, record.duration_s)

    def expired(self, name: str) -> bool:
        obs = self._seen.get(name)
        return obs is None or time.monotonic() > obs.seen_at + obs.duration_s

    def remaining_s(self, name: str) -> float:
        obs = self._seen.get(name)
        return 0.0 if obs is None else max(0.0, obs.seen_at + obs.duration_s - time.monotonic())

    def forget(self, keep: set[str]) -> None:
        for name in list(self._seen):
            if name not in keep:
                del self._seen[name]


class LeaseStore(Protocol):
    """Where Lease records live: the API server here, a database table in kuzet.common.dblease.

    ``create``/``replace`` answer None when somebody else wrote first (the record's version moved
    on), which the primitives treat as "lost this round"; an unreachable store raises.
    """

    namespace: str

    async def get(self, name: str) -> LeaseRecord | None: ...

    async def list(self, selector: str) -> list[LeaseRecord]: ...

    async def create(self, body: dict[str, Any]) -> LeaseRecord | None: ...

    async def replace(self, name: str, body: dict[str, Any]) -> LeaseRecord | None: ...

    async def delete(self, name: str, resource_version: str | None = None) -> bool: ...


class _LeaseApi:
    """Thin async wrapper over CoordinationV1Api that speaks plain dict bodies.

    Dict bodies let us send MicroTime strings with the exact format the API server expects.
    """

    def __init__(self, api_client: k8s_client.ApiClient, namespace: str, timeout_s: float = 5.0) -> None:
        self._api = k8s_client.CoordinationV1Api(api_client)
        self.namespace = namespace
        # Without a timeout a black-holed API server would stall a renewal past its deadline.
        self._timeout = timeout_s

    async def get(self, name: str) -> LeaseRecord | None:
        try:
            lease = await asyncio.to_thread(
                self._api.read_namespaced_lease, name, self.namespace, _request_timeout=self._timeout
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return LeaseRecord.from_api(lease)

    async def list(self, selector: str) -> list[LeaseRecord]:
        result = await asyncio.to_thread(
            self._api.list_namespaced_lease,
            self.namespace,
            label_selector=selector,
            _request_timeout=self._timeout,
        )
        return [LeaseRecord.from_api(item) for item in result.items]

    async def create(self, body: dict[str, Any]) -> LeaseRecord | None:
        """Create; None when the name is taken (409)."""
        try:
            lease = await asyncio.to_thread(
                self._api.create_namespaced_lease,
                self.namespace,
                _as_any(body),
                _request_timeout=self._timeout,
            )
        except ApiException as exc:
            if exc.status == 409:
                return None
            raise
        return LeaseRecord.from_api(lease)

    async def replace(self, name: str, body: dict[str, Any]) -> LeaseRecord | None:
        """Replace guarded by body.metadata.resourceVersion; None on 409 (someone wrote first)."""
        try:
            lease = await asyncio.to_thread(
                self._api.replace_namespaced_lease,
                name,
                self.namespace,
                _as_any(body),
                _request_timeout=self._timeout,
            )
        except ApiException as exc:
            if exc.status in (404, 409):
                return None
            raise
        return LeaseRecord.from_api(lease)

    async def delete(self, name: str, resource_version: str | None = None) -> bool:
        preconditions = (
            k8s_client.V1Preconditions(resource_version=resource_version) if resource_version else None
        )
        body = k8s_client.V1DeleteOptions(preconditions=preconditions)
        try:
            await asyncio.to_thread(
                self._api.delete_namespaced_lease,
                name,
                self.namespace,
                body=body,
                _request_timeout=self._timeout,
            )
        except ApiException as exc:
            if exc.status in (404, 409):
                return False
            raise
        return True


def _lease_body(
    name: str,
    *,
    holder: str,
    duration_s: float,
    labels: Mapping[str, str],
    resource_version: str | None = None,
    acquire_time: str | None = None,
    transitions: int = 0,
) -> dict[str, Any]:
    now = _now_micro()
    metadata: dict[str, Any] = {"name": name, "labels": dict(labels)}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": max(1, round(duration_s)),
            "acquireTime": acquire_time or now,
            "renewTime": now,
            "leaseTransitions": transitions,
        },
    }


def _term_s(asked_s: float, written: LeaseRecord) -> float:
    """How long a holder may count its Lease its own: what the others will honour, i.e. the
    duration the stored record says (whole seconds: 2.5 s asked is stored as 2), if shorter."""
    return min(asked_s, written.duration_s) if written.duration_s > 0 else asked_s


class LeaseMembership:
    """Membership of one component's replicas through one Lease per replica.

    Use as an async context manager: it joins (creates or takes over its Lease), renews it in the
    background, and deletes it on exit so the others see the departure at once rather than after
    expiry. ``changes()`` yields the sorted tuple of live replica ids on start and on every change.
    """

    def __init__(
        self,
        api_client: k8s_client.ApiClient,
        *,
        component: str,
        identity: str | None = None,
        namespace: str | None = None,
        lease_duration_s: float = 15.0,
        renew_interval_s: float | None = None,
        skew_margin_s: float = 2.0,
        name_prefix: str = "kuzet",
    ) -> None:
        if lease_duration_s < 1:
            raise ValueError("lease_duration_s must be at least 1 second (Lease granularity)")
        self.component = _check_name("component", component)
        self.identity = _check_name("identity", identity or pod_identity())
        self._api = self._open_store(api_client, namespace, min(5.0, max(0.5, lease_duration_s / 3)))
        self.lease_duration_s = lease_duration_s
        self.renew_interval_s = renew_interval_s or lease_duration_s / 3
        if self.renew_interval_s >= lease_duration_s:
            raise ValueError("renew_interval_s must be shorter than lease_duration_s")
        self.lease_name = _check_name("lease name", f"{name_prefix}-{component}-{self.identity}")
        self._labels = {COMPONENT_LABEL: component, ROLE_LABEL: MEMBER_ROLE}
        self._selector = ",".join(f"{k}={v}" for k, v in self._labels.items())
        self._tracker = _ExpiryTracker(skew_margin_s)
        self._record: LeaseRecord | None = None
        self._renewer: asyncio.Task[None] | None = None
        self._healthy = asyncio.Event()
        self._valid_until = 0.0

    def _open_store(self, api_client: Any, namespace: str | None, timeout_s: float) -> LeaseStore:
        # Overridden by kuzet.common.dblease, which keeps the same records in a database table.
        return _LeaseApi(api_client, namespace or pod_namespace(), timeout_s=timeout_s)

    @property
    def namespace(self) -> str:
        return self._api.namespace

    @property
    def holding(self) -> bool:
        """Whether our own Lease was renewed within its duration (False after a failed renewal)."""
        return self.holding_for_s > 0

    @property
    def holding_for_s(self) -> float:
        """How long our Lease stays ours on our clock if no renewal succeeds (0 when not holding).

        Counted from before the last successful write went out, so no other replica can judge the
        Lease expired before this reaches 0 (they count from when they saw that write).
        """
        if not self._healthy.is_set():
            return 0.0
        return max(0.0, self._valid_until - time.monotonic())

    def _fresh_body(self) -> dict[str, Any]:
        return _lease_body(
            self.lease_name, holder=self.identity, duration_s=self.lease_duration_s, labels=self._labels
        )

    async def read_own(self) -> LeaseRecord | None:
        """Our Lease as stored now (None when absent): what a previous incarnation left behind."""
        return await self._api.get(self.lease_name)

    async def join(self) -> None:
        """Create our Lease, or take it back (same pod name after a restart)."""
        started = time.monotonic()
        record = await self._api.create(self._fresh_body())
        if record is None:
            record = await self._renew_once()
        if record is None:
            raise RuntimeError(f"could not create or renew lease {self.lease_name}")
        self._record = record
        self._valid_until = started + _term_s(self.lease_duration_s, record)
        self._healthy.set()

    async def _renew_once(self) -> LeaseRecord | None:
        # A fresh read each time: the only other writer of our Lease is a previous incarnation of
        # this pod, so a conflict just means "read again", never a contest.
        for _ in range(3):
            current = await self._api.get(self.lease_name)
            if current is None:
                created = await self._api.create(self._fresh_body())
                if created is not None:
                    return created
                continue
            body = _lease_body(
                self.lease_name,
                holder=self.identity,
                duration_s=self.lease_duration_s,
                labels=self._labels,
                resource_version=current.resource_version,
                transitions=current.transitions,
            )
            replaced = await self._api.replace(self.lease_name, body)
            if replaced is not None:
                return replaced
        return None

    async def renew(self) -> bool:
        started = time.monotonic()
        try:
            record = await self._renew_once()
        except TRANSIENT_ERRORS as exc:
            log.warning("renewing membership lease %s failed: %s", self.lease_name, exc)
            record = None
        if record is None:
            self._healthy.clear()
            return False
        self._record = record
        self._valid_until = started + _term_s(self.lease_duration_s, record)
        self._healthy.set()
        return True

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self.renew_interval_s)
            await self.renew()

    async def leave(self) -> None:
        """Delete our Lease so the others rebalance now (not after expiry)."""
        self._healthy.clear()
        await self._api.delete(self.lease_name)

    async def live_members(self) -> tuple[str, ...]:
        """Sorted ids of the replicas whose Leases are unexpired, as we observe them now."""
        records = await self._api.list(self._selector)
        for record in records:
            self._tracker.observe(record)
            if record.name != self.lease_name and record.stale_by_wall_clock(10 * record.duration_s):
                # A replica that died long ago (a Deployment's pod names never come back): tidy
                # its Lease. The resourceVersion precondition spares one that was just renewed.
                await self._api.delete(record.name, record.resource_version)
        self._tracker.forget({r.name for r in records})
        live = {r.holder for r in records if r.holder and not self._tracker.expired(r.name)}
        if self.holding:
            live.add(self.identity)
        return tuple(sorted(live))

    async def changes(self, poll_interval_s: float | None = None) -> AsyncIterator[tuple[str, ...]]:
        """Yield the live replica set at start and whenever it changes (polling, bounded interval)."""
        interval = poll_interval_s or self.renew_interval_s
        last: tuple[str, ...] | None = None
        while True:
            try:
                members = await self.live_members()
            except TRANSIENT_ERRORS as exc:
                log.warning("listing membership leases for %s failed: %s", self.component, exc)
                # Keep the last view while our own Lease holds: reporting ourselves alone would
                # hand us every other replica's share while they still run it.
                members = (last or (self.identity,)) if self.holding else ()
            if members != last:
                last = members
                yield members
            await asyncio.sleep(interval)

    async def __aenter__(self) -> LeaseMembership:
        await self.join()
        self._renewer = asyncio.create_task(self._renew_loop(), name=f"lease-renew-{self.lease_name}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        with contextlib.suppress(*TRANSIENT_ERRORS):
            await self.leave()


async def live_replicas(
    component: str,
    identity: str | None = None,
    *,
    api_client: k8s_client.ApiClient | None = None,
    namespace: str | None = None,
    lease_duration_s: float = 15.0,
) -> AsyncIterator[tuple[str, ...]]:
    """Join ``component``'s membership and yield its live replica set on every change.

    The source a rendezvous shard owner consumes (``ShardOwner(replica_id, live_replicas(...))``).
    Our Lease is held while the iteration runs and deleted when it ends or is cancelled, so the
    other replicas take over our share at once on a graceful stop, and after one lease duration
    when this pod dies.
    """
    own_client = api_client is None
    api = api_client if api_client is not None else load_api_client()
    try:
        async with LeaseMembership(
            api,
            component=component,
            identity=identity,
            namespace=namespace,
            lease_duration_s=lease_duration_s,
        ) as membership:
            async for members in membership.changes():
                yield members
    finally:
        if own_client:
            api.close()


class LeaseLock:
    """A named Lease held by at most one identity at a time (one drone controller per drone).

    ``try_acquire_or_renew()`` is one round of client-go's algorithm: create the Lease if absent;
    renew it if we hold it; take it over only if the holder let it expire (or released it); every
    write is guarded by the resourceVersion we read, so two contenders cannot both win.
    """

    def __init__(
        self,
        api_client: k8s_client.ApiClient,
        *,
        name: str,
        identity: str | None = None,
        namespace: str | None = None,
        lease_duration_s: float = 15.0,
        skew_margin_s: float = 2.0,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        if lease_duration_s < 1:
            raise ValueError("lease_duration_s must be at least 1 second (Lease granularity)")
        self.name = _check_name("lease name", name)
        self.identity = _check_name("identity", identity or pod_identity())
        self._api = self._open_store(api_client, namespace, min(5.0, max(0.5, lease_duration_s / 3)))
        self.lease_duration_s = lease_duration_s
        self._labels = {ROLE_LABEL: LOCK_ROLE, **(labels or {})}
        self._tracker = _ExpiryTracker(skew_margin_s)
        self._record: LeaseRecord | None = None
        self._held_until = 0.0

    def _open_store(self, api_client: Any, namespace: str | None, timeout_s: float) -> LeaseStore:
        # Overridden by kuzet.common.dblease, which keeps the same records in a database table.
        return _LeaseApi(api_client, namespace or pod_namespace(), timeout_s=timeout_s)

    @property
    def is_leader(self) -> bool:
        """True while our last successful write is younger than the lease duration."""
        return (
            self._record is not None
            and self._record.holder == self.identity
            and time.monotonic() < self._held_until
        )

    @property
    def holder(self) -> str:
        """The holder as last observed ('' when released or never seen)."""
        return self._record.holder if self._record is not None else ""

    async def try_acquire_or_renew(self) -> bool:
        started = time.monotonic()
        current = await self._api.get(self.name)
        if current is None:
            body = _lease_body(
                self.name, holder=self.identity, duration_s=self.lease_duration_s, labels=self._labels
            )
            created = await self._api.create(body)
            if created is None:  # somebody created it between our read and write
                return False
            return self._won(created, started)

        self._tracker.observe(current)
        self._record = current
        ours = current.holder == self.identity
        if not ours and current.holder and not self._tracker.expired(current.name):
            return False
        body = _lease_body(
            self.name,
            holder=self.identity,
            duration_s=self.lease_duration_s,
            labels=self._labels,
            resource_version=current.resource_version,
            # acquireTime and the transition count change only when the holder changes.
            acquire_time=_format_micro(current.acquire_time) if ours and current.acquire_time else None,
            transitions=current.transitions if ours else current.transitions + 1,
        )
        replaced = await self._api.replace(self.name, body)
        if replaced is None:  # 409: another contender wrote first; re-read next round
            self._held_until = 0.0
            return False
        return self._won(replaced, started)

    def _won(self, record: LeaseRecord, started: float) -> bool:
        self._record = record
        self._tracker.observe(record)
        # Count our term from before the request went out: the others may have seen it earlier.
        self._held_until = started + _term_s(self.lease_duration_s, record)
        return True

    def forfeit(self) -> None:
        """Stop counting ourselves the leader now (the Lease may still name us until it expires)."""
        self._held_until = 0.0

    async def release(self) -> bool:
        """Give the Lease up so a standby takes over at once (holder cleared, 1 s duration)."""
        if self._record is None or self._record.holder != self.identity:
            return False
        current = await self._api.get(self.name)
        if current is None or current.holder != self.identity:
            self._held_until = 0.0
            return False
        body = _lease_body(
            self.name,
            holder="",
            duration_s=1,
            labels=self._labels,
            resource_version=current.resource_version,
            transitions=current.transitions,
        )
        released = await self._api.replace(self.name, body)
        self._held_until = 0.0
        if released is not None:
            self._record = released
        return released is not None


class LeaderElector:
    """Runs a LeaseLock: keeps trying to lead, renews while leading, steps down on loss.

    ``on_started_leading`` runs as a task while we lead and is cancelled the moment a renewal fails
    past its deadline, so a controller never keeps acting on a drone it no longer owns.
    """

    def __init__(
        self,
        lock: LeaseLock,
        *,
        on_started_leading: Callable[[], Coroutine[Any, Any, None]],
        on_stopped_leading: Callable[[], Awaitable[None]] | None = None,
        retry_period_s: float | None = None,
        renew_deadline_s: float | None = None,
    ) -> None:
        self.lock = lock
        self._on_start = on_started_leading
        self._on_stop = on_stopped_leading
        self.retry_period_s = retry_period_s or lock.lease_duration_s / 5
        self.renew_deadline_s = renew_deadline_s or lock.lease_duration_s * 2 / 3
        if not self.retry_period_s < self.renew_deadline_s < lock.lease_duration_s:
            raise ValueError("need retry_period_s < renew_deadline_s < lease_duration_s")

    async def _attempt(self) -> bool:
        try:
            return await self.lock.try_acquire_or_renew()
        except TRANSIENT_ERRORS as exc:
            log.warning("lease %s: acquire/renew failed: %s", self.lock.name, exc)
            return False

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Loop until ``stop`` is set; releases the Lease on the way out if we hold it."""
        stop = stop or asyncio.Event()
        try:
            while not stop.is_set():
                if await self._attempt():
                    await self._lead(stop)
                else:
                    await wait_set(stop, self.retry_period_s)
        finally:
            with contextlib.suppress(*TRANSIENT_ERRORS):
                await self.lock.release()

    async def _lead(self, stop: asyncio.Event) -> None:
        log.info("lease %s: %s is now the leader", self.lock.name, self.lock.identity)
        work = asyncio.create_task(self._on_start(), name=f"leader-{self.lock.name}")
        last_renewal = time.monotonic()
        try:
            while not stop.is_set() and not work.done():
                await wait_set(stop, self.retry_period_s)
                if stop.is_set():
                    break
                if await self._attempt():
                    last_renewal = time.monotonic()
                elif time.monotonic() - last_renewal > self.renew_deadline_s or not self.lock.is_leader:
                    log.warning("lease %s: leadership lost by %s", self.lock.name, self.lock.identity)
                    break
        finally:
            # A controller that could not renew in time must not act as leader any more, even
            # though its Lease has not expired yet for the others.
            self.lock.forfeit()
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await work
            if self._on_stop is not None:
                await self._on_stop()

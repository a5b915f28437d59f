"""Lease membership and leader election against a real kube-apiserver + etcd on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kubernetes import client as k8s_client

from kuzet.common.k8s import (
    COMPONENT_LABEL,
    ROLE_LABEL,
    LeaderElector,
    LeaseLock,
    LeaseMembership,
    _lease_body,
    _LeaseApi,
    live_replicas,
)
from kuzet.common.k8stest import KubeApiServer, kube_apiserver  # noqa: F401 - fixture

DURATION = 2.0  # seconds; the smallest sensible Lease duration keeps these tests short


@pytest.fixture
def namespace(kube_apiserver: KubeApiServer) -> str:  # noqa: F811
    return kube_apiserver.create_namespace()


@pytest.fixture
def api_factory(kube_apiserver: KubeApiServer) -> Iterator[Any]:  # noqa: F811
    """A fresh ApiClient per participant, as separate pods would have."""
    made: list[Any] = []

    def make() -> Any:
        api = kube_apiserver.api_client()
        made.append(api)
        return api

    yield make
    for api in made:
        api.close()


def read_lease(api_factory: Any, name: str, namespace: str) -> Any:
    return k8s_client.CoordinationV1Api(api_factory()).read_namespaced_lease(name, namespace)


def member(api_factory: Any, namespace: str, identity: str) -> LeaseMembership:
    return LeaseMembership(
        api_factory(),
        component="ingest",
        identity=identity,
        namespace=namespace,
        lease_duration_s=DURATION,
        renew_interval_s=0.5,
    )


async def wait_for(check: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = await check()
        if last is not None and last is not False:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


# ---------------------------------------------------------------- membership (ingest shards) ---


async def test_members_see_each_other_and_departures(api_factory: Any, namespace: str) -> None:
    async with (
        member(api_factory, namespace, "ingest-0") as a,
        member(api_factory, namespace, "ingest-1") as b,
    ):
        assert await a.live_members() == ("ingest-0", "ingest-1")
        assert await b.live_members() == ("ingest-0", "ingest-1")
        async with member(api_factory, namespace, "ingest-2"):
            assert await a.live_members() == ("ingest-0", "ingest-1", "ingest-2")
        # A graceful leave deletes the Lease: visible at once, not after expiry.
        assert await a.live_members() == ("ingest-0", "ingest-1")
    leases = k8s_client.CoordinationV1Api(api_factory()).list_namespaced_lease(namespace)
    assert leases.items == []


async def test_leases_are_labelled_by_component(api_factory: Any, namespace: str) -> None:
    async with member(api_factory, namespace, "ingest-0") as a:
        lease = read_lease(api_factory, a.lease_name, namespace)
        assert lease.metadata.labels[COMPONENT_LABEL] == "ingest"
        assert lease.metadata.labels[ROLE_LABEL] == "member"
        assert lease.spec.holder_identity == "ingest-0"
        assert lease.spec.lease_duration_seconds == 2
        # Another component's members are not ours.
        async with LeaseMembership(
            api_factory(),
            component="drone",
            identity="drone-0",
            namespace=namespace,
            lease_duration_s=DURATION,
        ):
            assert await a.live_members() == ("ingest-0",)


async def test_crashed_member_expires_after_its_lease(api_factory: Any, namespace: str) -> None:
    async with member(api_factory, namespace, "ingest-0") as a:
        crashed = member(api_factory, namespace, "ingest-1")
        await crashed.join()  # joined, but nobody renews: the pod died without a goodbye
        assert await a.live_members() == ("ingest-0", "ingest-1")
        started = time.monotonic()
        await wait_for(lambda: _members_equal(a, ("ingest-0",)), DURATION + 3, "the crashed member to expire")
        elapsed = time.monotonic() - started
        # Not before its lease ran out (measured from our observation), not long after.
        assert DURATION - 0.5 <= elapsed <= DURATION + 3


async def _members_equal(m: LeaseMembership, expected: tuple[str, ...]) -> bool:
    return await m.live_members() == expected


async def test_lease_stale_before_observer_started_counts_as_expired(
    api_factory: Any, namespace: str
) -> None:
    api = _LeaseApi(api_factory(), namespace)
    body = _lease_body(
        "kuzet-ingest-ingest-9",
        holder="ingest-9",
        duration_s=DURATION,
        labels={COMPONENT_LABEL: "ingest", ROLE_LABEL: "member"},
    )
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body["spec"]["renewTime"] = an_hour_ago
    assert await api.create(body) is not None
    async with member(api_factory, namespace, "ingest-0") as a:
        assert await a.live_members() == ("ingest-0",)
        # Long dead (an hour > 10 lease durations): its Lease is tidied away.
        assert await api.get("kuzet-ingest-ingest-9") is None


async def test_restarted_pod_takes_its_lease_back(api_factory: Any, namespace: str) -> None:
    first = member(api_factory, namespace, "ingest-0")
    await first.join()  # then "crashes": the Lease stays behind
    async with member(api_factory, namespace, "ingest-0") as again:  # same StatefulSet pod name
        assert again.holding
        assert await again.live_members() == ("ingest-0",)


async def test_changes_yields_on_every_membership_change(api_factory: Any, namespace: str) -> None:
    async with member(api_factory, namespace, "ingest-0") as a:
        seen: list[tuple[str, ...]] = []
        changes = a.changes(poll_interval_s=0.1)

        async def next_change() -> tuple[str, ...]:
            value = await asyncio.wait_for(anext(changes), 10)
            seen.append(value)
            return value

        assert await next_change() == ("ingest-0",)
        async with member(api_factory, namespace, "ingest-1"):
            assert await next_change() == ("ingest-0", "ingest-1")
        assert await next_change() == ("ingest-0",)
        assert seen == [("ingest-0",), ("ingest-0", "ingest-1"), ("ingest-0",)]
        await _aclose(changes)


async def _aclose(gen: AsyncIterator[Any]) -> None:
    aclose = getattr(gen, "aclose", None)
    if aclose is not None:
        await aclose()


def test_names_are_validated(api_factory: Any) -> None:
    with pytest.raises(ValueError, match="not a valid Kubernetes name"):
        LeaseMembership(api_factory(), component="Ingest", identity="x", namespace="default")
    with pytest.raises(ValueError, match="renew_interval_s"):
        LeaseMembership(
            api_factory(), component="ingest", identity="x", namespace="default", renew_interval_s=20
        )
    with pytest.raises(ValueError, match="at least 1 second"):
        LeaseLock(api_factory(), name="fleet", identity="x", namespace="default", lease_duration_s=0.5)


# ------------------------------------------------------------ leader election (drone control) ---


def lock(
    api_factory: Any,
    namespace: str,
    identity: str,
    name: str = "drone-fleet-north",
    duration: float = DURATION,
) -> LeaseLock:
    return LeaseLock(
        api_factory(), name=name, identity=identity, namespace=namespace, lease_duration_s=duration
    )


async def test_one_holder_renews_and_others_wait(api_factory: Any, namespace: str) -> None:
    a, b = lock(api_factory, namespace, "drone-a"), lock(api_factory, namespace, "drone-b")
    assert await a.try_acquire_or_renew()
    assert a.is_leader
    assert not await b.try_acquire_or_renew()
    assert b.holder == "drone-a" and not b.is_leader
    for _ in range(3):  # renewals keep it ours across more than one lease duration
        await asyncio.sleep(DURATION / 2)
        assert await a.try_acquire_or_renew()
        assert not await b.try_acquire_or_renew()
    lease = read_lease(api_factory, "drone-fleet-north", namespace)
    assert lease.spec.holder_identity == "drone-a"
    assert lease.spec.lease_transitions == 0


async def test_takeover_only_after_expiry(api_factory: Any, namespace: str) -> None:
    a, b = lock(api_factory, namespace, "drone-a"), lock(api_factory, namespace, "drone-b")
    assert await a.try_acquire_or_renew()
    acquired_by_a = read_lease(api_factory, "drone-fleet-north", namespace)
    # a stops renewing (its pod hangs). b must not take over while the lease is still running...
    assert not await b.try_acquire_or_renew()
    started = time.monotonic()
    await wait_for(b.try_acquire_or_renew, DURATION + 3, "b to take over")
    assert time.monotonic() - started >= DURATION - 0.5
    assert b.is_leader
    # ...and a, coming back, sees it lost rather than renewing over b.
    assert not await a.try_acquire_or_renew()
    assert not a.is_leader
    lease = read_lease(api_factory, "drone-fleet-north", namespace)
    assert lease.spec.holder_identity == "drone-b"
    assert lease.spec.lease_transitions == 1
    assert lease.spec.acquire_time > acquired_by_a.spec.acquire_time


async def test_release_hands_over_at_once(api_factory: Any, namespace: str) -> None:
    a, b = lock(api_factory, namespace, "drone-a"), lock(api_factory, namespace, "drone-b")
    assert await a.try_acquire_or_renew()
    assert await a.release()
    assert not a.is_leader
    assert await b.try_acquire_or_renew()
    assert await b.release()
    assert not b.is_leader


async def test_stale_resource_version_gets_409_and_loses(api_factory: Any, namespace: str) -> None:
    api = _LeaseApi(api_factory(), namespace)
    a = lock(api_factory, namespace, "drone-a", name="fleet-409")
    assert await a.try_acquire_or_renew()
    stale = await api.get("fleet-409")
    assert stale is not None
    assert await a.try_acquire_or_renew()  # a renews: the resourceVersion moves on
    body = _lease_body(
        "fleet-409",
        holder="intruder",
        duration_s=DURATION,
        labels={},
        resource_version=stale.resource_version,
    )
    assert await api.replace("fleet-409", body) is None  # 409 Conflict, reported as "lost"
    current = await api.get("fleet-409")
    assert current is not None and current.holder == "drone-a"


@pytest.mark.parametrize("contenders", [6])
async def test_concurrent_contenders_exactly_one_wins(
    api_factory: Any, namespace: str, contenders: int
) -> None:
    locks = [lock(api_factory, namespace, f"drone-{i}", name="fleet-race") for i in range(contenders)]
    first = await asyncio.gather(*(lk.try_acquire_or_renew() for lk in locks))
    assert sum(first) == 1
    # Everyone waits out the winner's lease (it stops renewing), then races again for the takeover.
    winner = locks[first.index(True)]
    others = [lk for lk in locks if lk is not winner]
    # Expiry is measured from when each contender saw the record (client-go's rule), and a loser
    # whose create got 409 has not seen it yet: everyone looks once, then waits a full duration.
    assert not any(await asyncio.gather(*(lk.try_acquire_or_renew() for lk in others)))
    await asyncio.sleep(DURATION + 0.3)
    second = await asyncio.gather(*(lk.try_acquire_or_renew() for lk in others))
    assert sum(second) == 1
    assert sum(lk.is_leader for lk in locks) == 1


async def test_leader_elector_runs_one_controller_and_fails_over(api_factory: Any, namespace: str) -> None:
    leading: list[str] = []
    stopped: list[str] = []

    def elector(identity: str) -> LeaderElector:
        async def work() -> None:
            leading.append(identity)
            await asyncio.Event().wait()  # controls the fleet until cancelled

        async def stop() -> None:
            stopped.append(identity)

        # A longer lease than elsewhere: on a loaded machine one slow renewal must not look like
        # a lost leader.
        return LeaderElector(
            lock(api_factory, namespace, identity, name="fleet-elector", duration=4.0),
            on_started_leading=work,
            on_stopped_leading=stop,
            retry_period_s=0.4,
            renew_deadline_s=3.0,
        )

    stop_a, stop_b = asyncio.Event(), asyncio.Event()
    ea, eb = elector("drone-a"), elector("drone-b")
    task_a = asyncio.create_task(ea.run(stop_a))
    await wait_for(lambda: _truthy(leading), 5, "a leader")
    task_b = asyncio.create_task(eb.run(stop_b))
    await asyncio.sleep(4.5)  # b keeps trying through a full lease duration
    assert leading == ["drone-a"]
    stop_a.set()  # a shuts down: it stops its controller and releases the lease
    await asyncio.wait_for(task_a, 5)
    assert stopped == ["drone-a"]
    await wait_for(lambda: _truthy(len(leading) == 2), 3, "b to take over")
    assert leading == ["drone-a", "drone-b"]
    assert eb.lock.is_leader and not ea.lock.is_leader
    stop_b.set()
    await asyncio.wait_for(task_b, 5)
    assert stopped == ["drone-a", "drone-b"]


async def _truthy(value: Any) -> bool:
    return bool(value)


# ------------------------------------------------------------------------- API server outage ---


async def test_api_server_outage_stops_the_leader_and_membership(tmp_path: Any) -> None:
    """Losing the API server must stop the controller before its lease could pass to another pod."""
    server = KubeApiServer(tmp_path / "outage")
    server.start()
    try:
        api = server.api_client()
        ns = server.create_namespace()
        leading, stopped = asyncio.Event(), asyncio.Event()

        async def work() -> None:
            leading.set()
            await asyncio.Event().wait()

        async def on_stop() -> None:
            stopped.set()

        elector = LeaderElector(
            LeaseLock(api, name="fleet-outage", identity="drone-a", namespace=ns, lease_duration_s=DURATION),
            on_started_leading=work,
            on_stopped_leading=on_stop,
            retry_period_s=0.3,
            renew_deadline_s=1.2,
        )
        runner = asyncio.create_task(elector.run())
        membership = LeaseMembership(
            server.api_client(),
            component="ingest",
            identity="ingest-0",
            namespace=ns,
            lease_duration_s=DURATION,
        )
        await membership.__aenter__()
        await asyncio.wait_for(leading.wait(), 5)
        assert membership.holding
        lost_at = time.monotonic()
        await asyncio.to_thread(server.kill)  # etcd and the API server are gone, abruptly
        await asyncio.wait_for(stopped.wait(), DURATION + 2)
        # Stepped down within the lease duration: nobody else could have taken over yet.
        assert time.monotonic() - lost_at < DURATION + 0.5
        assert not elector.lock.is_leader
        await wait_for(lambda: _truthy(not membership.holding), DURATION + 3, "membership to drop")
        # The iterator keeps going (it reports only ourselves while the API is away), no crash.
        changes = membership.changes(poll_interval_s=0.1)
        assert await asyncio.wait_for(anext(changes), 15) == ()
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await membership.__aexit__(None, None, None)
    finally:
        server.stop()


async def test_live_replicas_feeds_a_shard_owner_and_leaves_on_cancel(
    api_factory: Any, namespace: str
) -> None:
    seen: list[tuple[str, ...]] = []

    async def follow(identity: str) -> None:
        async for members in live_replicas(
            "ingest", identity, api_client=api_factory(), namespace=namespace, lease_duration_s=DURATION
        ):
            seen.append(members)

    first = asyncio.create_task(follow("ingest-0"))
    await wait_for(lambda: _truthy(("ingest-0",) in seen), 10, "ingest-0 to see itself")
    async with member(api_factory, namespace, "ingest-1"):
        await wait_for(lambda: _truthy(("ingest-0", "ingest-1") in seen), 10, "ingest-0 to see ingest-1")
    first.cancel()  # the pod stops: its Lease goes with it
    with contextlib.suppress(asyncio.CancelledError):
        await first
    leases = k8s_client.CoordinationV1Api(api_factory()).list_namespaced_lease(namespace)
    assert leases.items == []

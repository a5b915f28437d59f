"""A chain of hubs: facility north-1 is a leaf node of its region's server (north), which is a leaf
node of the nation's. The nation sources the facility's streams straight through the region, the
nation's watchlist changes reach the facility through the region's identity, and the nation's
investigators search the facility through the region."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kuzet.common.grpcclient import open_channel
from kuzet.common.grpcserver import GrpcServer
from kuzet.common.testing import free_port_number
from kuzet.federation.natstesting import NatsServer, wait_for_leafs
from kuzet.federation.v1 import federation_pb2 as pb
from kuzet.identity.v1 import identity_pb2, identity_pb2_grpc
from kuzet.inference.config import InferenceSettings
from kuzet.inference.server import build as build_inference

from .conftest import Release, start_release
from .test_federation import (
    IDENTITY_ADMIN,
    create_national_watchlist,
    enrol_wanted,
    eventually,
    facility_watchlist,
    hub_subjects,
    raise_alert,
)
from .test_search import INVESTIGATOR, PURPOSE, audit_records, enrol_local_suspect, probe, search

pytestmark = pytest.mark.slow

NATION, REGION, SITE = "nation", "north", "north-1"


@dataclass
class Chain:
    nation: Release
    region: Release
    facility: Release


@pytest.fixture
async def chain(tmp_path: Path) -> AsyncIterator[Chain]:
    inference: GrpcServer = await build_inference(
        InferenceSettings(port=free_port_number(), data_dir=tmp_path / "inference")
    )
    address = await inference.start()
    nation_nats = NatsServer(tmp_path / NATION, NATION, leaf_listen=True)
    nation_nats.start()
    region_nats = NatsServer(tmp_path / REGION, REGION, leaf_listen=True, leaf_remote=nation_nats.leaf_port)
    region_nats.start()
    site_nats = NatsServer(tmp_path / SITE, SITE, leaf_remote=region_nats.leaf_port)
    site_nats.start()
    releases: list[Release] = []
    try:
        await wait_for_leafs(nation_nats, 1)
        await wait_for_leafs(region_nats, 1)
        facility = await start_release(
            SITE, site_nats, tmp_path / SITE, inference_address=address, hub_domain=REGION
        )
        releases.append(facility)
        nation = await start_release(
            NATION,
            nation_nats,
            tmp_path / NATION,
            facilities=[SITE],
            inference_address=address,
            hub_domain=NATION,
        )
        releases.append(nation)
        region = await start_release(
            REGION,
            region_nats,
            tmp_path / REGION,
            facilities=[SITE],
            inference_address=address,
            hub_domain=REGION,
            upstream=NATION,
        )
        releases.append(region)
        yield Chain(nation, region, facility)
    finally:
        for release in releases:
            await release.close()
        for server in (site_nats, region_nats, nation_nats):
            server.stop()
        await inference.stop(0)


async def test_a_facility_alert_reaches_its_region_and_the_nation_once(chain: Chain) -> None:
    await raise_alert(chain.facility, "escape attempt, block 4")

    for hub in (chain.region, chain.nation):

        async def arrived(hub: Release = hub) -> bool:
            return await hub_subjects(hub, SITE) == ["escape attempt, block 4"]

        await eventually(arrived, f"the alert at {hub.site}")


async def test_an_enrolment_at_the_nation_reaches_the_facility_through_its_region(chain: Chain) -> None:
    assert chain.nation.identity is not None
    channel = open_channel(chain.nation.identity.address, audience="identity", caller=IDENTITY_ADMIN)
    try:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        enrolled = await enrol_wanted(stub, await create_national_watchlist(stub), "N-2026-0001")

        async def holds(release: Release, expected: dict[str, int]) -> bool:
            return await facility_watchlist(release) == expected

        await eventually(lambda: holds(chain.region, {"N-2026-0001": 1}), "the entry at the region", 60)
        await eventually(lambda: holds(chain.facility, {"N-2026-0001": 1}), "the entry at the facility", 60)

        await stub.RemovePerson(
            identity_pb2.RemovePersonRequest(person_id=enrolled.person.person_id, reason="warrant withdrawn")
        )
        await eventually(lambda: holds(chain.facility, {}), "the removal at the facility", 60)
    finally:
        await channel.close()


async def test_the_nation_searches_a_facility_through_its_region(chain: Chain) -> None:
    person_id = await enrol_local_suspect(chain.facility)

    response = await search(chain.nation, INVESTIGATOR, image=probe(), purpose=PURPOSE)

    (result,) = response.results
    assert (result.site, result.status) == (SITE, pb.SITE_STATUS_OK)
    assert result.candidates[0].person_id == person_id
    assert chain.facility.identity is not None
    records = await audit_records(chain.facility.identity.address, "identity", "identity.search")
    assert [r.actor for r in records] == [f"{INVESTIGATOR.subject}@{NATION}"]

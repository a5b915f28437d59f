"""Rules fire once per occurrence, over real badge streams (events caught by a recording sink)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from kuzet.badge.server import BadgeApp
from kuzet.badge.sim import SimBadge, register_badges
from kuzet.badge.v1 import badge_pb2 as A
from kuzet.badge.v1 import badge_pb2_grpc
from kuzet.common.caller import caller_metadata

from .conftest import ADMIN, AGENCY, RecordingSink
from .test_telemetry import wait_for


def md() -> tuple[tuple[str, str], ...]:
    """The admin's caller metadata, minted now (tokens expire: never keep one for a session)."""
    return tuple(caller_metadata(ADMIN, audience="badge"))


LAT, LON = 41.3111, 69.2797


@pytest.fixture
async def running(app: BadgeApp, admin: badge_pb2_grpc.BadgeServiceStub) -> AsyncIterator[list[SimBadge]]:
    """Four badges on shift, reporting every 50 ms."""
    ids = ["R-1", "R-2", "R-3", "R-4"]
    await register_badges(admin, AGENCY, ids, unit="unit-7")
    badges = [SimBadge(b, LAT, LON, interval_s=0.05) for b in ids]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(b.run(admin, stop, reconnect_s=0.05)) for b in badges]
    await wait_for(lambda: all(b.acked_seq > 0 for b in badges))
    yield badges
    stop.set()
    await asyncio.gather(*tasks)


async def test_panic_fires_once_with_position_and_rearms_after_cancel(
    running: list[SimBadge], sink: RecordingSink
) -> None:
    badge = running[0]
    badge.press_panic()
    await wait_for(lambda: len(sink.of("badge_panic")) == 1)
    badge.press_panic()  # pressed again during the same emergency
    await asyncio.sleep(0.3)
    panics = sink.of("badge_panic")
    assert len(panics) == 1
    event = panics[0]
    assert event.source.id == "R-1" and event.source.site_id == "unit-7" and event.agency_id == AGENCY
    assert abs(event.location.latitude - LAT) < 0.01 and abs(event.location.longitude - LON) < 0.01
    assert event.attributes["officer_id"] == "officer-R-1"
    badge.cancel_panic()
    await asyncio.sleep(0.2)
    badge.press_panic()
    await wait_for(lambda: len(sink.of("badge_panic")) == 2)


async def test_recording_off_during_incident_fires_once_and_resolves(
    running: list[SimBadge], sink: RecordingSink, admin: badge_pb2_grpc.BadgeServiceStub
) -> None:
    off, on = running[1], running[2]
    on.recording = A.RECORDING_STATE_ON
    await admin.AssignIncident(A.AssignIncidentRequest(incident_id="INC-1", badge_ids=["R-2", "R-3"]))
    await wait_for(lambda: len(sink.of("badge_recording_off")) == 1)
    await asyncio.sleep(0.4)  # several more reports and supervisor ticks
    fired = sink.of("badge_recording_off")
    assert [e.source.id for e in fired] == ["R-2"]
    assert fired[0].subject == "INC-1" and fired[0].attributes["incident_id"] == "INC-1"
    off.recording = A.RECORDING_STATE_ON
    await wait_for(lambda: len(sink.of("badge_recording_off", resolves=True)) == 1)
    off.recording = A.RECORDING_STATE_OFF  # switched off again: a new occurrence
    await wait_for(lambda: len(sink.of("badge_recording_off", resolves=False)) == 2)
    await admin.CloseIncident(A.CloseIncidentRequest(incident_id="INC-1"))
    await wait_for(lambda: len(sink.of("badge_recording_off", resolves=True)) == 2)
    await asyncio.sleep(0.3)
    assert len(sink.of("badge_recording_off", resolves=False)) == 2


async def test_incident_assignment_can_command_recording(
    running: list[SimBadge], sink: RecordingSink, admin: badge_pb2_grpc.BadgeServiceStub
) -> None:
    badge = running[3]
    await admin.AssignIncident(
        A.AssignIncidentRequest(
            incident_id="INC-2", badge_ids=["R-4"], command_recording=True, summary="fight"
        )
    )
    await wait_for(lambda: badge.recording == A.RECORDING_STATE_ON)
    assert badge.commands[0].start_recording.incident_id == "INC-2"
    await asyncio.sleep(0.5)
    assert sink.of("badge_recording_off") == []


async def test_tamper_and_forced_shutdown_fire_once_each(
    running: list[SimBadge], sink: RecordingSink
) -> None:
    badge = running[0]
    badge.tamper()
    await wait_for(lambda: len(sink.of("badge_tamper")) == 1)
    badge.tamper()  # the casing is still open: same occurrence
    badge._add_event(A.SENSOR_EVENT_KIND_FORCED_SHUTDOWN, "power held")
    await wait_for(lambda: len(sink.of("badge_tamper")) == 2)
    await asyncio.sleep(0.3)
    kinds = [e.attributes["kind"] for e in sink.of("badge_tamper")]
    assert kinds == ["tamper", "forced_shutdown"]


async def test_battery_critical_on_shift_fires_once(running: list[SimBadge], sink: RecordingSink) -> None:
    badge = running[1]
    badge.battery_percent = 9.0
    await wait_for(lambda: len(sink.of("badge_battery_critical")) == 1)
    badge.battery_percent = 8.0
    await asyncio.sleep(0.3)
    assert len(sink.of("badge_battery_critical")) == 1
    badge.charging = True
    await wait_for(lambda: len(sink.of("badge_battery_critical", resolves=True)) == 1)


async def test_signal_lost_beyond_limit_fires_once_and_resolves_on_return(
    app: BadgeApp, admin: badge_pb2_grpc.BadgeServiceStub, sink: RecordingSink
) -> None:
    await register_badges(admin, AGENCY, ["S-1"])
    badge = SimBadge("S-1", LAT, LON, interval_s=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(badge.run(admin, stop))
    await wait_for(lambda: badge.acked_seq > 2)
    stop.set()
    await task
    await wait_for(lambda: len(sink.of("badge_signal_lost")) == 1)  # limit is 0.6 s in tests
    await asyncio.sleep(0.5)
    assert len(sink.of("badge_signal_lost")) == 1
    state = await admin.GetBadgeState(A.GetBadgeStateRequest(badge_id="S-1"))
    assert state.state.signal_lost and not state.state.connected
    stop = asyncio.Event()
    task = asyncio.create_task(badge.run(admin, stop))
    await wait_for(lambda: len(sink.of("badge_signal_lost", resolves=True)) == 1)
    stop.set()
    await task


async def test_operator_command_reaches_a_connected_badge_only(
    running: list[SimBadge], admin: badge_pb2_grpc.BadgeServiceStub
) -> None:
    command = A.BadgeCommand(settings=A.BadgeSettings(report_interval_s=5))
    sent = await admin.SendCommand(A.SendCommandRequest(badge_id="R-3", command=command))
    assert sent.delivered and sent.command_id
    await wait_for(lambda: any(c.command_id == sent.command_id for c in running[2].commands))
    assert running[2].commands[-1].settings.report_interval_s == 5
    await register_badges(admin, AGENCY, ["R-9"])
    offline = await admin.SendCommand(A.SendCommandRequest(badge_id="R-9", command=command))
    assert not offline.delivered

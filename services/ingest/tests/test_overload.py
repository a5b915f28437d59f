"""Under overload: turns at the detector, tracks over sparse frames, coverage, unique ids."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from kuzet.ingest.cameras import to_config
from kuzet.ingest.degrade import AnalysisRate, Change
from kuzet.ingest.rules import RuleEngine
from kuzet.ingest.tracking import Detection, Tracker, TrackIds
from kuzet.ingest.turns import Need, Turns
from kuzet.ingest.v1 import ingest_pb2 as pb

from .test_rules import camera

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC).timestamp()


def walker(x: float, score: float = 0.7) -> Detection:
    return Detection((x, 100.0, x + 75.0, 330.0), score)


async def test_due_cameras_go_first_then_motion_in_a_zone_then_in_order() -> None:
    now = 1000.0
    turns = Turns(1, clock=lambda: now)
    await turns.acquire()  # the detector is busy
    granted: list[str] = []

    async def ask(name: str, need: Need | None) -> None:
        await turns.acquire(need)
        granted.append(name)
        turns.release()

    asks = [
        ("plain", None),
        ("hangover", Need(last_look=now - 0.5, goal_s=2.0, zone_motion=False)),
        ("zone", Need(last_look=now - 0.5, goal_s=2.0, zone_motion=True)),
        ("due", Need(last_look=now - 3.0, goal_s=2.0, zone_motion=False)),
        ("most-due", Need(last_look=now - 6.0, goal_s=2.0, zone_motion=False)),
        # Someone at the edge of a zone 0.6 s ago: due after a quarter of the goal.
        ("edge", Need(last_look=now - 0.6, goal_s=2.0, zone_motion=True, soon=True)),
    ]
    tasks = []
    for name, need in asks:
        tasks.append(asyncio.create_task(ask(name, need)))
        await asyncio.sleep(0)
    turns.release()
    await asyncio.gather(*tasks)
    assert granted == ["most-due", "due", "edge", "zone", "plain", "hangover"]


async def test_a_cancelled_waiter_passes_its_turn_on() -> None:
    turns = Turns(1)
    await turns.acquire()
    gone = asyncio.create_task(turns.acquire())
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.gather(gone, return_exceptions=True)
    turns.release()
    await asyncio.wait_for(turns.acquire(), 1)


def test_a_walker_seen_every_2_s_keeps_one_track_confirmed_at_once() -> None:
    tracker = Tracker(4.0)
    # 64 px/s: two seconds apart the boxes (75 px wide) no longer overlap.
    seen = [tracker.update([walker(100 + 128 * i)], T0 + 2 * i, since_last_look_s=2.0) for i in range(4)]
    assert all(len(tracks) == 1 for tracks in seen)
    assert len({tracks[0].track_id for tracks in seen}) == 1


def test_at_the_analytic_rate_a_track_still_needs_a_second_sighting() -> None:
    tracker = Tracker(4.0)
    seen = [tracker.update([walker(100 + 16 * i)], T0 + 0.25 * i, since_last_look_s=0.25) for i in range(4)]
    assert seen[0] == [] and all(len(tracks) == 1 for tracks in seen[1:])
    # A weak single sighting after a long gap does not confirm on its own either.
    sparse = Tracker(4.0)
    assert sparse.update([walker(100, score=0.45)], T0, since_last_look_s=3.0) == []


def test_someone_who_falls_is_not_linked_to_his_upright_track_by_reach() -> None:
    tracker = Tracker(4.0)
    upright = tracker.update([walker(100)], T0, since_last_look_s=2.0)
    lying = tracker.update([Detection((200.0, 260.0, 430.0, 330.0), 0.7)], T0 + 2, since_last_look_s=2.0)
    assert upright and lying and upright[0].track_id != lying[0].track_id


def test_track_ids_differ_after_a_restart_and_are_never_0() -> None:
    before = Tracker(4.0, ids=TrackIds(now_s=T0))
    after = Tracker(4.0, ids=TrackIds(now_s=T0 + 5))  # the same camera, restarted 5 s later
    first = before.update([walker(100)], T0, since_last_look_s=3.0)[0].track_id
    again = after.update([walker(100)], T0 + 5, since_last_look_s=3.0)[0].track_id
    assert 0 < first < again < 2**53
    # Both live far below the next restart's ids, however many tracks a run makes.
    assert TrackIds(now_s=T0 + 5).base - TrackIds(now_s=T0).base == 5000 * 1024


def test_rule_subjects_differ_after_a_restart() -> None:
    rules = (
        pb.Rule(id="no-entry", type=pb.RULE_TYPE_INTRUSION, zone_id="z"),
        pb.Rule(id="crowd", type=pb.RULE_TYPE_CROWDING, zone_id="z", max_count=1, cooldown_seconds=10),
        pb.Rule(id="post", type=pb.RULE_TYPE_POST_UNATTENDED, zone_id="z", dwell_seconds=5),
    )

    def run(ids: TrackIds) -> dict[str, list[str]]:
        engine = RuleEngine(to_config(camera(*rules), "", ""), ids=ids)
        tracker = Tracker(4.0, ids=ids)
        subjects: dict[str, list[str]] = {}
        for i in range(40):
            # Two people in the zone for 4 s, twice with 6 s between, then nobody.
            crowded = i < 4 or 10 <= i < 14
            boxes = [(190.0, 150.0, 220.0, 250.0), (250.0, 150.0, 280.0, 250.0)] if crowded else []
            tracks = tracker.update([Detection(b, 0.8) for b in boxes], T0 + i, since_last_look_s=1.0)
            for hit in engine.evaluate(T0 + i, tracks)[0]:
                subjects.setdefault(hit.rule.id, []).append(hit.subject)
        return subjects

    first, second = run(TrackIds(now_s=T0)), run(TrackIds(now_s=T0 + 60))
    # One crowding episode (crowded again within the cool-down); the post was left twice.
    assert len(first["crowd"]) == 2 and len(set(first["crowd"])) == 1
    assert len(first["post"]) == 2 and len(set(first["post"])) == 2
    assert first["crowd"][0].startswith("zone:z:") and first["post"][0].startswith("zone:z:")
    for rule in ("no-entry", "crowd", "post"):
        assert not set(first[rule]) & set(second[rule]), rule
    assert all(int(s.removeprefix("track:")) > 0 for s in first["no-entry"])


def test_coverage_degrades_when_starved_and_recovers() -> None:
    rate = AnalysisRate(2.0, T0, window_s=10.0)
    assert rate.look(T0 + 1.5) == 0.0  # the first look has no gap before it
    t = T0 + 1.5
    for _ in range(8):  # the analytic rate
        t += 0.25
        rate.look(t)
    assert rate.check(t) is None and rate.every(t) <= 0.3
    assert rate.check(t + 3.9) is None  # one long wait is not yet blind
    assert rate.check(t + 4.1) is Change.DEGRADED
    assert rate.check(t + 5) is None and rate.degraded
    for _ in range(3):  # analysed every 6 s
        t += 6
        rate.look(t)
    assert rate.degraded and 5 < rate.every(t + 0.5) < 7
    for _ in range(40):
        t += 0.25
        rate.look(t)
        if rate.check(t) is Change.RECOVERED:
            break
    assert not rate.degraded and rate.every(t) <= 2.0


def test_a_camera_that_delivers_nothing_is_not_judged_when_it_comes_back() -> None:
    rate = AnalysisRate(2.0, T0)
    rate.pause(T0 + 30)  # offline for 30 s
    assert rate.check(T0 + 30.5) is None

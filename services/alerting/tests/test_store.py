"""The publish transaction itself (both engines): ordering inside one group commit, cool-down."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from kuzet.alerting.folding import Incoming
from kuzet.alerting.store import AlertStore
from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.common.audit import AuditLog
from kuzet.common.db import Database, migrate
from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.common.v1 import common_pb2

from .conftest import camera_event


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Iterator[AlertStore]:
    db = Database(db_url)
    migrate(db, "kuzet.alerting.migrations")
    yield AlertStore(db, AuditLog(db), default_cooldown_s=60)
    db.dispose()


def inc(event: common_pb2.Event) -> Incoming:
    return Incoming(event, "service:test", "")


def test_offline_online_offline_in_one_commit(store: AlertStore) -> None:
    off1 = camera_event("camera_offline", rule="", subject="")
    on = camera_event("camera_online", rule="", subject="")
    off2 = camera_event("camera_offline", rule="", subject="")
    outcomes, updates = store.publish([inc(off1), inc(on), inc(off2), inc(off1)])
    assert [o.disposition for o in outcomes] == [
        pb.PUBLISH_DISPOSITION_CREATED,
        pb.PUBLISH_DISPOSITION_RESOLVED,
        pb.PUBLISH_DISPOSITION_CREATED,
        pb.PUBLISH_DISPOSITION_DUPLICATE,
    ]
    assert outcomes[1].alert_id == outcomes[0].alert_id != outcomes[2].alert_id
    assert outcomes[3].alert_id == outcomes[0].alert_id
    # The log shows the first alert created then resolved, then the second created, in order.
    assert [(u.kind, u.alert.alert_id) for u in updates] == [
        (pb.ALERT_UPDATE_KIND_CREATED, outcomes[0].alert_id),
        (pb.ALERT_UPDATE_KIND_RESOLVED, outcomes[0].alert_id),
        (pb.ALERT_UPDATE_KIND_CREATED, outcomes[2].alert_id),
    ]
    assert updates[0].alert.state == pb.ALERT_STATE_NEW
    cursors = [u.cursor for u in updates]
    assert cursors == sorted(cursors) and len(set(cursors)) == 3
    assert store.updates_after(0, None, 10) == updates


def test_folds_in_one_commit_coalesce_and_cooldown_opens_a_new_alert(store: AlertStore) -> None:
    now = utcnow()
    burst = [camera_event(occurred_at=now + timedelta(seconds=i)) for i in range(10)]
    outcomes, updates = store.publish([inc(e) for e in burst])
    assert len({o.alert_id for o in outcomes}) == 1 and outcomes[-1].count == 10
    assert len(updates) == 1 and updates[0].alert.count == 10
    assert updates[0].alert.latest.event_id == burst[-1].event_id
    # Within the cool-down of the last event: folds. Past it: a new alert; the old one stays open.
    late = camera_event(occurred_at=now + timedelta(seconds=50))
    (o1,), _ = store.publish([inc(late)])
    assert o1.disposition == pb.PUBLISH_DISPOSITION_FOLDED
    later = camera_event()
    later.occurred_at.CopyFrom(to_timestamp(now + timedelta(seconds=200)))
    (o2,), _ = store.publish([inc(later)])
    assert o2.disposition == pb.PUBLISH_DISPOSITION_CREATED and o2.alert_id != o1.alert_id
    again = camera_event(occurred_at=now + timedelta(seconds=201))
    (o3,), _ = store.publish([inc(again)])
    assert o3.alert_id == o2.alert_id and o3.count == 2

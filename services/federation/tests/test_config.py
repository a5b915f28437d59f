"""Settings that would break subjects or domains are refused at start, naming the setting."""

from __future__ import annotations

import pytest

from kuzet.alerting.v1 import alerting_pb2
from kuzet.common.config import load_settings
from kuzet.common.errors import ConfigError
from kuzet.federation.config import FederationSettings
from kuzet.federation.relay import event_id, hub_event, occurrence_id


@pytest.mark.parametrize("site", ["site.a", "site a", "site>", ""])
def test_a_site_id_that_is_no_subject_token_is_refused(site: str) -> None:
    with pytest.raises(ConfigError, match="SITE_ID"):
        load_settings(FederationSettings, site_id=site)


def test_facilities_are_checked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUZET_FEDERATION_FACILITIES", '["site-a", "site.b"]')
    with pytest.raises(ConfigError, match=r"FACILITIES.*site\.b"):
        load_settings(FederationSettings)
    monkeypatch.setenv("KUZET_FEDERATION_FACILITIES", '["site-a", "site-b"]')
    assert load_settings(FederationSettings).facilities == ["site-a", "site-b"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"upstream_domain": "nation"}, "a hub's"),
        ({"role": "hub", "hub_domain": "north", "upstream_domain": "north"}, "not this hub's own"),
        ({"role": "hub", "upstream_domain": "nat.ion"}, "UPSTREAM_DOMAIN"),
    ],
)
def test_an_upstream_is_a_hubs_and_another_hubs(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(FederationSettings, **fields)
    region = load_settings(FederationSettings, role="hub", hub_domain="north", upstream_domain="nation")
    assert region.upstream_domain == "nation"


def test_federation_is_off_without_a_nats_server() -> None:
    assert load_settings(FederationSettings).nats_url == ""


def test_only_what_changes_the_alert_reaches_the_hub() -> None:
    alert = alerting_pb2.Alert(alert_id="a-1", agency_id="prison", type="zone_intrusion")
    for kind in (alerting_pb2.ALERT_UPDATE_KIND_ACKNOWLEDGED, alerting_pb2.ALERT_UPDATE_KIND_ESCALATED):
        assert hub_event("site-a", alerting_pb2.AlertUpdate(cursor=7, kind=kind, alert=alert)) is None
    created = hub_event(
        "site-a", alerting_pb2.AlertUpdate(cursor=7, kind=alerting_pb2.ALERT_UPDATE_KIND_CREATED, alert=alert)
    )
    assert created is not None
    assert created.source.site_id == "site-a", "a source without a site gets the facility's"
    # The same facility update is always the same hub event (redeliveries fold at alerting).
    assert created.event_id == event_id("site-a", "a-1", 7) != event_id("site-b", "a-1", 7)


def test_an_occurrence_is_one_hub_event_however_many_updates_carry_it() -> None:
    """The facility's update that only swapped in the clip covering the seconds after an event
    (alerting's amends) names the same hub event as the update that brought the event."""
    first = alerting_pb2.Alert(
        alert_id="a-1",
        agency_id="prison",
        type="person_down",
        count=1,
        latest=alerting_pb2.AlertEvidence(event_id="e-1"),
    )
    amended = alerting_pb2.Alert()
    amended.CopyFrom(first)
    amended.latest.attributes.update({"clip_after_s": 4.0})
    created = hub_event(
        "site-a", alerting_pb2.AlertUpdate(cursor=7, kind=alerting_pb2.ALERT_UPDATE_KIND_CREATED, alert=first)
    )
    again = hub_event(
        "site-a",
        alerting_pb2.AlertUpdate(cursor=9, kind=alerting_pb2.ALERT_UPDATE_KIND_UPDATED, alert=amended),
    )
    assert created is not None and again is not None
    assert (
        created.event_id == again.event_id == occurrence_id("site-a", "e-1") != occurrence_id("site-b", "e-1")
    )
    resolved = hub_event(
        "site-a",
        alerting_pb2.AlertUpdate(cursor=10, kind=alerting_pb2.ALERT_UPDATE_KIND_RESOLVED, alert=amended),
    )
    assert resolved is not None and resolved.resolves and resolved.event_id == event_id("site-a", "a-1", 10)

"""Settings are validated at start with a message naming the bad setting."""

from __future__ import annotations

import pytest

from kuzet.alerting.config import AlertingSettings
from kuzet.common.config import load_settings
from kuzet.common.errors import ConfigError


def test_bad_settings_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUZET_ALERTING_PG_SYNCHRONOUS_COMMIT", "sometimes")
    monkeypatch.setenv("KUZET_ALERTING_MAX_BATCH", "0")
    with pytest.raises(ConfigError) as err:
        load_settings(AlertingSettings)
    text = str(err.value)
    assert "KUZET_ALERTING_PG_SYNCHRONOUS_COMMIT" in text and "KUZET_ALERTING_MAX_BATCH" in text


def test_defaults_are_durable_and_on_the_documented_port() -> None:
    settings = load_settings(AlertingSettings)
    assert settings.listen_port == 50053 and settings.pg_synchronous_commit == "on"

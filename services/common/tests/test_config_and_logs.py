import json
import logging

import pytest
from pydantic_settings import SettingsConfigDict

from kuzet.common.caller import Caller, reset_current_caller, set_current_caller
from kuzet.common.config import ServiceSettings, load_settings
from kuzet.common.errors import ConfigError
from kuzet.common.logs import JsonFormatter, redact


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KUZET_DEMO_", extra="ignore")
    service_name = "demo"
    default_port = 50099


def test_service_env_then_platform_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUZET_OTLP_ENDPOINT", "127.0.0.1:4317")
    monkeypatch.setenv("KUZET_DEMO_PORT", "6000")
    settings = load_settings(DemoSettings)
    assert settings.otlp_endpoint == "127.0.0.1:4317" and settings.listen_port == 6000
    monkeypatch.delenv("KUZET_DEMO_PORT")
    assert load_settings(DemoSettings).listen_address == "127.0.0.1:50099"


def test_bad_settings_name_every_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUZET_DEMO_PORT", "not-a-port")
    monkeypatch.setenv("KUZET_DEMO_LOG_LEVEL", "chatty")
    with pytest.raises(ConfigError) as err:
        load_settings(DemoSettings)
    assert "KUZET_DEMO_PORT" in str(err.value) and "KUZET_DEMO_LOG_LEVEL" in str(err.value)


def test_settings_from_toml_file(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "demo.toml"
    path.write_text('log_level = "debug"\nport = 7001\n')
    monkeypatch.setenv("KUZET_CONFIG_FILE", str(path))
    settings = load_settings(DemoSettings)
    assert settings.log_level == "DEBUG" and settings.port == 7001


def test_secrets_are_redacted() -> None:
    text = redact("open rtsp://admin:hunter2@10.0.0.5/stream password=hunter2 Bearer abc.def.ghi")
    assert "hunter2" not in text and "abc.def" not in text
    assert "rtsp://***:***@10.0.0.5/stream" in text


def test_log_lines_carry_service_agency_and_trace() -> None:
    from opentelemetry import trace

    from kuzet.common.telemetry import setup_telemetry

    setup_telemetry("tests")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "camera %s url rtsp://u:p@h/s", ("c1",), None)
    token = set_current_caller(Caller("ann", "prison-a"))
    try:
        with trace.get_tracer("t").start_as_current_span("s") as span:
            line = json.loads(JsonFormatter("ingest").format(record))
            trace_id = format(span.get_span_context().trace_id, "032x")
    finally:
        reset_current_caller(token)
    assert line["service"] == "ingest" and line["agency"] == "prison-a" and line["trace_id"] == trace_id
    assert "u:p@" not in line["msg"]


def test_settled_process_keeps_start_up_objects_out_of_collections() -> None:
    import gc

    from kuzet.common.gcpolicy import settle_after_start

    try:
        settle_after_start()
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()

"""The migration entry point the chart's hook Jobs run (python -m kuzet.common.migratejob <svc>)."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from kuzet.common.dbroles import in_schema, runtime_role
from kuzet.common.errors import ConfigError
from kuzet.common.migratejob import database_url_for, main, runtime_url_for

ENV_PY = """
import sqlalchemy as sa
from kuzet.common.db import run_alembic_env

metadata = sa.MetaData()
sa.Table("mjdemo_items", metadata, sa.Column("id", sa.Integer, primary_key=True))
run_alembic_env(metadata)
"""
REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table("mjdemo_items", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("mjdemo_items")
"""


@pytest.fixture
def demo_service(tmp_path: Path) -> Iterator[str]:
    """A throwaway service `mjdemo` with one migration, importable as kuzet.mjdemo.migrations."""
    pkg = tmp_path / "src" / "kuzet" / "mjdemo" / "migrations"
    (pkg / "versions").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "env.py").write_text(textwrap.dedent(ENV_PY))
    (pkg / "versions" / "0001_init.py").write_text(textwrap.dedent(REVISION))
    sys.path.insert(0, str(tmp_path / "src"))  # kuzet is a namespace package: this extends it
    try:
        yield "mjdemo"
    finally:
        sys.path.remove(str(tmp_path / "src"))
        for name in [m for m in sys.modules if m.startswith("kuzet.mjdemo")]:
            del sys.modules[name]


def test_applies_the_services_migrations(
    demo_service: str, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KUZET_MJDEMO_DATABASE_URL", db_url)
    assert main([demo_service]) == 0
    assert main([demo_service]) == 0  # idempotent: a re-run of the hook is harmless
    engine = sa.create_engine(db_url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"mjdemo_items", "alembic_version_mjdemo", "kuzet_audit_log", "alembic_version_audit"} <= tables
    out = capsys.readouterr()
    assert "migrations applied" in out.out
    assert db_url not in out.out + out.err  # the URL may carry a password


def test_service_without_migrations_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUZET_NOSUCHSVC_DATABASE_URL", "sqlite://")
    assert main(["nosuchsvc"]) == 0


def test_missing_url_and_bad_arguments_fail(demo_service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUZET_MJDEMO_DATABASE_URL", raising=False)
    monkeypatch.delenv("KUZET_DATABASE_URL", raising=False)
    assert main([demo_service]) == 2
    assert main([]) == 2
    assert main(["../etc"]) == 2


def test_platform_wide_url_is_the_fallback() -> None:
    env = {"KUZET_DATABASE_URL": "sqlite:///a.db"}
    assert database_url_for("alerting", env) == "sqlite:///a.db"
    env["KUZET_ALERTING_DATABASE_URL"] = "sqlite:///b.db"
    assert database_url_for("alerting", env) == "sqlite:///b.db"


def test_runtime_url_names_a_plain_postgresql_role() -> None:
    role = runtime_role("postgresql://kuzet_alerting:s3cret@db:5432/kuzet")
    assert (role.name, role.password, role.schema) == ("kuzet_alerting", "s3cret", "kuzet_alerting")
    assert runtime_role("postgresql+psycopg://kuzet_gateway@db/kuzet").password is None
    for bad in (
        "sqlite:///a.db",
        "postgresql://Alerting@db/k",
        "postgresql://pg_monitor@db/k",
        "postgresql://db/k",
    ):
        with pytest.raises(ConfigError):
            runtime_role(bad)


def test_owner_url_is_pinned_to_the_schema_keeping_its_own_options() -> None:
    url = make_url(in_schema("postgresql://owner:pw@db/k?options=-cstatement_timeout%3D5000", "kuzet_badge"))
    assert url.query["options"] == "-cstatement_timeout=5000 -csearch_path=kuzet_badge"
    assert url.password == "pw"
    assert runtime_url_for("badge", {"KUZET_BADGE_RUNTIME_DATABASE_URL": "x"}) == "x"
    assert runtime_url_for("badge", {"KUZET_RUNTIME_DATABASE_URL": "x"}) == ""

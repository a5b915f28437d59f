"""A compromised service holds its own database credentials: what can it do to the audit trail?

Every service with a database shares one real PostgreSQL database, each migrated by the chart's
Job (``kuzet.common.migratejob``) as the schema owner, each running as its own runtime role. Connected
as alerting's role, the attacker may append audit records (the service must) but UPDATE, DELETE
and TRUNCATE on the trail are refused by the grants themselves, with the append-only trigger
switched off; badge's tables are out of reach, and no table can be created or altered.
"""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from kuzet.alerting.config import AlertingSettings
from kuzet.alerting.server import build
from kuzet.common.audit import AuditLog
from kuzet.common.auditservice import AuditServicer
from kuzet.common.caller import Caller, reset_current_caller, set_current_caller
from kuzet.common.db import Database, migrate
from kuzet.common.dblease import ensure_table as ensure_lease_table
from kuzet.common.dblease import leases_table
from kuzet.common.holds import ensure_tables as ensure_hold_tables
from kuzet.common.migratejob import main as migrate_job
from kuzet.common.v1 import audit_pb2

pytestmark = pytest.mark.postgres
AUDITOR = Caller("auditor-1", "prison-a", frozenset({"auditor"}))
SERVICES = ("alerting", "badge", "drone", "gateway", "identity", "ingest")


@dataclass(frozen=True)
class Roles:
    owner_url: str
    runtime_urls: dict[str, str]  # service -> its pods' URL (role = schema)
    names: dict[str, str]

    def connect(self, service: str) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.libpq(self.runtime_urls[service]), autocommit=True)

    def owner(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.libpq(self.owner_url), autocommit=True)

    @staticmethod
    def libpq(url: str) -> str:
        return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def roles(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Roles]:
    """Every service migrated by the Job (owner: the test's superuser), each with its own runtime role."""
    prefix = f"kz{uuid.uuid4().hex[:8]}"
    names = {svc: f"{prefix}_{svc}" for svc in SERVICES}
    runtime = {
        svc: make_url(pg_url)
        .set(username=names[svc], password=uuid.uuid4().hex)
        .render_as_string(hide_password=False)
        for svc in SERVICES
    }
    roles = Roles(pg_url, runtime, names)
    try:
        for svc in SERVICES:
            monkeypatch.setenv(f"KUZET_{svc.upper()}_DATABASE_URL", pg_url)
            monkeypatch.setenv(f"KUZET_{svc.upper()}_RUNTIME_DATABASE_URL", runtime[svc])
            assert migrate_job([svc]) == 0
        yield roles
    finally:
        # Roles are cluster-wide: their grants in this database go first, then the roles.
        with roles.owner() as conn:
            for name in names.values():
                if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
                    conn.execute(f'DROP OWNED BY "{name}"')
                    conn.execute(f'DROP ROLE "{name}"')


def _refused(conn: psycopg.Connection[tuple[object, ...]], sql: str) -> str:
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
        conn.execute(sql)
    return str(refused.value)


def test_runtime_role_appends_audit_but_cannot_rewrite_it_even_without_the_trigger(roles: Roles) -> None:
    database = Database(roles.runtime_urls["alerting"])
    try:
        entry = AuditLog(database).append("test.append", "target-1", agency="prison-a", actor="svc")
    finally:
        database.dispose()
    assert entry.seq == 1
    schema = roles.names["alerting"]
    with roles.owner() as owner:
        # As the table's owner could: the trigger is no longer what stops the service.
        owner.execute(f'ALTER TABLE "{schema}".kuzet_audit_log DISABLE TRIGGER USER')
    with roles.connect("alerting") as conn:
        assert conn.execute("SELECT count(*) FROM kuzet_audit_log").fetchone() == (1,)
        for sql in (
            "UPDATE kuzet_audit_log SET actor = 'someone else'",
            "DELETE FROM kuzet_audit_log",
            "TRUNCATE kuzet_audit_log",
        ):
            assert "permission denied for table kuzet_audit_log" in _refused(conn, sql)
        assert "must be owner" in _refused(conn, "ALTER TABLE kuzet_audit_log ENABLE TRIGGER USER")
        # Nor may it move the migrations back to forge a different schema history.
        assert "permission denied" in _refused(conn, "DELETE FROM alembic_version_audit")
        assert conn.execute("SELECT count(*) FROM kuzet_audit_log").fetchone() == (1,)


def test_runtime_role_cannot_touch_another_services_tables(roles: Roles) -> None:
    badge = roles.names["badge"]
    with roles.owner() as owner:
        assert owner.execute(f"SELECT to_regclass('\"{badge}\".badges') IS NOT NULL").fetchone() == (True,)
    with roles.connect("alerting") as conn:
        for sql in (
            f'SELECT * FROM "{badge}".badges',
            f'INSERT INTO "{badge}".kuzet_audit_log (seq) VALUES (1)',
            f'DELETE FROM "{badge}".kuzet_audit_log',
            f'TRUNCATE "{badge}".kuzet_audit_log',
        ):
            assert f"permission denied for schema {badge}" in _refused(conn, sql)
        # Its own schema is for data only: no new tables, no dropping the trail.
        alerting = roles.names["alerting"]
        assert "permission denied for schema" in _refused(conn, f'CREATE TABLE "{alerting}".x (id int)')
        assert "must be owner" in _refused(conn, "DROP TABLE kuzet_audit_log")
        assert "permission denied for schema public" in _refused(conn, "CREATE TABLE public.x (id int)")


def test_every_services_startup_steps_need_no_more_than_its_role(roles: Roles) -> None:
    """What each server does with its database at start: its migrations (at head), the audit
    trail's, the tables made on first use; and a lease row written, as a replica would."""
    for svc in SERVICES:
        database = Database(roles.runtime_urls[svc])
        try:
            if importlib.util.find_spec(f"kuzet.{svc}.migrations") is not None:
                migrate(database, f"kuzet.{svc}.migrations")
            AuditLog(database).append("test.start", svc, agency="prison-a", actor=svc)
            ensure_hold_tables(database)
            ensure_lease_table(database.engine)
            with database.session() as session:
                session.execute(
                    insert(leases_table).values(
                        namespace="t",
                        name=svc,
                        holder="r0",
                        duration_s=9,
                        version="v1",
                        renew_time="",
                        acquire_time="",
                        transitions=0,
                        labels={},
                    )
                )
        finally:
            database.dispose()


async def test_the_service_runs_as_its_runtime_role(roles: Roles, tmp_path: Path) -> None:
    """Startup (migrations at head, holds tables) and an audited call need nothing more."""
    settings = AlertingSettings(database_url=roles.runtime_urls["alerting"], data_dir=tmp_path)
    _, app = await build(settings, port=0)
    token = set_current_caller(AUDITOR)
    try:
        await AuditServicer(app.audit).ListAudit(audit_pb2.ListAuditRequest(), None)
    finally:
        reset_current_caller(token)
        await app.stop()
    schema = roles.names["alerting"]
    with roles.owner() as owner:
        # ListAudit is itself audited: the record went to the service's schema.
        assert owner.execute(f'SELECT count(*) > 0 FROM "{schema}".kuzet_audit_log').fetchone() == (True,)
        assert owner.execute("SELECT to_regclass('public.kuzet_audit_log')").fetchone() == (None,)


def test_job_is_idempotent_and_refuses_powerful_or_misplaced_roles(
    roles: Roles, pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert migrate_job(["alerting"]) == 0  # the hook re-runs on every upgrade
    out = capsys.readouterr()
    for url in roles.runtime_urls.values():
        assert str(make_url(url).password) not in out.out + out.err
    # The owner itself (a superuser here) as the runtime role: the grants would mean nothing.
    monkeypatch.setenv("KUZET_ALERTING_RUNTIME_DATABASE_URL", pg_url)
    assert migrate_job(["alerting"]) == 2
    assert "superuser" in capsys.readouterr().err
    # An installation migrated without roles keeps its tables in public: no silent empty schema.
    monkeypatch.delenv("KUZET_BADGE_RUNTIME_DATABASE_URL")
    assert migrate_job(["badge"]) == 0
    fresh = (
        make_url(pg_url).set(username=f"kz{uuid.uuid4().hex[:8]}_badge").render_as_string(hide_password=False)
    )
    monkeypatch.setenv("KUZET_BADGE_RUNTIME_DATABASE_URL", fresh)
    assert migrate_job(["badge"]) == 2
    assert "schema public" in capsys.readouterr().err
    with roles.owner() as owner:
        assert (
            owner.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (make_url(fresh).username,)).fetchone()
            is None
        )


def test_an_owner_without_createrole_grants_a_role_made_beforehand(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """As with a CloudNativePG application user: the database's CREATE, no CREATEROLE."""
    prefix = f"kz{uuid.uuid4().hex[:8]}"
    owner, runtime = f"{prefix}_owner", f"{prefix}_drone"
    admin_url = Roles.libpq(pg_url)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{owner}" LOGIN')
        admin.execute(f'GRANT CREATE ON DATABASE "{make_url(pg_url).database}" TO "{owner}"')
    owner_url = make_url(pg_url).set(username=owner).render_as_string(hide_password=False)
    runtime_url = make_url(pg_url).set(username=runtime).render_as_string(hide_password=False)
    monkeypatch.setenv("KUZET_DRONE_DATABASE_URL", owner_url)
    monkeypatch.setenv("KUZET_DRONE_RUNTIME_DATABASE_URL", runtime_url)
    try:
        assert migrate_job(["drone"]) == 2  # the role is not there, and may not be made here
        assert "CREATEROLE" in capsys.readouterr().err
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE ROLE "{runtime}" LOGIN')
        assert migrate_job(["drone"]) == 0
        assert "password is not set by this job" in capsys.readouterr().out
        database = Database(runtime_url)
        try:
            AuditLog(database).append("test.append", "target-1", agency="prison-a", actor="svc")
        finally:
            database.dispose()
        # The role has no search_path of its own: PostgreSQL's "$user" finds its schema.
        with psycopg.connect(Roles.libpq(runtime_url), autocommit=True) as conn:
            assert conn.execute("SELECT current_schema()").fetchone() == (runtime,)
            assert "permission denied for table" in _refused(conn, "DELETE FROM kuzet_audit_log")
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            for name in (runtime, owner):
                if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
                    admin.execute(f'DROP OWNED BY "{name}"')  # grants, and the owner's schema
                    admin.execute(f'DROP ROLE "{name}"')

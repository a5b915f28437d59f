"""Per-service PostgreSQL roles: the schema owner migrates, a least-privilege role runs the service.

The migration Job connects as the owner (the URL it always had) and is also given the service's
runtime URL (``KUZET_<SVC>_RUNTIME_DATABASE_URL``, the very URL the service's pods use). The
runtime URL's user names both the runtime role and the schema the service's tables live in, so
one rule ties them together and services that share a database never share a table. The Job:

- creates the schema (owned by the migrating role, never by the runtime role, since an owner may
  drop tables or switch the audit trigger off) and applies the migrations inside it;
- creates the runtime role if missing, with the URL's password hashed by libpq before it is sent
  (the server log never sees it), and pins the role's ``search_path`` to its schema; an owner
  without CREATEROLE (a CloudNativePG application user) leaves an existing role's password and
  settings to whoever made it, and PostgreSQL's default search_path ("$user", public) still
  finds the schema, named after the role;
- grants it USAGE on the schema, SELECT/INSERT/UPDATE/DELETE on its tables, USAGE/SELECT on its
  sequences, only SELECT on the Alembic version tables and only SELECT and INSERT on
  ``kuzet_audit_log``: the audit table stays append-only for the service even with its trigger
  off. No other schema is granted, so the role cannot reach another service's tables.

The owner needs CREATE on the database, and CREATEROLE unless the runtime roles exist already.
A runtime role that is a superuser, may bypass row security, or is (a member of) the owner is
refused: the grants would mean nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

from kuzet.common.db import Database, normalise_url
from kuzet.common.errors import ConfigError

AUDIT_TABLE = "kuzet_audit_log"
# Role names the Job will quote itself; PostgreSQL reserves pg_*.
_ROLE_RE = re.compile(r"^(?!pg_)[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class RuntimeRole:
    """The login role a service's pods use; its schema has the same name."""

    name: str
    password: str | None

    @property
    def schema(self) -> str:
        return self.name


def runtime_role(url: str) -> RuntimeRole:
    """The role of a runtime URL (PostgreSQL only); ConfigError for a name the Job will not quote."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "postgresql":
        raise ConfigError("a runtime database role needs PostgreSQL")
    name = parsed.username or ""
    if not _ROLE_RE.match(name):
        raise ConfigError("the runtime URL's user must be a lowercase role name (a-z, 0-9, _; not pg_*)")
    return RuntimeRole(name, parsed.password or None)


def in_schema(url: str, schema: str) -> str:
    """``url`` with the connection's search_path set to ``schema`` only (libpq ``options``)."""
    parsed = make_url(normalise_url(url))
    earlier = parsed.query.get("options", "")
    if not isinstance(earlier, str):
        earlier = " ".join(earlier)
    options = f"{earlier} -csearch_path={schema}".strip()
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


def prepare_schema(database: Database, role: RuntimeRole, version_tables: Sequence[str]) -> None:
    """Create the service's schema; refuse when its migrations were applied in ``public`` instead.

    An installation that ran without runtime roles keeps its tables in ``public``: migrating an
    empty schema would start the service on empty tables beside its real data.
    """
    with database.engine.begin() as conn:
        _refuse_powerful(conn, role)
        if not _role_exists(conn, role) and not _may_manage_roles(conn):
            raise ConfigError(
                f"runtime role {role.name} does not exist and this role may not create it (CREATEROLE)"
            )
        if not _exists(conn, role.schema, version_tables):
            in_public = [t for t in version_tables if _table_exists(conn, "public", t)]
            if in_public:
                raise ConfigError(
                    f"migrations ({', '.join(in_public)}) are in schema public, not {role.schema}: move the "
                    f"service's tables to schema {role.schema} before using a runtime role (docs/security.md)"
                )
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {_q(role.schema)}"))


def grant_runtime(database: Database, role: RuntimeRole, version_tables: Sequence[str]) -> bool:
    """Give the runtime role exactly its schema's privileges, creating it if missing.

    Returns whether this Job manages the role (its password and search_path): with CREATEROLE it
    does; without (a CloudNativePG application user), the role is the operator's, made beforehand.
    """
    r, s = _q(role.name), _q(role.schema)
    with database.engine.begin() as conn:
        # Two Jobs of one service (a retried hook) create the role one at a time.
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:r))"), {"r": f"kuzet-role:{role.name}"})
        managed = _may_manage_roles(conn)
        if not _role_exists(conn, role):
            conn.execute(text(f"CREATE ROLE {r} LOGIN"))
        _refuse_powerful(conn, role)
        if managed:
            if role.password is not None:
                raw = conn.connection.driver_connection
                assert raw is not None
                # Hashed here (the server's password_encryption, asked by libpq): only the
                # verifier travels, so no statement log holds the password.
                verifier = raw.pgconn.encrypt_password(
                    role.password.encode(), role.name.encode(), None
                ).decode()
                # Driver SQL: a verifier's colons are no bind parameters.
                conn.exec_driver_sql(f"ALTER ROLE {r} WITH LOGIN PASSWORD '{_literal(verifier)}'")
            conn.execute(text(f"ALTER ROLE {r} SET search_path = {s}"))
        conn.execute(text(f"REVOKE ALL ON SCHEMA {s} FROM {r}"))
        conn.execute(text(f"GRANT USAGE ON SCHEMA {s} TO {r}"))
        conn.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {r}"))
        conn.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {r}"))
        for table in version_tables:
            if _table_exists(conn, role.schema, table):
                conn.execute(text(f"REVOKE INSERT, UPDATE, DELETE ON {s}.{_q(table)} FROM {r}"))
        conn.execute(text(f"REVOKE UPDATE, DELETE ON {s}.{_q(AUDIT_TABLE)} FROM {r}"))
        conn.execute(text(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {r}"))
        conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}"))
    return managed


def _may_manage_roles(conn: Connection) -> bool:
    row = conn.execute(
        text("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")
    ).one()
    return bool(row[0])


def _role_exists(conn: Connection, role: RuntimeRole) -> bool:
    return (
        conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role.name}).first() is not None
    )


def _refuse_powerful(conn: Connection, role: RuntimeRole) -> None:
    # The schema's owner is this connection's role until the schema exists.
    row = conn.execute(
        text(
            "SELECT r.rolsuper OR r.rolbypassrls, pg_has_role(r.oid, coalesce(n.nspowner, "
            "(SELECT oid FROM pg_roles WHERE rolname = current_user)), 'MEMBER') "
            "FROM pg_roles r LEFT JOIN pg_namespace n ON n.nspname = :s WHERE r.rolname = :r"
        ),
        {"r": role.name, "s": role.schema},
    ).first()
    if row is None:
        return  # created by grant_runtime, with no attributes
    if row[0]:
        raise ConfigError(f"runtime role {role.name} is a superuser or bypasses row security")
    if row[1]:
        raise ConfigError(f"runtime role {role.name} is (a member of) the owner of schema {role.schema}")


def _exists(conn: Connection, schema: str, tables: Sequence[str]) -> bool:
    return any(_table_exists(conn, schema, t) for t in tables)


def _table_exists(conn: Connection, schema: str, table: str) -> bool:
    found = conn.execute(text("SELECT to_regclass(:name)"), {"name": f"{_q(schema)}.{_q(table)}"}).scalar()
    return found is not None


def _q(name: str) -> str:
    # Every name here is a validated role/schema name or one of our own table names.
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ConfigError(f"not a plain identifier: {name!r}")
    return f'"{name}"'


def _literal(value: str) -> str:
    return value.replace("'", "''")

"""``python -m kuzet.common.migratejob <service>``: apply a service's Alembic migrations and exit.

The Helm chart runs this in a pre-install/pre-upgrade hook Job, so schema changes land once, before
any new replica starts, instead of racing from every pod. The audit trail's own migrations
(``kuzet.common.auditmigrations``: its table, key ids, the append-only trigger) are applied for
every service with a database, the gateway included, which has no schema of its own. The URL comes from the same variables the
service reads (``KUZET_<SVC>_DATABASE_URL``, then ``KUZET_DATABASE_URL``); it is never printed.

With ``KUZET_<SVC>_RUNTIME_DATABASE_URL`` (the URL the service's pods use, on PostgreSQL) the
first URL is the schema owner's: the migrations go into the schema named after the runtime URL's
role, and that role is created and granted only what the service needs (``kuzet.common.dbroles``).
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys

from kuzet.common.audit import MIGRATIONS as AUDIT_MIGRATIONS
from kuzet.common.audit import VERSION_TABLE as AUDIT_VERSION_TABLE
from kuzet.common.db import Database, migrate
from kuzet.common.dblease import ensure_table as ensure_lease_table
from kuzet.common.dbroles import RuntimeRole, grant_runtime, in_schema, prepare_schema, runtime_role
from kuzet.common.errors import ConfigError
from kuzet.common.holds import ensure_tables as ensure_hold_tables

_SERVICE_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def database_url_for(service: str, environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get(f"KUZET_{service.upper()}_DATABASE_URL") or env.get("KUZET_DATABASE_URL", "")


def runtime_url_for(service: str, environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get(f"KUZET_{service.upper()}_RUNTIME_DATABASE_URL", "")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not _SERVICE_RE.match(args[0]):
        print("usage: python -m kuzet.common.migratejob <service>", file=sys.stderr)
        return 2
    service = args[0]
    package = f"kuzet.{service}.migrations"
    try:
        spec = importlib.util.find_spec(package)
    except ModuleNotFoundError:  # the service itself is not installed in this image
        spec = None
    url = database_url_for(service)
    if spec is None and not url:
        # The chart runs a Job for every service with a database; one without schema is done.
        print(f"{service}: no migrations package {package}; nothing to do", flush=True)
        return 0
    if not url:
        print(f"{service}: set KUZET_{service.upper()}_DATABASE_URL (or KUZET_DATABASE_URL)", file=sys.stderr)
        return 2
    role: RuntimeRole | None = None
    managed = True
    runtime_url = runtime_url_for(service)
    try:
        if runtime_url:
            role = runtime_role(runtime_url)
            url = in_schema(url, role.schema)
    except ConfigError as exc:
        print(f"{service}: KUZET_{service.upper()}_RUNTIME_DATABASE_URL: {exc}", file=sys.stderr)
        return 2
    version_tables = ([f"alembic_version_{service}"] if spec is not None else []) + [AUDIT_VERSION_TABLE]
    database = Database(url)
    try:
        if role is not None:
            prepare_schema(database, role, version_tables)
        if spec is not None:
            migrate(database, package)
        migrate(database, AUDIT_MIGRATIONS, version_table=AUDIT_VERSION_TABLE)
        if role is not None:
            # Tables the services otherwise create on first use, which their role may not.
            ensure_hold_tables(database)
            ensure_lease_table(database.engine)
            managed = grant_runtime(database, role, version_tables)
    except ConfigError as exc:
        print(f"{service}: {exc}", file=sys.stderr)
        return 2
    finally:
        database.engine.dispose()
    print(f"{service}: migrations applied", flush=True)
    if role is not None:
        print(f"{service}: runtime role {role.name} granted its schema {role.schema} only", flush=True)
        if not managed:
            print(f"{service}: no CREATEROLE here: {role.name}'s password is not set by this job", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Alembic environment of the audit trail (AuditLog and every service's migration Job run it)."""

from kuzet.common.audit import metadata
from kuzet.common.db import run_alembic_env

run_alembic_env(metadata)

"""Alembic environment of the alerting service (kuzet.common.db.migrate runs it)."""

from kuzet.alerting.models import Base
from kuzet.common.db import run_alembic_env

run_alembic_env(Base.metadata)

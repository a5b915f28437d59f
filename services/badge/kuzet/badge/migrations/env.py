"""Alembic environment of the badge service (run through kuzet.common.db.migrate)."""

from kuzet.badge.models import Base
from kuzet.common.db import run_alembic_env

run_alembic_env(Base.metadata)

"""Alembic environment of the traffic service (run through kuzet.common.db.migrate)."""

from kuzet.common.db import run_alembic_env
from kuzet.traffic.models import Base

run_alembic_env(Base.metadata)

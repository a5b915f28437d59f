"""Alembic environment of the drone service (kuzet.common.db.migrate runs it)."""

from kuzet.common.db import run_alembic_env
from kuzet.drone.models import Base

run_alembic_env(Base.metadata)

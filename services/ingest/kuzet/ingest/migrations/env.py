"""Alembic environment of the ingest service (kuzet.common.db.migrate runs it)."""

from kuzet.common.db import run_alembic_env
from kuzet.ingest.store import Base

run_alembic_env(Base.metadata)

"""Alembic environment of the identity service (kuzet.common.db.migrate runs it)."""

from kuzet.common.db import run_alembic_env
from kuzet.identity.models import Base

run_alembic_env(Base.metadata)

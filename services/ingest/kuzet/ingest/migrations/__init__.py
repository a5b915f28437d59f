"""Alembic migrations of the ingest service."""

"""Alembic migrations of the amu-bot schema."""

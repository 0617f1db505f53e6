"""Alembic environment: runs on the connection that bot.db hands over (async engines too)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

import models

config = context.config
target_metadata = models.metadata


def run_on(connection: Connection) -> None:
    """Run the migrations in one transaction on a ready connection."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `amu-bot db upgrade`, which supplies the engine")
run_on(connection)

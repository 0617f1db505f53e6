"""Engine, sessions and schema migrations."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


class SchemaError(Exception):
    """The database holds a schema this version of amu-bot does not know."""


class NotMigratedError(SchemaError):
    """The database exists but amu-bot has never migrated it (`amu-bot db upgrade` will)."""


# pg_advisory_xact_lock key for schema migrations: several `amu-bot run` processes starting at
# once would otherwise race to create the same tables. ("amu-mig" as an integer, any constant
# no other part of amu-bot locks on would do.)
MIGRATION_LOCK_KEY = 0x616D752D6D6967


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names (None for other databases and for in-memory SQLite)."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None
    return Path(database).expanduser()


def _check_sqlite_path(url: str) -> None:
    """Fail early, in plain words, where SQLite could not create its file.

    Found before connecting on purpose: a failed aiosqlite connect leaves a worker thread that
    reports to an event loop already closed, and the user would see a stray traceback.
    """
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    folder = Path(database).expanduser().resolve().parent
    if not folder.is_dir():
        raise FileNotFoundError(f"the folder for the SQLite file does not exist: {folder}")


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout on every connection."""
    if url.startswith("sqlite"):
        _check_sqlite_path(url)
        kwargs.setdefault("connect_args", {"timeout": 30})
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    return engine


@dataclass
class Database:
    """The engine and the session factory, built once per process."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Database:
        """Connect lazily to the database at `url`."""
        engine = create_engine(url, **kwargs)
        return cls(engine, async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False))

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session; commit is the caller's, rollback happens on error."""
        async with self.sessions() as session:
            yield session

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def alembic_config() -> Config:
    """Alembic's configuration, pointing at the migrations shipped inside `models`."""
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("models") / "migrations"))
    return cfg


def _head(cfg: Config) -> str | None:
    return ScriptDirectory.from_config(cfg).get_current_head()


def _known(cfg: Config) -> set[str]:
    return {rev.revision for rev in ScriptDirectory.from_config(cfg).walk_revisions()}


def _current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _upgrade(conn: Connection, cfg: Config, target: str) -> None:
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, target)


def _downgrade(conn: Connection, cfg: Config, target: str) -> None:
    cfg.attributes["connection"] = conn
    command.downgrade(cfg, target)


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None for a database never migrated."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


async def upgrade(engine: AsyncEngine, target: str = "head") -> tuple[str | None, str | None]:
    """Migrate to `target`; returns the revisions before and after.

    On PostgreSQL the migration holds an advisory lock for its transaction, so processes that
    start at once migrate one after the other (the later ones find the schema already at head).
    """
    cfg = alembic_config()
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        before = await conn.run_sync(_current)
        if before is not None and before not in _known(cfg):
            raise SchemaError(
                f"the database is at revision {before}, which this amu-bot does not know "
                "(was it migrated by a newer version?)"
            )
        await conn.run_sync(_upgrade, cfg, target)
        after = await conn.run_sync(_current)
    return before, after


async def downgrade(engine: AsyncEngine, target: str) -> None:
    """Migrate down to `target` (tests use it to prove migrations reverse)."""
    cfg = alembic_config()
    async with engine.begin() as conn:
        await conn.run_sync(_downgrade, cfg, target)


async def prepare_for_run(engine: AsyncEngine) -> str:
    """Bring an empty or older database to head; refuse a schema this version does not know."""
    cfg = alembic_config()
    async with engine.connect() as conn:
        current = await conn.run_sync(_current)
        tables = await conn.run_sync(_tables)
    if current is None and tables - {"alembic_version"}:
        raise SchemaError(
            "the database has tables but no migration history; "
            "point DATABASE_URL at an amu-bot database or an empty one"
        )
    if current is not None and current not in _known(cfg):
        raise SchemaError(
            f"the database is at revision {current}, which this amu-bot does not know "
            "(was it migrated by a newer version?)"
        )
    head = _head(cfg)
    if current != head:
        await upgrade(engine)
    return head or ""


async def check_ready(engine: AsyncEngine) -> str:
    """For commands that must not create a database: it is migrated, then brought to head.

    Raises NotMigratedError for an empty (or foreign) database, SchemaError for an unknown
    revision. An older amu-bot schema is upgraded, as `run` would.
    """
    async with engine.connect() as conn:
        current = await conn.run_sync(_current)
    if current is None:
        raise NotMigratedError("the database has not been set up by amu-bot")
    return await prepare_for_run(engine)


@asynccontextmanager
async def scratch_database(server_url: str, prefix: str = "amu_scratch_") -> AsyncIterator[str]:
    """A new, empty PostgreSQL database beside the one `server_url` names, dropped on exit.

    For tests and benchmarks: `server_url` is only used to connect while creating and dropping.
    """
    import asyncpg  # PostgreSQL only; SQLite needs no such thing

    base = make_url(server_url)
    if base.get_backend_name() != "postgresql":
        raise ValueError(f"scratch databases are for PostgreSQL, not {base.get_backend_name()}")
    name = f"{prefix}{secrets.token_hex(4)}"
    admin_dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    await admin(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

"""Migrations build exactly the models' schema, reverse cleanly, and guard foreign databases."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import models
from bot.db import (
    Database,
    SchemaError,
    alembic_config,
    current_revision,
    downgrade,
    prepare_for_run,
    scratch_database,
    upgrade,
)

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()
TABLES = {t.name for t in models.metadata.sorted_tables}


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on a brand-new, empty database of this test's own."""
    base = os.environ.get("AMU_TEST_DATABASE_URL") or None
    if base is None:
        db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}")
        yield db.engine
        await db.dispose()
        return

    async with scratch_database(base, "amu_mig_") as url:
        db = Database.from_url(url)
        try:
            yield db.engine
        finally:
            await db.dispose()


def _diff(conn: Connection) -> list[object]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, models.metadata))


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


async def tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return await conn.run_sync(_tables)


async def schema_diff(engine: AsyncEngine) -> list[object]:
    async with engine.connect() as conn:
        return await conn.run_sync(_diff)


def test_one_linear_head() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert HEAD is not None
    assert script.get_heads() == [HEAD]


async def test_upgrade_from_empty_matches_the_models(engine: AsyncEngine) -> None:
    assert await current_revision(engine) is None
    before, after = await upgrade(engine)
    assert (before, after) == (None, HEAD)
    assert await current_revision(engine) == HEAD
    assert await tables(engine) == TABLES | {"alembic_version"}
    assert await schema_diff(engine) == []


async def test_upgrade_twice_is_a_no_op(engine: AsyncEngine) -> None:
    await upgrade(engine)
    assert await upgrade(engine) == (HEAD, HEAD)


async def test_downgrade_to_base_and_up_again(engine: AsyncEngine) -> None:
    await upgrade(engine)
    await downgrade(engine, "base")
    assert await tables(engine) == {"alembic_version"}
    assert await current_revision(engine) is None
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            leftovers = (
                await conn.execute(
                    text(
                        "SELECT c.relname FROM pg_class c JOIN pg_namespace n "
                        "ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
                        "AND c.relkind IN ('S', 'i') AND c.relname NOT LIKE 'alembic%'"
                    )
                )
            ).all()
        assert leftovers == []

    assert await upgrade(engine) == (None, HEAD)
    assert await schema_diff(engine) == []


async def test_prepare_for_run_migrates_an_empty_database(engine: AsyncEngine) -> None:
    assert await prepare_for_run(engine) == HEAD
    assert await current_revision(engine) == HEAD
    assert await tables(engine) == TABLES | {"alembic_version"}
    # A second start finds it ready.
    assert await prepare_for_run(engine) == HEAD


async def test_unknown_revision_is_refused(engine: AsyncEngine) -> None:
    await upgrade(engine)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = 'ffff_future'"))
    with pytest.raises(SchemaError, match="ffff_future"):
        await prepare_for_run(engine)
    with pytest.raises(SchemaError, match="ffff_future"):
        await upgrade(engine)
    assert await current_revision(engine) == "ffff_future"


async def test_foreign_tables_without_history_are_refused(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total INTEGER)"))
        await conn.execute(text("INSERT INTO invoices (id, total) VALUES (1, 100)"))
    with pytest.raises(SchemaError, match="no migration history"):
        await prepare_for_run(engine)
    # Nothing was created next to the foreign table, and its data is untouched.
    assert await tables(engine) == {"invoices"}
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT total FROM invoices"))).scalar_one() == 100


async def test_concurrent_upgrades_on_postgresql_do_not_race(tmp_path: Path) -> None:
    """Several `amu-bot run` processes starting at once on one empty database all succeed."""
    import asyncio

    base = os.environ.get("AMU_TEST_DATABASE_URL") or None
    if base is None:
        pytest.skip("PostgreSQL only: SQLite serves one process")
    async with scratch_database(base, "amu_race_") as url:
        dbs = [Database.from_url(url) for _ in range(4)]
        try:
            # Without the lock they fail on each other's tables or wait on each other forever.
            results = await asyncio.wait_for(
                asyncio.gather(
                    *(prepare_for_run(db.engine) for db in dbs), return_exceptions=True
                ),
                timeout=60,
            )
            assert results == [HEAD] * 4
            assert await tables(dbs[0].engine) == TABLES | {"alembic_version"}
        finally:
            for db in dbs:
                await db.dispose()

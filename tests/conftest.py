"""Fixtures: one database per test session (SQLite, or PostgreSQL via AMU_TEST_DATABASE_URL)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

import models
from bot.db import Database, scratch_database, upgrade
from bot.services.imports import ImportKind, import_csv
from tests.harness import Harness

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NOW = datetime(2025, 11, 20, 10, 0, tzinfo=UTC)
TODAY = date(2025, 11, 20)


def _postgres_url() -> str | None:
    return os.environ.get("AMU_TEST_DATABASE_URL") or None


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, empty database for this test session."""
    base = _postgres_url()
    if base is None:
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    # A database of our own, so a run never touches (or is disturbed by) another one.
    import asyncio

    runner = asyncio.Runner()
    scratch = scratch_database(base, "amu_test_")
    try:
        yield runner.run(scratch.__aenter__())
    finally:
        runner.run(scratch.__aexit__(None, None, None))
        runner.close()


@pytest.fixture(scope="session")
async def migrated(database_url: str) -> AsyncIterator[Database]:
    """The session's database, migrated to head once."""
    db = Database.from_url(database_url)
    await upgrade(db.engine)
    yield db
    await db.dispose()


TABLES = [t.name for t in reversed(models.metadata.sorted_tables)]


@pytest.fixture
async def db(migrated: Database) -> AsyncIterator[Database]:
    """The migrated database, emptied before each test."""
    async with migrated.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            truncate = f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"
            await conn.execute(text(truncate))
        else:
            for table in TABLES:
                await conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - our tables
    yield migrated


async def load_examples(db: Database, *, today: date = TODAY) -> None:
    """The sample councils, roster, charges (2025 accrued at 1.16), payments and programme."""
    from decimal import Decimal

    from bot.services import dues, programme_seed

    async with db.session() as session:
        for kind in (ImportKind.MEMBERS, ImportKind.OFFICIALS, ImportKind.CHARGES):
            result = await import_csv(
                session=session,
                kind=kind,
                data=(EXAMPLES / f"{kind.value}.csv").read_bytes(),
                today=today,
                now=NOW,
            )
            assert result.ok, result.problems
        await dues.accrue(
            session=session,
            year=2025,
            rate=Decimal("1.16"),
            due_date=date(2025, 3, 31),
            minimum_kop=100_000,
            fund_rate=Decimal("1.16"),
        )
        result = await import_csv(
            session=session,
            kind=ImportKind.PAYMENTS,
            data=(EXAMPLES / "payments.csv").read_bytes(),
            today=today,
            now=NOW,
        )
        assert result.ok, result.problems
        # The programme: sections, events, trainings and some registrations.
        for kind in (ImportKind.SECTIONS, ImportKind.EVENTS, ImportKind.TRAININGS):
            result = await import_csv(
                session=session,
                kind=kind,
                data=(EXAMPLES / f"{kind.value}.csv").read_bytes(),
                today=today,
                now=NOW,
            )
            assert result.ok, result.problems
        seeded = await programme_seed.seed_registrations(
            session=session, data=(EXAMPLES / "registrations.csv").read_bytes(), now=NOW
        )
        assert not seeded.problems, seeded.problems


@pytest.fixture
async def examples(db: Database) -> Database:
    """The database loaded with the sample data."""
    await load_examples(db)
    return db


@pytest.fixture
async def harness(db: Database) -> AsyncIterator[Harness]:
    """The real Application on the test database, recording every Bot API call."""
    h = await Harness.start(db)
    yield h
    await h.stop()

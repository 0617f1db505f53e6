"""The sample programme (sections, events, trainings) for tests, on top of the sample registry."""

from __future__ import annotations

from datetime import date

from bot.db import Database
from bot.services.imports import ImportKind, import_csv
from tests.conftest import EXAMPLES, NOW, TODAY


async def load_programme(db: Database, *, today: date = TODAY) -> None:
    """Sections (the standard list), events and trainings from examples/."""
    async with db.session() as session:
        for kind in (ImportKind.SECTIONS, ImportKind.EVENTS, ImportKind.TRAININGS):
            result = await import_csv(
                session=session,
                kind=kind,
                data=(EXAMPLES / f"{kind.value}.csv").read_bytes(),
                today=today,
                now=NOW,
            )
            assert result.ok, result.problems

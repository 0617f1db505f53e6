"""/deadlines through the real Application: each person sees the deadlines that concern them."""

from __future__ import annotations

from datetime import timedelta

from bot.db import Database
from bot.services import deadlines
from tests.conftest import NOW
from tests.harness import ADMIN_ID, Harness
from tests.test_handlers import KREMENCHUK, OLENA, STRANGER, link


async def add(db: Database, title: str, audience: str, days: float) -> None:
    async with db.session() as session:
        await deadlines.add(
            session=session,
            title_uk=f"{title} uk",
            title_en=f"{title} en",
            description_uk="Опис <важливий>",
            due_at=NOW + timedelta(days=days),
            now=NOW - timedelta(days=30),
            audience=audience,
        )


async def test_deadlines_by_audience(examples: Database, harness: Harness) -> None:
    await add(examples, "Everyone", "all", 3)
    await add(examples, "Poltava", "region:Полтавська", 1)
    await add(examples, "Kyiv", "region:Київ", 2)
    await add(examples, "Passed", "all", -1)
    await link(harness, examples, OLENA, KREMENCHUK)

    await harness.send(OLENA, "/deadlines")
    text = harness.request.texts()[-1]
    assert "Чинні строки" in text
    assert text.index("Poltava uk") < text.index("Everyone uk")  # soonest first
    assert "Kyiv" not in text and "Passed" not in text
    assert "Опис &lt;важливий&gt;" in text  # people's text is escaped for HTML
    assert "21 листопада 2025" in text

    await harness.send(STRANGER, "/deadlines", lang="en")
    text = harness.request.texts()[-1]
    assert "Open deadlines" in text and "Everyone en" in text and "Poltava" not in text

    await harness.send(ADMIN_ID, "/deadlines")
    text = harness.request.texts()[-1]
    assert all(f"{name} uk" in text for name in ("Everyone", "Poltava", "Kyiv"))


async def test_no_open_deadlines(harness: Harness) -> None:
    await harness.send(STRANGER, "/deadlines")
    assert harness.request.texts()[-1] == "Наразі немає строків, про які варто нагадати."

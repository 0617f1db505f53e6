"""/settings for a linked official: kinds of news, sections, reminders, quiet hours; forged
buttons and strangers change nothing."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlmodel import col

from bot.db import Database
from models import Section, SectionSubscription, TelegramUser
from tests.harness import Harness
from tests.programme import load_programme
from tests.recording import RecordingRequest
from tests.test_handlers import link

OLENA, STRANGER = 111, 222
KREMENCHUK = "04057287"


def labels(request: RecordingRequest) -> list[str]:
    """Texts of the inline buttons on the last message sent or edited."""
    call = [c for c in request.calls if c.method in ("sendMessage", "editMessageText")][-1]
    markup = call.params.get("reply_markup")
    data = json.loads(markup) if isinstance(markup, str) else markup
    assert isinstance(data, dict)
    return [b["text"] for row in data.get("inline_keyboard", []) for b in row]


async def user(db: Database, telegram_id: int) -> TelegramUser:
    async with db.session() as session:
        found = await session.get(TelegramUser, telegram_id)
    assert found is not None
    return found


async def followed(db: Database, telegram_id: int) -> list[str]:
    async with db.session() as session:
        rows = await session.execute(
            select(col(Section.code))
            .join(SectionSubscription, col(SectionSubscription.section_id) == col(Section.id))
            .where(col(SectionSubscription.telegram_id) == telegram_id)
        )
        return sorted(rows.scalars())


async def test_linking_says_where_to_choose_news(examples: Database, harness: Harness) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    assert "«⚙️ Налаштування»" in harness.request.texts()[-1]


async def test_kinds_of_news_and_reminders_are_switched(
    examples: Database, harness: Harness
) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    harness.request.reset()
    await harness.send(OLENA, "/settings")
    text = harness.request.texts()[-1]
    assert "Види новин: 5 з 5" in text and "Секції: не обрано" in text
    assert "Нагадування про події: за день, за годину" in text
    assert "Не турбувати: 21:00–08:00 (типово)" in text
    assert harness.request.buttons() == [
        "set:lang:uk",
        "set:lang:en",
        "set:v:1",
        "set:v:2",
        "set:v:3",
    ]
    await harness.press(OLENA, "set:v:1")
    assert harness.request.buttons()[-1] == "set:v:0"
    assert "✅ Загальні оголошення" in labels(harness.request)
    await harness.press(OLENA, "set:f:4")  # general announcements
    await harness.press(OLENA, "set:f:6")  # an hour before
    assert harness.request.answers()[-1] == "Збережено"
    assert "▫️ Загальні оголошення" in labels(harness.request)
    person = await user(examples, OLENA)
    assert not person.news_general and not person.remind_hour_before
    assert person.news_dues and person.remind_day_before
    await harness.press(OLENA, "set:v:0")
    text = harness.request.texts()[-1]
    assert "Види новин: 4 з 5" in text and "Нагадування про події: за день\n" in text


async def test_sections_are_followed_and_forged_ones_refused(
    examples: Database, harness: Harness
) -> None:
    await load_programme(examples)
    await link(harness, examples, OLENA, KREMENCHUK)
    await harness.press(OLENA, "set:v:2")
    buttons = harness.request.buttons()
    assert len(buttons) > 3 and buttons[-1] == "set:v:0"
    first = buttons[0]
    await harness.press(OLENA, first)
    assert harness.request.answers()[-1] == "Збережено"
    assert labels(harness.request)[0].startswith("✅ ")
    [code] = await followed(examples, OLENA)
    await harness.press(OLENA, "set:s:999999")  # forged: no such section
    assert harness.request.answers()[-1] == "Цієї секції вже немає. Оновлюю список."
    assert await followed(examples, OLENA) == [code]
    await harness.press(OLENA, first)  # a second tap stops following
    assert await followed(examples, OLENA) == []
    await harness.press(OLENA, "set:v:0")
    assert "Секції: не обрано" in harness.request.texts()[-1]


async def test_sections_are_listed_in_the_readers_alphabetical_order(
    examples: Database, harness: Harness
) -> None:
    await load_programme(examples)
    await link(harness, examples, OLENA, KREMENCHUK)
    await harness.press(OLENA, "set:v:2")
    names = [label.removeprefix("▫️ ") for label in labels(harness.request)[:-1]]
    assert names[:3] == ["Безпека громад", "Гендерна рівність", "Енергетика та енергоефективність"]
    assert names.index("Житлово-комунальне господарство") < names.index("Земельні відносини")


async def test_quiet_hours_are_chosen_from_presets(examples: Database, harness: Harness) -> None:
    await link(harness, examples, OLENA, KREMENCHUK, lang="en")
    await harness.press(OLENA, "set:v:3", lang="en")
    assert labels(harness.request)[:4] == ["✓ 21:00–08:00", "22:00–07:00", "23:00–09:00", "off"]
    await harness.press(OLENA, "set:q:1", lang="en")
    assert (await user(examples, OLENA)).quiet_hours == "22:00-07:00"
    assert labels(harness.request)[1] == "✓ 22:00–07:00"
    await harness.press(OLENA, "set:q:3", lang="en")
    assert (await user(examples, OLENA)).quiet_hours == "off"
    await harness.press(OLENA, "set:q:99", lang="en")  # forged: no such preset
    assert (await user(examples, OLENA)).quiet_hours == "off"
    await harness.press(OLENA, "set:v:0", lang="en")
    assert "Do not disturb: off" in harness.request.texts()[-1]


async def test_strangers_change_nothing(examples: Database, harness: Harness) -> None:
    await harness.send(STRANGER, "/settings")
    assert harness.request.buttons() == ["set:lang:uk", "set:lang:en"]
    for data in ("set:f:0", "set:q:1", "set:s:1", "set:v:1"):
        await harness.press(STRANGER, data)
    assert (
        harness.request.answers()
        == ["Ці налаштування стануть доступні, щойно ви під'єднаєте обліковий запис своєї ради."]
        * 4
    )
    person = await user(examples, STRANGER)
    assert person.news_events and person.quiet_hours is None
    assert await followed(examples, STRANGER) == []

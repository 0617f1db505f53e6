"""/admin → 📣 Announce: the draft is a database row, the preview is what recipients get,
staff confirm and read the delivery report; strangers and forged buttons change nothing."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from bot.db import Database
from models import Announcement, AnnouncementDraft, Outbox, Role
from tests.harness import ADMIN_ID, Harness
from tests.test_handlers import link

OLENA, STRANGER, COORDINATOR = 111, 222, 444
KREMENCHUK, POLTAVA = "04057287", "04050644"


def markup(harness: Harness, back: int = 1) -> dict[str, Any]:
    sent = [c for c in harness.request.calls if c.method in ("sendMessage", "editMessageText")]
    raw = sent[-back].params.get("reply_markup")
    data = json.loads(raw) if isinstance(raw, str) else raw
    assert isinstance(data, dict)
    return data


async def draft_of(db: Database, author: int) -> AnnouncementDraft | None:
    async with db.session() as session:
        return await session.get(AnnouncementDraft, author)


async def everything(db: Database, table: Any) -> list[Any]:
    async with db.session() as session:
        return list((await session.execute(select(table))).scalars())


async def test_staff_compose_preview_send_and_read_the_report(
    examples: Database, harness: Harness
) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    await harness.send(ADMIN_ID, "/admin")
    assert "ann:go" in harness.request.buttons()
    await harness.press(ADMIN_ID, "ann:go")
    assert "Нове оголошення" in harness.request.texts()[-1]
    await harness.send(ADMIN_ID, "Загальні збори 5 грудня <b>о 10:00</b>")
    draft = await draft_of(examples, ADMIN_ID)
    assert draft is not None and draft.step == "link"  # the draft is a row, not user_data
    await harness.send(ADMIN_ID, "не посилання")
    assert "не схоже на адресу" in harness.request.texts()[-1]
    await harness.send(ADMIN_ID, "https://www.auc.org.ua/zbory")
    assert harness.request.buttons() == [*(f"ann:a:{n}" for n in range(5)), "ann:x"]
    await harness.press(ADMIN_ID, "ann:a:0")
    assert harness.request.buttons() == ["ann:now", "ann:at", "ann:x"]
    harness.request.reset()
    await harness.press(ADMIN_ID, "ann:now")
    preview, summary = harness.request.texts()[-2:]
    assert preview == "Загальні збори 5 грудня &lt;b&gt;о 10:00&lt;/b&gt;"
    assert markup(harness, 2)["inline_keyboard"] == [
        [{"text": "🔗 auc.org.ua", "url": "https://www.auc.org.ua/zbory"}]
    ]
    assert "Отримувачів зараз: 1" in summary and "одразу після підтвердження" in summary
    await harness.press(ADMIN_ID, "ann:ok")
    [item] = await everything(examples, Announcement)
    assert item.link_url == "https://www.auc.org.ua/zbory" and item.audience == "all"
    [row] = await everything(examples, Outbox)
    assert row.recipient == OLENA and row.text == preview
    assert row.buttons == [[{"text": "🔗 auc.org.ua", "url": "https://www.auc.org.ua/zbory"}]]
    report = harness.request.texts()[-1]
    assert f"Оголошення №{item.id}" in report and "У черзі: 1" in report
    assert "Доставлено: 0" in report
    assert harness.request.buttons() == [f"ann:st:{item.id}"]
    assert await draft_of(examples, ADMIN_ID) is None
    # The report is refreshed in place; a second confirmation sends nothing more.
    await harness.press(ADMIN_ID, f"ann:st:{item.id}")
    assert "У черзі: 1" in harness.request.texts()[-1]
    await harness.press(ADMIN_ID, "ann:ok")
    assert "неактуальна" in (harness.request.answers()[-1] or "")
    assert len(await everything(examples, Announcement)) == 1


async def test_a_scheduled_announcement_to_a_region(examples: Database, harness: Harness) -> None:
    await harness.press(ADMIN_ID, "ann:go")
    await harness.send(ADMIN_ID, "Нарада координаторів")
    await harness.press(ADMIN_ID, "ann:nolink")
    await harness.press(ADMIN_ID, "ann:a:1")
    regions = harness.request.buttons()
    assert regions[0] == "ann:r:0" and regions[-1] == "ann:x"
    await harness.press(ADMIN_ID, "ann:r:999")  # forged
    assert (await draft_of(examples, ADMIN_ID)).step == "audience"  # type: ignore[union-attr]
    await harness.press(ADMIN_ID, "ann:r:0")
    await harness.press(ADMIN_ID, "ann:at")
    await harness.send(ADMIN_ID, "завтра")
    assert "Не вдалося прочитати" in harness.request.texts()[-1]
    await harness.send(ADMIN_ID, "2020-01-01 10:00")
    assert "уже минув" in harness.request.texts()[-1]
    await harness.send(ADMIN_ID, "2025-12-01 10:00")
    assert "1 грудня 2025" in harness.request.texts()[-1]
    await harness.press(ADMIN_ID, "ann:ok")
    [item] = await everything(examples, Announcement)
    assert item.audience.startswith("region:") and item.expanded_at is None
    assert "заплановано на 1 грудня 2025" in harness.request.texts()[-1]
    assert await everything(examples, Outbox) == []


async def test_cancel_forgets_the_draft(examples: Database, harness: Harness) -> None:
    await harness.press(ADMIN_ID, "ann:go")
    await harness.send(ADMIN_ID, "Чернетка")
    await harness.press(ADMIN_ID, "ann:x")
    assert "скасовано" in harness.request.texts()[-1]
    assert await draft_of(examples, ADMIN_ID) is None
    await harness.send(ADMIN_ID, "просто текст")  # no draft: the usual hint
    assert "меню" in harness.request.texts()[-1].lower()


async def test_strangers_and_officials_cannot_announce(
    examples: Database, harness: Harness
) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    for user in (STRANGER, OLENA):
        await harness.press(user, "ann:go")
        await harness.send(user, "/announce")
        await harness.press(user, "ann:a:0")
        await harness.press(user, "ann:ok")
        assert await draft_of(examples, user) is None
    assert await everything(examples, Announcement) == []


async def test_coordinators_address_only_their_region(
    examples: Database, harness: Harness
) -> None:
    await link(harness, examples, COORDINATOR, POLTAVA, Role.COORDINATOR)
    await harness.send(COORDINATOR, "/announce")
    await harness.send(COORDINATOR, "Нарада в Полтаві")
    await harness.press(COORDINATOR, "ann:nolink")
    rows = markup(harness)["inline_keyboard"]
    [button] = [b for row in rows for b in row if b["callback_data"] != "ann:x"]
    assert button["text"] == "Посадовим особам регіону: Полтавська"
    await harness.press(COORDINATOR, "ann:a:0")  # forged: everyone
    assert "лише посадовим особам свого регіону" in (harness.request.answers()[-1] or "")
    await harness.press(COORDINATOR, "ann:r:0")  # the first region is not theirs
    assert (await draft_of(examples, COORDINATOR)).audience is None  # type: ignore[union-attr]
    await harness.press(COORDINATOR, button["callback_data"])
    await harness.press(COORDINATOR, "ann:now")
    await harness.press(COORDINATOR, "ann:ok")
    [item] = await everything(examples, Announcement)
    assert item.audience == "region:Полтавська"

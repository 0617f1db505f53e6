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
    assert "Кнопку з посиланням додано" in harness.request.texts()[-1]
    assert harness.request.buttons() == ["ann:nolink", "ann:x"]
    assert markup(harness)["inline_keyboard"][0][0]["text"] == "Далі →"
    await harness.press(ADMIN_ID, "ann:nolink")
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
    assert button["text"] == "Посадовим особам регіону: Полтавська обл."
    await harness.press(COORDINATOR, "ann:a:0")  # forged: everyone
    assert "лише посадовим особам свого регіону" in (harness.request.answers()[-1] or "")
    await harness.press(COORDINATOR, "ann:r:0")  # the first region is not theirs
    assert (await draft_of(examples, COORDINATOR)).audience is None  # type: ignore[union-attr]
    await harness.press(COORDINATOR, button["callback_data"])
    await harness.press(COORDINATOR, "ann:now")
    await harness.press(COORDINATOR, "ann:ok")
    [item] = await everything(examples, Announcement)
    assert item.audience == "region:Полтавська"


PDF = {
    "file_id": "BQACAgIAAxkBAAIBZ2dQproektZakonu",
    "file_unique_id": "AgADproekt",
    "file_name": "proekt-zakonu.pdf",
    "mime_type": "application/pdf",
    "file_size": 250_000,
}
PHOTO = {"photo": [{"file_id": "AgACphoto", "file_unique_id": "p1", "width": 90, "height": 90}]}
STICKER = {
    "sticker": {
        "file_id": "CAACsticker",
        "file_unique_id": "s1",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    }
}


def sent(harness: Harness) -> list[tuple[str, dict[str, Any]]]:
    """The messages and documents sent, in order, with their parameters."""
    return [
        (c.method, c.params)
        for c in harness.request.calls
        if c.method in ("sendMessage", "sendDocument")
    ]


async def test_a_document_and_a_link_go_with_the_announcement(
    examples: Database, harness: Harness
) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    await harness.press(ADMIN_ID, "ann:go")
    text = "Проєкт закону про місцеве самоврядування: просимо відгуки до п’ятниці."
    await harness.send(ADMIN_ID, text)
    assert "або файл" in harness.request.texts()[-1] and "20 МБ" in harness.request.texts()[-1]
    await harness.send_attachment(ADMIN_ID, {"document": PDF})
    draft = await draft_of(examples, ADMIN_ID)
    assert draft is not None and draft.step == "link"
    assert (draft.document_file_id, draft.document_name) == (PDF["file_id"], "proekt-zakonu.pdf")
    reply = harness.request.texts()[-1]
    assert "📎 Файл «proekt-zakonu.pdf» додано" in reply and "кнопку з посиланням" in reply
    assert "окремим повідомленням" not in reply  # the text fits in the caption
    assert harness.request.buttons() == ["ann:nolink", "ann:x"]
    # With a document and a link there is nothing more to attach: on to the audience.
    await harness.send(ADMIN_ID, "https://www.auc.org.ua/proekt")
    assert harness.request.buttons() == [*(f"ann:a:{n}" for n in range(5)), "ann:x"]
    await harness.press(ADMIN_ID, "ann:a:0")
    harness.request.reset()
    await harness.press(ADMIN_ID, "ann:now")
    (method, preview), (_, summary) = sent(harness)
    assert method == "sendDocument" and preview["document"] == PDF["file_id"]
    assert preview["caption"] == text and preview["parse_mode"] == "HTML"
    assert preview["reply_markup"]["inline_keyboard"] == [
        [{"text": "🔗 auc.org.ua", "url": "https://www.auc.org.ua/proekt"}]
    ]
    assert "Отримувачів зараз: 1" in summary["text"]
    await harness.press(ADMIN_ID, "ann:ok")
    [item] = await everything(examples, Announcement)
    assert (item.document_file_id, item.document_name) == (PDF["file_id"], "proekt-zakonu.pdf")
    [row] = await everything(examples, Outbox)
    assert (row.document_file_id, row.document_name) == (PDF["file_id"], "proekt-zakonu.pdf")
    assert row.document is None and row.document_path is None
    assert "📎 Файл: proekt-zakonu.pdf" in harness.request.texts()[-1]  # the report
    harness.request.reset()
    assert await harness.dispatch() == 1
    [(method, delivered)] = sent(harness)
    assert method == "sendDocument" and int(delivered["chat_id"]) == OLENA
    assert {k: delivered[k] for k in ("document", "caption", "reply_markup")} == {
        k: preview[k] for k in ("document", "caption", "reply_markup")
    }


async def test_a_text_too_long_for_a_caption_goes_just_before_the_document(
    examples: Database, harness: Harness
) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    await harness.press(ADMIN_ID, "ann:go")
    text = "Шановні колеги! " + "Просимо ознайомитися з проєктом і надіслати відгуки. " * 25
    await harness.send(ADMIN_ID, text)
    await harness.send_attachment(ADMIN_ID, {"document": PDF})
    assert "окремим повідомленням" in harness.request.texts()[-1]
    await harness.press(ADMIN_ID, "ann:nolink")
    await harness.press(ADMIN_ID, "ann:a:0")
    harness.request.reset()
    await harness.press(ADMIN_ID, "ann:now")
    (m1, first), (m2, second), (_, summary) = sent(harness)
    assert (m1, m2) == ("sendMessage", "sendDocument")
    assert first["text"] == text.strip() and second["document"] == PDF["file_id"]
    assert "caption" not in second and "reply_markup" not in second
    assert "Отримувачів зараз: 1" in summary["text"]
    await harness.press(ADMIN_ID, "ann:ok")
    harness.request.reset()
    assert await harness.dispatch() == 1
    assert [(m, p.get("text"), p.get("document")) for m, p in sent(harness)] == [
        ("sendMessage", text.strip(), None),
        ("sendDocument", None, PDF["file_id"]),
    ]
    [row] = await everything(examples, Outbox)
    assert row.status == "sent"  # one row, two Telegram messages


async def test_only_documents_are_attached(examples: Database, harness: Harness) -> None:
    await harness.press(ADMIN_ID, "ann:go")
    await harness.send(ADMIN_ID, "Оголошення з вкладенням")
    await harness.send_attachment(ADMIN_ID, PHOTO)
    assert "Фото не можна додати" in harness.request.texts()[-1]
    assert harness.request.buttons() == ["ann:nolink", "ann:x"]
    await harness.send_attachment(ADMIN_ID, STICKER)
    assert "лише файл (документ) або посилання" in harness.request.texts()[-1]
    await harness.send_attachment(ADMIN_ID, {"document": {**PDF, "file_size": 30_000_000}})
    assert "Файл завеликий" in harness.request.texts()[-1]
    await harness.send_attachment(ADMIN_ID, {"document": {**PDF, "file_id": "x" * 201}})
    assert "не вдалося прийняти" in harness.request.texts()[-1]
    draft = await draft_of(examples, ADMIN_ID)
    assert draft is not None and draft.step == "link" and draft.document_file_id is None
    # A second document replaces the first.
    await harness.send_attachment(ADMIN_ID, {"document": PDF})
    other = {**PDF, "file_id": "BQACotherfile", "file_name": "dodatok.docx"}
    await harness.send_attachment(ADMIN_ID, {"document": other})
    assert "тепер до оголошення додано «dodatok.docx»" in harness.request.texts()[-1]
    draft = await draft_of(examples, ADMIN_ID)
    assert draft is not None and draft.document_file_id == "BQACotherfile"
    assert markup(harness)["inline_keyboard"][0][0]["text"] == "Далі →"


async def test_a_document_at_any_other_step_goes_to_the_fallback(
    examples: Database, harness: Harness
) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    for user in (OLENA, ADMIN_ID):  # an official, and staff without a draft
        await harness.send_attachment(user, {"document": PDF})
        assert "меню" in harness.request.texts()[-1].lower()
        assert await draft_of(examples, user) is None
    await harness.press(ADMIN_ID, "ann:go")
    await harness.send_attachment(ADMIN_ID, {"document": PDF})  # the text comes first
    assert "меню" in harness.request.texts()[-1].lower()
    draft = await draft_of(examples, ADMIN_ID)
    assert draft is not None and draft.step == "text" and draft.document_file_id is None
    await harness.send(ADMIN_ID, "Текст")
    await harness.press(ADMIN_ID, "ann:nolink")
    await harness.send_attachment(ADMIN_ID, {"document": PDF})  # past the attachments
    assert "меню" in harness.request.texts()[-1].lower()
    draft = await draft_of(examples, ADMIN_ID)
    assert draft is not None and draft.step == "audience" and draft.document_file_id is None


async def test_a_forged_attachments_button_changes_nothing(
    examples: Database, harness: Harness
) -> None:
    await harness.press(ADMIN_ID, "ann:nolink")  # no draft
    assert "неактуальна" in (harness.request.answers()[-1] or "")
    await harness.press(ADMIN_ID, "ann:go")
    await harness.press(ADMIN_ID, "ann:nolink")  # the text is not written yet
    assert "неактуальна" in (harness.request.answers()[-1] or "")
    draft = await draft_of(examples, ADMIN_ID)
    assert draft is not None and draft.step == "text"
    await harness.send(ADMIN_ID, "Текст")
    await harness.send_attachment(ADMIN_ID, {"document": PDF})
    await harness.press(ADMIN_ID, "ann:nolink")
    await harness.press(ADMIN_ID, "ann:nolink")  # pressed again: the draft is past it
    assert "неактуальна" in (harness.request.answers()[-1] or "")
    draft = await draft_of(examples, ADMIN_ID)
    assert draft is not None and draft.step == "audience"
    assert draft.document_file_id == PDF["file_id"] and draft.link_url is None


async def test_regions_are_offered_in_the_authors_language_and_order(
    examples: Database, harness: Harness
) -> None:
    await harness.press(ADMIN_ID, "ann:go", lang="en")
    await harness.send(ADMIN_ID, "Regional coordinators' meeting", lang="en")
    await harness.press(ADMIN_ID, "ann:nolink", lang="en")
    await harness.press(ADMIN_ID, "ann:a:1", lang="en")
    rows = markup(harness)["inline_keyboard"]
    labels = [row[0]["text"] for row in rows[:-1]]
    assert "Poltava Oblast" in labels and "Полтавська" not in labels
    assert labels == sorted(labels)  # Latin letters: plain order is the English one
    poltava = next(row[0]["callback_data"] for row in rows if row[0]["text"] == "Poltava Oblast")
    await harness.press(ADMIN_ID, poltava, lang="en")
    await harness.press(ADMIN_ID, "ann:now", lang="en")
    assert "officials in Poltava Oblast" in harness.request.texts()[-1]
    draft = await draft_of(examples, ADMIN_ID)
    assert draft is not None and draft.audience == "region:Полтавська"

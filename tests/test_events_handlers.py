"""Handler tests for /events, /trainings, cards, registration, calendar and /my."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from icalendar import Calendar
from sqlalchemy import select
from sqlmodel import col

from bot.db import Database
from bot.services.imports import ImportKind, import_csv
from models import Category, Event, Registration, RegistrationStatus
from tests.conftest import EXAMPLES, NOW
from tests.harness import ADMIN_ID, Harness
from tests.test_handlers import link

OLENA, TARAS, ANDRIY, STRANGER = 111, 112, 113, 222
KREMENCHUK, POLTAVA = "04057287", "04050644"


async def event_id(db: Database, code: str) -> int:
    async with db.session() as session:
        found = (await session.execute(select(Event).where(col(Event.code) == code))).scalar_one()
    assert found.id is not None
    return found.id


async def tiny_event(db: Database, capacity: int = 1) -> int:
    async with db.session() as session:
        event = Event(
            code="TINY",
            category=Category.EVENT,
            kind="round_table",
            title_uk="Малий круглий стіл",
            title_en="Small round table",
            starts_at=NOW + timedelta(days=7),
            ends_at=NOW + timedelta(days=7, hours=2),
            location="Полтава",
            capacity=capacity,
        )
        session.add(event)
        await session.commit()
        assert event.id is not None
        return event.id


async def registrations(db: Database, eid: int) -> list[tuple[int, str]]:
    async with db.session() as session:
        rows = await session.execute(
            select(col(Registration.official_id), col(Registration.status))
            .where(col(Registration.event_id) == eid)
            .order_by(col(Registration.id))
        )
        return [(a, b) for a, b in rows.all()]


def last_text(h: Harness, chat: int | None = None) -> str:
    return h.request.texts(chat)[-1]


async def test_stranger_browses_but_must_link_to_register(
    examples: Database, harness: Harness
) -> None:
    await harness.send(STRANGER, "/events")
    text = last_text(harness)
    assert "Заходи Асоціації" in text
    assert "Засідання секції з питань фінансів та бюджету" in text
    assert "Муніципальний форум 2026" not in text  # page 2
    buttons = harness.request.buttons()
    assert "ev:l:e:0:0:1" in buttons and "ev:fk:e:0" in buttons and "ev:fs:e:0" in buttons
    fin = await event_id(examples, "SM-FIN-2025-12")
    await harness.press(STRANGER, f"ev:o:{fin}")
    card = last_text(harness)
    assert "четвер, 4 грудня 2025, 11:00–15:00" in card
    assert "Київ, вул. Івана Мазепи" in card
    assert "Вільні 34 місця з 40" in card
    assert "під'єднайте свій обліковий запис" in card
    assert "acc:new" in harness.request.buttons()
    assert f"ev:r:{fin}" not in harness.request.buttons()
    # A forged "register" button changes nothing and says how to link.
    harness.request.reset()
    await harness.press(STRANGER, f"ev:r:{fin}")
    assert "під'єднайте" in (harness.request.answers()[-1] or "")
    assert len(await registrations(examples, fin)) == 6


async def test_filters_by_kind_and_section(examples: Database, harness: Harness) -> None:
    await harness.press(STRANGER, "ev:fk:e:0")
    assert "ev:l:e:1:0:0" in harness.request.buttons()  # forum
    await harness.press(STRANGER, "ev:l:e:1:0:0")
    text = last_text(harness)
    assert "Муніципальний форум 2026" in text and "Засідання секції" not in text
    await harness.press(STRANGER, "ev:fs:e:0")
    async with examples.session() as session:
        from bot.services import events

        energy = next(s for s in await events.sections(session=session) if s.code == "energy")
    await harness.press(STRANGER, f"ev:l:e:0:{energy.id}:0")
    text = last_text(harness)
    assert "енергетики" in text and "фінансів" not in text
    await harness.send(STRANGER, "/trainings", lang="en")
    text = last_text(harness)
    assert "Trainings for officials" in text
    assert "ASMS coordinators" in text
    assert "Gender-responsive budgeting" not in text  # already over


async def test_register_full_waitlist_cancel_promote_in_both_languages(
    examples: Database, harness: Harness
) -> None:
    eid = await tiny_event(examples)
    await link(harness, examples, OLENA, KREMENCHUK)
    await link(harness, examples, TARAS, POLTAVA, lang="en")
    harness.request.reset()
    await harness.press(OLENA, f"ev:r:{eid}")
    assert harness.request.answers()[-1] == "✅ Вас зареєстровано."
    assert "✅ Ви зареєстровані." in last_text(harness)
    assert f"ev:c:{eid}" in harness.request.buttons()
    # Twice: a no-op with a clear answer.
    await harness.press(OLENA, f"ev:r:{eid}")
    assert "вже зареєстровані" in (harness.request.answers()[-1] or "")

    await harness.press(TARAS, f"ev:o:{eid}", lang="en")
    card = last_text(harness)
    assert "No seats left; 0 people on the waitlist" in card
    assert "Join the waitlist" in str(harness.request.of("editMessageText")[-1].params)
    await harness.press(TARAS, f"ev:r:{eid}", lang="en")
    assert "waitlist, number 1" in (harness.request.answers()[-1] or "")
    assert "🕒 You are on the waitlist: number 1." in last_text(harness)

    harness.request.reset()
    await harness.press(OLENA, f"ev:c:{eid}")
    assert harness.request.answers()[-1] == "Реєстрацію скасовано."
    assert harness.request.texts(TARAS) == []  # he hears of it from the outbox
    assert await harness.dispatch() == 1
    told = [c for c in harness.request.of("sendMessage") if c.params["chat_id"] == TARAS]
    assert len(told) == 1
    assert harness.request.buttons(told[0]) == [f"ev:o:{eid}"]
    assert "A seat has freed up: you are registered!" in told[0].params["text"]
    assert "Small round table" in told[0].params["text"]
    assert told[0].params["parse_mode"] == "HTML"  # the application's default, not ours
    statuses = [s for _, s in await registrations(examples, eid)]
    assert statuses == [RegistrationStatus.CANCELLED, RegistrationStatus.REGISTERED]

    await harness.send(TARAS, "/my", lang="en")
    assert "✅" in last_text(harness) and "Small round table" in last_text(harness)


async def test_refused_after_the_deadline_and_over_the_council_limit(
    examples: Database, harness: Harness
) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    await link(harness, examples, ANDRIY, KREMENCHUK)
    await link(harness, examples, TARAS, KREMENCHUK, lang="en")
    rt = await event_id(examples, "RT-LAND-2025-11")
    await harness.press(OLENA, f"ev:o:{rt}")
    assert "Реєстрацію закрито" in last_text(harness)
    await harness.press(OLENA, f"ev:r:{rt}")
    assert "реєстрацію вже закрито" in (harness.request.answers()[-1] or "")

    hearing = await event_id(examples, "HEAR-HOUSING-2025-12")  # two per council
    await harness.press(OLENA, f"ev:r:{hearing}")
    await harness.press(ANDRIY, f"ev:r:{hearing}")
    await harness.press(TARAS, f"ev:o:{hearing}", lang="en")
    card = last_text(harness)
    assert "From your council:" in card and "already has 2 participants" in card
    assert f"ev:r:{hearing}" not in harness.request.buttons()  # no button to be refused by
    await harness.press(TARAS, f"ev:r:{hearing}", lang="en")
    assert "already has 2 participants registered" in (harness.request.answers()[-1] or "")
    assert len(await registrations(examples, hearing)) == 6


async def test_calendar_file_keeps_its_uid_and_raises_sequence(
    examples: Database, harness: Harness
) -> None:
    edu = await event_id(examples, "SM-EDU-2026-01")

    async def ics() -> Any:
        harness.request.reset()
        await harness.press(OLENA, f"ev:i:{edu}")
        [doc] = harness.request.of("sendDocument")
        [(name, content, _mime)] = doc.params["_files"].values()
        assert name == "SM-EDU-2026-01.ics"
        return Calendar.from_ical(content)

    first = await ics()
    [vevent] = first.walk("VEVENT")
    assert vevent["DTSTART"].params["TZID"] == "Europe/Kyiv"
    assert vevent.decoded("DTSTART").hour == 10
    assert first.walk("VTIMEZONE")[0]["TZID"] == "Europe/Kyiv"
    assert "Полтава" in str(vevent["LOCATION"])
    assert first.walk("VALARM")
    moved = (
        (EXAMPLES / "events.csv")
        .read_text("utf-8")
        .replace("2026-01-22T10:00,2026-01-22T14:00", "2026-01-22T12:00,2026-01-22T16:00")
    )
    async with examples.session() as session:
        result = await import_csv(
            session=session, kind=ImportKind.EVENTS, data=moved.encode(), today=NOW.date(), now=NOW
        )
    assert result.updated == 1
    second = await ics()
    [again] = second.walk("VEVENT")
    assert str(again["UID"]) == str(vevent["UID"])
    assert int(again["SEQUENCE"]) == int(vevent["SEQUENCE"]) + 1
    assert again.decoded("DTSTART").hour == 12


async def test_forged_buttons_change_nothing(examples: Database, harness: Harness) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    await link(harness, examples, TARAS, POLTAVA, lang="en")
    eid = await tiny_event(examples)
    await harness.press(TARAS, f"ev:r:{eid}", lang="en")
    before = await registrations(examples, eid)
    harness.request.reset()
    # Another event id, nobody's registration, garbage: clear answers, nothing changes.
    await harness.press(OLENA, "ev:r:987654")
    assert "Такого заходу немає" in (harness.request.answers()[-1] or "")
    await harness.press(OLENA, f"ev:c:{eid}")  # Taras's seat is not hers to give up
    assert "не зареєстровані" in (harness.request.answers()[-1] or "")
    await harness.press(OLENA, "ev:o:987654")
    assert "Такого заходу немає" in (harness.request.answers()[-1] or "")
    await harness.press(OLENA, "ev:r:abc")
    assert harness.request.answers()[-1] == harness.runtime.translator("uk").t(
        "fallback.stale_button"
    )
    assert await registrations(examples, eid) == before

    # A training that has been cancelled: its old button registers nobody.
    led = await event_id(examples, "TR-LED-2026-01")
    async with examples.session() as session:
        training = await session.get(Event, led)
        assert training is not None
        training.status = "cancelled"
        await session.commit()
    seats = await registrations(examples, led)
    await harness.press(OLENA, f"ev:r:{led}")
    assert "Захід скасовано" in (harness.request.answers()[-1] or "")
    assert await registrations(examples, led) == seats


async def test_malformed_buttons_reach_no_handler_and_change_nothing(
    examples: Database, harness: Harness
) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    fin = await event_id(examples, "SM-FIN-2025-12")
    before = await registrations(examples, fin)
    stale = harness.runtime.translator("uk").t("fallback.stale_button")
    malformed = [
        "",  # python-telegram-bot lets empty data through to every pattern of its own
        "ev:l",
        "ev:l:x:0:0:0",
        "ev:l:e:0:0",
        "ev:l:e:100:0:0",
        "ev:l:e:0:0:10000",
        "ev:fk:e:",
        "ev:fs:t:100",
        "ev:o:-1",
        "ev:o:1234567890",
        f"ev:r:{fin}:1",
        f"ev:r:{fin}\n",
        "ev:r:\u0663",  # an Arabic-Indic three: a digit to \\d, not to us
        f"ev:r: {fin}",
        "ev:c:abc",
        f"ev:i:{fin}.0",
        "adm:l:",
        "adm:a:1",
        "adm:p:1:2:3",
        "adm:pa:x",
        "adm:kk:",
        "my:c:",
        "my:c:0x1",
    ]
    for user in (OLENA, ADMIN_ID):
        for data in malformed:
            harness.request.reset()
            await harness.press(user, data)
            assert harness.request.answers() == [stale], (user, data)
            sent = [c.method for c in harness.request.calls if c.method != "answerCallbackQuery"]
            assert sent == [], (user, data)
    assert await registrations(examples, fin) == before


async def test_a_title_missing_in_english_is_shown_in_ukrainian(
    examples: Database, harness: Harness
) -> None:
    async with examples.session() as session:
        session.add(
            Event(
                code="NO-EN",
                category=Category.EVENT,
                kind="round_table",
                title_uk="Круглий стіл без перекладу",
                title_en="",
                starts_at=NOW + timedelta(hours=1),
                ends_at=NOW + timedelta(hours=3),
            )
        )
        await session.commit()
    await harness.press(STRANGER, "ev:l:e:3:0:0", lang="en")  # round tables, soonest first
    assert "Круглий стіл без перекладу" in last_text(harness)
    [edit] = harness.request.of("editMessageText")
    keyboard = edit.params["reply_markup"]
    assert "Круглий стіл без перекладу" in (
        keyboard if isinstance(keyboard, str) else json.dumps(keyboard, ensure_ascii=False)
    )


async def test_my_for_strangers_and_linked(examples: Database, harness: Harness) -> None:
    await harness.send(STRANGER, "/my")
    assert "під'єднаєте обліковий запис" in last_text(harness)
    await harness.send(900, "/my")
    assert "/admin" in last_text(harness)
    await link(harness, examples, OLENA, KREMENCHUK)
    await harness.send(OLENA, "📋 Мої записи")
    text = last_text(harness)
    assert "Мої записи" in text


async def test_help_tells_about_the_programme_and_admin(
    examples: Database, harness: Harness
) -> None:
    await harness.send(STRANGER, "/help", lang="en")
    text = last_text(harness)
    assert "/events" in text and "/trainings" in text and "/admin" not in text
    await harness.send(900, "/help")
    assert "/admin" in last_text(harness)


async def test_staff_without_a_council_see_the_admin_hint_not_a_register_button(
    examples: Database, harness: Harness
) -> None:
    fin = await event_id(examples, "SM-FIN-2025-12")
    await harness.press(900, f"ev:o:{fin}")
    assert "/admin" in last_text(harness)
    assert harness.request.buttons() == [f"ev:i:{fin}", "ev:l:e:0:0:0"]


def test_button_answers_fit_telegrams_200_characters() -> None:
    from zoneinfo import ZoneInfo

    from bot.i18n import Translator
    from handlers import events as events_handlers
    from handlers import events_admin

    translator = Translator(ZoneInfo("Europe/Kyiv"))
    ids = [
        *events_handlers.ANSWERS.values(),
        *events_admin.MARK_ANSWERS.values(),
        "admin.only_staff",
        "reg.link_first",
        "cert.not_yours",
        "admin.marked",
        "admin.certificates_sent",
        "admin.cancel_done",
    ]
    for lang in ("uk", "en"):
        tr = translator(lang)
        for msgid in ids:
            text = tr.t(msgid, position=9999, changed=9999, sent=9999, issued=9999, told=9999)
            assert len(text) <= 200, (lang, msgid, len(text))
        for n in (1, 3, 1000):
            assert len(tr.tn("reg.council_limit", "reg.council_limit.plural", n)) <= 200

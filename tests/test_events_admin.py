"""Staff /admin for events: roster, export, attendance, certificates, cancellation, verify."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from icalendar import Calendar
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select
from sqlmodel import col

from bot.db import Database
from bot.services import events
from models import Category, Certificate, Event, Official, Registration, RegistrationStatus, Role
from tests.conftest import NOW
from tests.harness import ADMIN_ID, Harness
from tests.test_handlers import link

OLENA, TARAS, KYIV_OFFICIAL, COORDINATOR = 111, 112, 113, 444
KREMENCHUK, POLTAVA, KYIV = "04057287", "04050644", "22889304"


async def official_of(db: Database, telegram_id: int) -> tuple[int, int]:
    async with db.session() as session:
        o = (
            await session.execute(select(Official).where(col(Official.telegram_id) == telegram_id))
        ).scalar_one()
    return o.id or 0, o.member_id


async def training(db: Database, *, started: bool = True, capacity: int | None = None) -> int:
    """A six-hour seminar; registration happened before it began."""
    start = NOW - timedelta(hours=1) if started else NOW + timedelta(days=3)
    async with db.session() as session:
        event = Event(
            code="TR-TEST" if started else "TR-LATER",
            category=Category.TRAINING,
            kind="seminar",
            title_uk="Семінар з енергоменеджменту",
            title_en="Energy management seminar",
            starts_at=start,
            ends_at=start + timedelta(hours=6),
            hours=6,
            capacity=capacity,
        )
        session.add(event)
        await session.commit()
        return event.id or 0


async def register(db: Database, eid: int, telegram_id: int) -> None:
    official_id, member_id = await official_of(db, telegram_id)
    async with db.session() as session:
        result = await events.register(
            session=session,
            event_id=eid,
            official_id=official_id,
            member_id=member_id,
            now=NOW - timedelta(days=1),
        )
    assert result.outcome in (events.Outcome.REGISTERED, events.Outcome.WAITLISTED)


async def reg_ids(db: Database, eid: int) -> dict[int, int]:
    """Telegram id -> registration id."""
    async with db.session() as session:
        rows = await session.execute(
            select(col(Official.telegram_id), col(Registration.id))
            .join(Official, col(Official.id) == col(Registration.official_id))
            .where(col(Registration.event_id) == eid)
        )
        return {int(t or 0): int(r or 0) for t, r in rows.all()}


def pdf_text(content: bytes) -> str:
    return " ".join(PdfReader(io.BytesIO(content)).pages[0].extract_text().split())


def documents(h: Harness, chat: int) -> list[tuple[str, bytes]]:
    out = []
    for call in h.request.of("sendDocument"):
        if int(call.params["chat_id"]) == chat:
            [(name, content, _mime)] = call.params["_files"].values()
            out.append((name, content))
    return out


async def test_officials_cannot_use_admin_buttons(examples: Database, harness: Harness) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    eid = await training(examples)
    await register(examples, eid, OLENA)
    [rid] = (await reg_ids(examples, eid)).values()
    harness.request.reset()
    await harness.send(OLENA, "/admin")
    assert "лише для секретаріату" in harness.request.texts()[-1]
    for data in (f"adm:o:{eid}", f"adm:p:{rid}:0", f"adm:pa:{eid}", f"adm:kk:{eid}", "adm:l:0"):
        await harness.press(OLENA, data)
        assert "лише для секретаріату" in (harness.request.answers()[-1] or "")
    assert not harness.request.of("sendDocument")
    async with examples.session() as session:
        reg = await session.get(Registration, rid)
        event = await session.get(Event, eid)
    assert reg is not None and reg.status == RegistrationStatus.REGISTERED
    assert event is not None and event.status == "published"


async def test_attendance_issues_certificates_in_each_language(
    examples: Database, harness: Harness
) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    await link(harness, examples, TARAS, POLTAVA, lang="en")
    eid = await training(examples)
    await register(examples, eid, OLENA)
    await register(examples, eid, TARAS)
    regs = await reg_ids(examples, eid)
    harness.request.reset()

    await harness.send(ADMIN_ID, "/admin")
    assert "Семінар з енергоменеджменту" in harness.request.texts()[-1]
    await harness.press(ADMIN_ID, f"adm:o:{eid}")
    roster = harness.request.texts()[-1]
    assert "Кременчуцька міська рада" in roster and "Полтавська міська рада" in roster
    assert f"adm:a:{eid}:0" in harness.request.buttons()

    await harness.press(ADMIN_ID, f"adm:x:{eid}")
    [(name, content)] = documents(harness, ADMIN_ID)
    assert name == "TR-TEST.xlsx"
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("Код ЄДРПОУ", "Громада")
    assert {r[0] for r in rows[1:]} == {KREMENCHUK, POLTAVA}

    await harness.press(ADMIN_ID, f"adm:a:{eid}:0")
    assert f"adm:p:{regs[OLENA]}:0" in harness.request.buttons()
    await harness.press(ADMIN_ID, f"adm:p:{regs[OLENA]}:0")
    assert "Сертифікатів видано: 1, надсилаємо: 1" in (harness.request.answers()[-1] or "")
    assert documents(harness, OLENA) == []  # the certificate goes out through the outbox
    assert await harness.dispatch() == 1
    [(name, content)] = documents(harness, OLENA)
    assert re.fullmatch(r"AMU-2025-\d{5}\.pdf", name)
    text = pdf_text(content)
    assert "СЕРТИФІКАТ" in text and "Olena" in text and "Кременчуцька міська рада" in text
    assert "6 годин" in text
    code = re.search(r"Код перевірки: ([A-Z0-9]{10})", text)
    assert code is not None
    assert f"amu_test_bot?start=verify-{code.group(1)}" in text.replace(" ", "")

    # Everyone present: Taras gets his in English; Olena gets no second copy.
    await harness.press(ADMIN_ID, f"adm:pa:{eid}")
    assert await harness.dispatch() == 1
    [(_, english)] = documents(harness, TARAS)
    assert "CERTIFICATE" in pdf_text(english) and "6 hours" in pdf_text(english)
    assert len(documents(harness, OLENA)) == 1

    # Anyone can check it, by the deep link in the QR code.
    await harness.send(222, f"/start verify-{code.group(1)}")
    answer = harness.request.texts()[-1]
    assert "дійсний" in answer and "Olena" in answer and "6 годин" in answer
    await harness.send(222, "/start verify-AAAAAAAAAA", lang="en")
    assert "There is no certificate" in harness.request.texts()[-1]

    # /my: hours this year and the certificate to download again (only by its holder).
    await harness.send(OLENA, "/my")
    assert "6 годин" in harness.request.texts()[-1]
    olena_official, _ = await official_of(examples, OLENA)
    async with examples.session() as session:
        cert_id = (
            await session.execute(
                select(col(Certificate.id)).where(col(Certificate.official_id) == olena_official)
            )
        ).scalar_one()
    assert f"my:c:{cert_id}" in harness.request.buttons()
    await harness.press(TARAS, f"my:c:{cert_id}", lang="en")
    assert "not available" in (harness.request.answers()[-1] or "")
    assert len(documents(harness, TARAS)) == 1
    await harness.press(OLENA, f"my:c:{cert_id}")
    assert len(documents(harness, OLENA)) == 2

    # Tapping again marks absent and withdraws the certificate.
    await harness.press(ADMIN_ID, f"adm:p:{regs[OLENA]}:0")
    await harness.send(222, f"/start verify-{code.group(1)}")
    assert "немає" in harness.request.texts()[-1]


async def test_attendance_waits_for_the_start_and_coordinators_see_their_region(
    examples: Database, harness: Harness
) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    await link(harness, examples, KYIV_OFFICIAL, KYIV)
    await link(harness, examples, COORDINATOR, POLTAVA, Role.COORDINATOR)
    eid = await training(examples)
    await register(examples, eid, OLENA)
    await register(examples, eid, KYIV_OFFICIAL)
    regs = await reg_ids(examples, eid)
    harness.request.reset()
    await harness.press(COORDINATOR, f"adm:o:{eid}")
    roster = harness.request.texts()[-1]
    assert "Кременчуцька" in roster and "Київська" not in roster
    assert f"adm:k:{eid}" not in harness.request.buttons()  # cancelling is for admins
    await harness.press(COORDINATOR, f"adm:p:{regs[KYIV_OFFICIAL]}:0")
    assert "не належить до вашого регіону" in (harness.request.answers()[-1] or "")
    await harness.press(COORDINATOR, f"adm:kk:{eid}")
    assert "лише для секретаріату" in (harness.request.answers()[-1] or "")
    await harness.press(COORDINATOR, f"adm:pa:{eid}")
    statuses = {}
    async with examples.session() as session:
        for who, rid in regs.items():
            reg = await session.get(Registration, rid)
            assert reg is not None
            statuses[who] = reg.status
    assert statuses == {
        OLENA: RegistrationStatus.ATTENDED,
        KYIV_OFFICIAL: RegistrationStatus.REGISTERED,
    }

    upcoming = await training(examples, started=False)
    async with examples.session() as session:
        event = await session.get(Event, upcoming)
        assert event is not None
    await register(examples, upcoming, OLENA)
    [rid] = (await reg_ids(examples, upcoming)).values()
    await harness.press(ADMIN_ID, f"adm:p:{rid}:0")
    assert "коли захід розпочнеться" in (harness.request.answers()[-1] or "")


async def test_cancelling_an_event_tells_everyone_in_their_language(
    examples: Database, harness: Harness
) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    await link(harness, examples, TARAS, POLTAVA, lang="en")
    eid = await training(examples, started=False, capacity=1)
    await register(examples, eid, OLENA)
    await register(examples, eid, TARAS)  # waitlisted
    harness.request.reset()
    await harness.press(ADMIN_ID, f"adm:k:{eid}")
    assert "(2)" in harness.request.texts()[-1]
    await harness.press(ADMIN_ID, f"adm:kk:{eid}")
    assert "повідомлення отримають учасники: 2" in (harness.request.answers()[-1] or "")
    assert harness.request.texts(OLENA) == []
    assert await harness.dispatch() == 2
    assert "Захід скасовано" in harness.request.texts(OLENA)[-1]
    assert "Event cancelled" in harness.request.texts(TARAS)[-1]
    notices = [c for c in harness.request.of("sendMessage") if c.params["chat_id"] == TARAS]
    assert notices[-1].params["parse_mode"] == "HTML"  # the application's default
    # Their calendars can follow: the file now says CANCELLED, same UID, higher SEQUENCE.
    harness.request.reset()
    await harness.press(TARAS, f"ev:i:{eid}", lang="en")
    [doc] = harness.request.of("sendDocument")
    [(_, content, _)] = doc.params["_files"].values()
    [vevent] = Calendar.from_ical(content).walk("VEVENT")
    assert (str(vevent["STATUS"]), int(str(vevent["SEQUENCE"]))) == ("CANCELLED", 1)
    official_id, member_id = await official_of(examples, OLENA)
    async with examples.session() as session:
        again = await events.register(
            session=session, event_id=eid, official_id=official_id, member_id=member_id, now=NOW
        )
    assert again.outcome == events.Outcome.EVENT_CANCELLED
    await harness.send(OLENA, "/my")
    assert "захід скасовано" in harness.request.texts()[-1]


async def test_a_cancelled_training_issues_no_certificates(
    examples: Database, harness: Harness
) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    eid = await training(examples)
    await register(examples, eid, OLENA)
    [rid] = (await reg_ids(examples, eid)).values()
    async with examples.session() as session:
        event = await session.get(Event, eid)
        assert event is not None
        event.status = "cancelled"
        await session.commit()
    harness.request.reset()
    for data in (f"adm:pa:{eid}", f"adm:p:{rid}:0"):
        await harness.press(ADMIN_ID, data)
        assert "Захід скасовано" in (harness.request.answers()[-1] or "")
    assert not harness.request.of("sendDocument")
    async with examples.session() as session:
        issued = (
            await session.execute(select(Certificate).where(col(Certificate.event_id) == eid))
        ).all()
    assert issued == []


async def test_the_admin_list_and_roster_say_when_seats_are_unlimited(
    examples: Database, harness: Harness
) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    open_seats = await training(examples, started=False)
    limited = await training(examples, capacity=30)
    await register(examples, open_seats, OLENA)
    harness.request.reset()

    await harness.send(ADMIN_ID, "/admin")
    listing = harness.request.texts()[-1]
    assert "👥 1, кількість місць не обмежена" in listing
    assert "👥 0 з 30, у черзі: 0" in listing
    assert "∞" not in listing
    await harness.press(ADMIN_ID, f"adm:o:{open_seats}")
    assert "👥 Зареєстровано: 1; кількість місць не обмежена" in harness.request.texts()[-1]
    await harness.press(ADMIN_ID, f"adm:o:{limited}")
    assert "👥 Зареєстровано: 0 з 30; у черзі: 0" in harness.request.texts()[-1]

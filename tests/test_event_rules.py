"""Planner rules for events and trainings on a clock that moves: reminders 1 day and 1 hour
before, dropped when late, and "time or place changed" once per change with a fresh .ics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import select, update
from sqlmodel import col

from bot.clock import ManualClock
from bot.db import Database
from bot.i18n import Translator
from bot.notifications.event_rules import reminder_stage
from bot.notifications.planner import PlanResult, plan
from models import Category, Event, EventStatus, Official, Outbox, Registration, TelegramUser
from tests.notify_support import FakeSender, add_member, dispatcher, outbox_rows

KYIV = ZoneInfo("Europe/Kyiv")
TRANSLATOR = Translator(KYIV)
START = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # 11:00 in Kyiv


async def run(db: Database, clock: ManualClock) -> PlanResult:
    result = await plan(db=db, clock=clock, translator=TRANSLATOR)
    assert result is not None
    return result


async def setup(db: Database, statuses: dict[int, str], **event: object) -> int:
    """An event starting at START; people (telegram id → registration status); 2xx read English."""
    async with db.session() as session:
        member_id = await add_member(session, "10000001")
        fields: dict[str, object] = {
            "code": "SM-1",
            "category": Category.EVENT,
            "kind": "section_meeting",
            "title_uk": "Засідання секції",
            "title_en": "Section meeting",
            "starts_at": START,
            "ends_at": START + timedelta(hours=2),
            "location": "Київ, вул. Хрещатик, 1",
        }
        fields.update(event)
        e = Event(**fields)  # type: ignore[arg-type]
        session.add(e)
        await session.flush()
        for tg, status in statuses.items():
            session.add(TelegramUser(id=tg, language="en" if tg >= 200 else "uk"))
            await session.flush()
            official = Official(member_id=member_id, full_name=f"P{tg}", telegram_id=tg)
            session.add(official)
            await session.flush()
            session.add(
                Registration(
                    event_id=e.id or 0,
                    official_id=official.id or 0,
                    member_id=member_id,
                    status=status,
                    queued_at=START - timedelta(days=5),
                )
            )
        await session.commit()
        assert e.id is not None
        return e.id


def reminders(rows: list[Outbox]) -> list[tuple[int, str]]:
    return sorted(
        (r.recipient, r.dedupe_key.split(":")[2]) for r in rows if r.kind == "event_reminder"
    )


@pytest.mark.parametrize(
    ("before", "stage"),
    [
        (timedelta(days=1, seconds=1), None),
        (timedelta(days=1), 0),
        (timedelta(hours=1, seconds=1), 0),
        (timedelta(hours=1), 1),
        (timedelta(seconds=1), 1),
        (timedelta(0), None),
        (-timedelta(hours=1), None),
    ],
)
def test_reminder_stages(before: timedelta, stage: int | None) -> None:
    assert reminder_stage(START, START - before) == stage


async def test_reminders_a_day_and_an_hour_before_to_the_registered_only(db: Database) -> None:
    await setup(
        db,
        {101: "registered", 201: "registered", 102: "waitlisted", 103: "cancelled"},
    )
    clock = ManualClock(KYIV, START - timedelta(days=1, minutes=1))
    assert (await run(db, clock)).written["event_reminders"] == 0  # not yet due

    clock.advance(minutes=1)
    assert (await run(db, clock)).written["event_reminders"] == 2
    rows = await outbox_rows(db)
    assert reminders(rows) == [(101, "1d"), (201, "1d")]  # waitlisted and cancelled: nothing
    uk = next(r for r in rows if r.recipient == 101)
    en = next(r for r in rows if r.recipient == 201)
    assert "Засідання секції" in uk.text and "10 березня 2026, 11:00" in uk.text
    assert "Хрещатик" in uk.text
    assert "Section meeting" in en.text and "Reminder" in en.text
    assert not uk.urgent and uk.expires_at == START - timedelta(hours=1)

    clock.advance(hours=5)
    assert (await run(db, clock)).total == 0  # re-planning writes nothing twice

    clock.set(START - timedelta(minutes=59))
    assert (await run(db, clock)).written["event_reminders"] == 2
    rows = await outbox_rows(db)
    assert reminders(rows) == [(101, "1d"), (101, "1h"), (201, "1d"), (201, "1h")]
    hour = next(r for r in rows if r.recipient == 101 and ":1h:" in r.dedupe_key)
    assert hour.urgent and hour.expires_at == START and "За годину" in hour.text


async def test_reminders_switched_off_in_settings_are_not_sent(db: Database) -> None:
    await setup(db, {101: "registered", 102: "registered", 103: "registered"})
    async with db.session() as session:
        await session.execute(
            update(TelegramUser).where(col(TelegramUser.id) == 102).values(remind_day_before=False)
        )
        await session.execute(
            update(TelegramUser)
            .where(col(TelegramUser.id) == 103)
            .values(remind_hour_before=False)
        )
        await session.commit()
    clock = ManualClock(KYIV, START - timedelta(days=1))
    await run(db, clock)
    clock.set(START - timedelta(minutes=30))
    await run(db, clock)
    assert reminders(await outbox_rows(db)) == [
        (101, "1d"),
        (101, "1h"),
        (102, "1h"),  # the day-before one switched off
        (103, "1d"),  # the hour-before one switched off
    ]


async def test_a_late_reminder_is_dropped_not_sent(db: Database) -> None:
    await setup(db, {101: "registered"})
    # The bot was down through the 1-day moment: only the 1-hour reminder goes.
    clock = ManualClock(KYIV, START - timedelta(minutes=30))
    await run(db, clock)
    assert reminders(await outbox_rows(db)) == [(101, "1h")]
    # Down through the start: nothing at all.
    async with db.session() as session:
        await session.execute(update(Outbox).values(status="sent"))
        await session.commit()
    clock.set(START + timedelta(minutes=1))
    assert (await run(db, clock)).total == 0

    # A 1-day reminder still waiting when the 1-hour one is due is dropped by the dispatcher.
    await setup_second(db)
    clock.set(START + timedelta(days=1) - timedelta(hours=2))
    await run(db, clock)
    clock.advance(hours=1, minutes=1)
    sender = FakeSender()
    await dispatcher(db, sender, clock, quiet="off").run_once()
    statuses = {r.dedupe_key.split(":")[2]: r.status for r in await outbox_rows(db) if r.id}
    assert statuses["1d"] == "dropped"
    assert sender.sent == []


async def setup_second(db: Database) -> None:
    """Olena (101) registered for a second event a day after the first."""
    async with db.session() as session:
        official = (
            await session.execute(select(Official).where(col(Official.telegram_id) == 101))
        ).scalar_one()
        e = Event(
            code="SM-2",
            category=Category.TRAINING,
            kind="seminar",
            title_uk="Семінар",
            title_en="Seminar",
            starts_at=START + timedelta(days=1),
            ends_at=START + timedelta(days=1, hours=3),
        )
        session.add(e)
        await session.flush()
        session.add(
            Registration(
                event_id=e.id or 0,
                official_id=official.id or 0,
                member_id=official.member_id,
                status="registered",
                queued_at=START,
            )
        )
        await session.commit()


async def test_a_moved_event_is_reminded_for_its_new_time(db: Database) -> None:
    eid = await setup(db, {101: "registered"})
    clock = ManualClock(KYIV, START - timedelta(hours=20))
    await run(db, clock)
    async with db.session() as session:
        await session.execute(
            update(Event)
            .where(col(Event.id) == eid)
            .values(
                starts_at=START + timedelta(days=1), ends_at=START + timedelta(days=1, hours=2)
            )
        )
        await session.commit()
    clock.set(START + timedelta(hours=4))  # 20 h before the new start
    assert (await run(db, clock)).written["event_reminders"] == 1
    assert reminders(await outbox_rows(db)) == [(101, "1d"), (101, "1d")]


async def test_a_cancelled_event_gets_no_reminders(db: Database) -> None:
    await setup(db, {101: "registered"}, status=EventStatus.CANCELLED)
    clock = ManualClock(KYIV, START - timedelta(minutes=30))
    assert (await run(db, clock)).total == 0


async def test_a_change_is_told_once_with_a_fresh_calendar_entry(db: Database) -> None:
    eid = await setup(db, {101: "registered", 201: "waitlisted", 102: "cancelled"}, sequence=0)
    clock = ManualClock(KYIV, START - timedelta(days=5))
    assert (await run(db, clock)).written["event_changes"] == 0  # nothing changed yet

    async def change(**values: object) -> None:
        async with db.session() as session:
            event = await session.get(Event, eid)
            assert event is not None
            for k, v in values.items():
                setattr(event, k, v)
            event.sequence += 1
            await session.commit()

    await change(location="Полтава, вул. Соборності, 36", changed_at=clock.now())
    assert (await run(db, clock)).written["event_changes"] == 2
    rows = [r for r in await outbox_rows(db) if r.kind == "event_changed"]
    assert sorted(r.recipient for r in rows) == [101, 201]  # registered and waitlisted
    assert {r.dedupe_key for r in rows} == {
        f"event:{eid}:changed:1:to:101",
        f"event:{eid}:changed:1:to:201",
    }
    uk = next(r for r in rows if r.recipient == 101)
    assert "Соборності" in uk.text and not uk.urgent
    assert uk.document_name == "SM-1.ics" and uk.document is not None
    [vevent] = Calendar.from_ical(uk.document).walk("VEVENT")
    assert int(str(vevent["SEQUENCE"])) == 1 and "Соборності" in str(vevent["LOCATION"])
    en = next(r for r in rows if r.recipient == 201)
    assert "Time or place changed" in en.text
    assert "Section meeting" in str(
        Calendar.from_ical(en.document or b"").walk("VEVENT")[0]["SUMMARY"]
    )

    clock.advance(minutes=1)
    assert (await run(db, clock)).total == 0  # once per change
    await change(title_en="Section meeting (finance)")  # no news for anyone's plans
    clock.advance(minutes=1)
    assert (await run(db, clock)).total == 0

    clock.set(START - timedelta(hours=3))  # moved again, the day of the event: urgent
    await change(starts_at=START + timedelta(hours=1), changed_at=clock.now())
    result = await run(db, clock)
    assert result.written["event_changes"] == 2
    latest = [
        r for r in await outbox_rows(db) if r.dedupe_key.startswith(f"event:{eid}:changed:3")
    ]
    assert len(latest) == 2 and all(r.urgent for r in latest)

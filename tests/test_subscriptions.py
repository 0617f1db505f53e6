"""Subscriptions: what each official chose to receive, and every audience and rule honouring it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlmodel import col

from bot.clock import ManualClock
from bot.db import Database
from bot.i18n import Translator
from bot.notifications.planner import PlanResult, plan
from bot.services import announcements, audiences, deadlines, subscriptions
from models import (
    Category,
    Event,
    EventStatus,
    Official,
    Outbox,
    Registration,
    RegistrationStatus,
    Section,
    SectionSubscription,
    TelegramUser,
)
from tests.notify_support import add_charge, add_member, add_person, outbox_rows

KYIV = ZoneInfo("Europe/Kyiv")
TRANSLATOR = Translator(KYIV)


def kyiv(y: int, m: int, d: int, hh: int = 12, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=KYIV).astimezone(UTC)


NOW = kyiv(2026, 4, 2)


async def run(db: Database, clock: ManualClock) -> PlanResult:
    result = await plan(db=db, clock=clock, translator=TRANSLATOR)
    assert result is not None
    return result


async def people(db: Database) -> tuple[int, int]:
    """Council A (Полтавська: 11 uk, 12 en, blocked 13) owing since 31 March, council B
    (Київська: 21); sections EDU and FIN. Returns the sections' ids."""
    async with db.session() as session:
        a = await add_member(session, "10000001", region="Полтавська")
        b = await add_member(session, "10000002", region="Київська")
        await add_person(session, 11, a, lang="uk")
        await add_person(session, 12, a, lang="en")
        await add_person(session, 13, a, blocked=True)
        await add_person(session, 21, b)
        await add_charge(session, a, date(2026, 3, 31), 150_000)
        edu = Section(code="EDU", name_uk="Освіта", name_en="Education")
        fin = Section(code="FIN", name_uk="Фінанси", name_en="Finance")
        session.add_all([edu, fin])
        await session.commit()
        assert edu.id is not None and fin.id is not None
        return edu.id, fin.id


async def set_flag(db: Database, telegram_id: int, **values: bool) -> None:
    async with db.session() as session:
        await session.execute(
            update(TelegramUser).where(col(TelegramUser.id) == telegram_id).values(**values)
        )
        await session.commit()


async def follow(db: Database, telegram_id: int, section_id: int) -> None:
    async with db.session() as session:
        assert await subscriptions.toggle_section(
            session=session, telegram_id=telegram_id, section_id=section_id
        )


async def reach(db: Database, audience: str, *, news: str | None = audiences.OWN_NEWS) -> set[int]:
    async with db.session() as session:
        parsed = await audiences.validate(session=session, value=audience)
        query = await audiences.recipients(
            session=session, audience=parsed, today=NOW.date(), news=news
        )
        found = {r[0] for r in await session.execute(query)}
        counted = await audiences.count(
            session=session, audience=parsed, today=NOW.date(), news=news
        )
    assert counted == len(found)
    return found


async def test_a_new_official_gets_all_news_and_no_section(db: Database) -> None:
    await people(db)
    async with db.session() as session:
        prefs = await subscriptions.preferences(session=session, telegram_id=11)
    assert all(prefs.flags.values()) and set(prefs.flags) == set(subscriptions.FLAGS)
    assert prefs.quiet_hours is None and prefs.followed == 0
    assert [s.code for s, _ in prefs.sections] == ["EDU", "FIN"]


async def test_choices_are_switched_and_stored(db: Database) -> None:
    _, fin = await people(db)
    async with db.session() as session:
        assert not await subscriptions.toggle_flag(
            session=session, telegram_id=11, flag="news_general"
        )
        assert not await subscriptions.toggle_flag(
            session=session, telegram_id=11, flag="remind_hour_before"
        )
        assert await subscriptions.toggle_section(session=session, telegram_id=11, section_id=fin)
        await subscriptions.set_quiet_hours(session=session, telegram_id=11, value="23:00-09:00")
    async with db.session() as session:
        prefs = await subscriptions.preferences(session=session, telegram_id=11)
        user = await session.get(TelegramUser, 11)
        assert user is not None
        assert not user.news_general and not user.remind_hour_before and user.remind_day_before
        assert user.quiet_hours == "23:00-09:00"
        assert [(s.code, on) for s, on in prefs.sections] == [("EDU", False), ("FIN", True)]
        # The second tap undoes the first.
        assert not await subscriptions.toggle_section(
            session=session, telegram_id=11, section_id=fin
        )
        flag = "news_general"
        assert await subscriptions.toggle_flag(session=session, telegram_id=11, flag=flag)
    async with db.session() as session:
        prefs = await subscriptions.preferences(session=session, telegram_id=11)
    assert prefs.followed == 0 and prefs.flags["news_general"]


async def test_bad_choices_change_nothing(db: Database) -> None:
    await people(db)
    async with db.session() as session:
        with pytest.raises(LookupError):
            await subscriptions.toggle_section(session=session, telegram_id=11, section_id=999)
        with pytest.raises(ValueError):
            await subscriptions.toggle_flag(session=session, telegram_id=11, flag="blocked_at")
        with pytest.raises(ValueError):
            await subscriptions.set_quiet_hours(session=session, telegram_id=11, value="12-13")
        with pytest.raises(subscriptions.UnknownUser):
            await subscriptions.toggle_flag(session=session, telegram_id=999, flag="news_dues")
        with pytest.raises(subscriptions.UnknownUser):
            await subscriptions.preferences(session=session, telegram_id=999)
    async with db.session() as session:
        assert (await session.execute(select(SectionSubscription))).first() is None
        prefs = await subscriptions.preferences(session=session, telegram_id=11)
    assert all(prefs.flags.values()) and prefs.quiet_hours is None


async def test_a_section_reaches_its_subscribers_who_want_its_events(db: Database) -> None:
    edu, fin = await people(db)
    for person in (11, 12, 13, 21):
        await follow(db, person, edu)
    await follow(db, 21, fin)
    await set_flag(db, 12, news_events=False)
    assert await reach(db, "section:EDU") == {11, 21}  # 12 turned events off, 13 blocked
    assert await reach(db, "section:FIN") == {21}
    with pytest.raises(audiences.AudienceError) as info:
        await reach(db, "section:NOPE")
    assert info.value.reason == "unknown_section" and info.value.known == ("EDU", "FIN")


async def test_an_event_reaches_the_registered_and_the_waitlisted(db: Database) -> None:
    await people(db)
    async with db.session() as session:
        event = Event(
            code="FORUM",
            category=Category.EVENT,
            kind="forum",
            title_uk="Форум",
            title_en="Forum",
            starts_at=NOW + timedelta(days=3),
            ends_at=NOW + timedelta(days=3, hours=2),
        )
        session.add(event)
        await session.flush()
        officials = {o.telegram_id: o for o in (await session.execute(select(Official))).scalars()}
        for person, status in (
            (11, RegistrationStatus.REGISTERED),
            (12, RegistrationStatus.WAITLISTED),
            (21, RegistrationStatus.CANCELLED),
        ):
            o = officials[person]
            assert o.id is not None and event.id is not None
            session.add(
                Registration(
                    event_id=event.id,
                    official_id=o.id,
                    member_id=o.member_id,
                    status=status,
                    queued_at=NOW,
                )
            )
        await session.commit()
    # No kind of news switches off what one registered for.
    await set_flag(db, 11, news_general=False, news_events=False)
    assert await reach(db, "event:FORUM") == {11, 12}
    with pytest.raises(audiences.AudienceError) as info:
        await reach(db, "event:NOPE")
    assert info.value.reason == "unknown_event"


async def test_general_announcements_respect_the_general_news_flag(db: Database) -> None:
    await people(db)
    await set_flag(db, 11, news_general=False)
    await set_flag(db, 12, news_dues=False)
    assert await reach(db, "all") == {12, 21}
    assert await reach(db, "region:Полтавська") == {12}
    assert await reach(db, "overdue") == {11}  # overdue counts as dues news
    assert await reach(db, "all", news=None) == {11, 12, 21}
    async with db.session() as session:
        item = await announcements.create(
            session=session, text="Загальні збори", audience="all", now=NOW, today=NOW.date()
        )
    assert {r.recipient for r in await outbox_rows(db)} == {12, 21}
    assert item.recipients == 2


async def test_dues_reminders_skip_those_who_turned_them_off(db: Database) -> None:
    await people(db)
    await set_flag(db, 12, news_dues=False, news_general=False)
    clock = ManualClock(KYIV, kyiv(2026, 4, 1, 10, 5))  # the first overdue reminder
    assert (await run(db, clock)).written["dues"] == 1
    assert {r.recipient for r in await outbox_rows(db)} == {11}


async def test_deadline_reminders_follow_the_deadlines_flag_only(db: Database) -> None:
    await people(db)
    await set_flag(db, 11, news_general=False)  # still wants deadlines
    await set_flag(db, 12, news_deadlines=False)
    due = kyiv(2026, 6, 15, 18)
    clock = ManualClock(KYIV, due - timedelta(days=7))
    async with db.session() as session:
        await deadlines.add(
            session=session, title_uk="Показники", title_en="Indicators", due_at=due, now=NOW
        )
    assert (await run(db, clock)).written["deadlines"] == 2
    rows = [r for r in await outbox_rows(db) if r.kind == "deadline"]
    assert {r.recipient for r in rows} == {11, 21}


async def add_event(
    db: Database,
    code: str,
    section_id: int | None,
    *,
    category: str = Category.EVENT,
    created_at: datetime = NOW,
    status: str = EventStatus.PUBLISHED,
) -> int:
    async with db.session() as session:
        event = Event(
            code=code,
            category=category,
            kind="forum" if category == Category.EVENT else "seminar",
            section_id=section_id,
            title_uk=f"Захід {code}",
            title_en=f"Event {code}",
            starts_at=NOW + timedelta(days=10),
            ends_at=NOW + timedelta(days=10, hours=3),
            location="Полтава",
            status=status,
            created_at=created_at,
        )
        session.add(event)
        await session.commit()
        assert event.id is not None
        return event.id


async def enrol(db: Database, telegram_id: int, event_id: int, status: RegistrationStatus) -> None:
    """A registration (or a place in the queue) of this person's official record."""
    async with db.session() as session:
        official = (
            await session.execute(select(Official).where(col(Official.telegram_id) == telegram_id))
        ).scalar_one()
        assert official.id is not None
        session.add(
            Registration(
                event_id=event_id,
                official_id=official.id,
                member_id=official.member_id,
                status=status,
                queued_at=NOW,
            )
        )
        await session.commit()


async def published(db: Database) -> list[Outbox]:
    return [r for r in await outbox_rows(db) if r.kind == "event_published"]


async def test_a_new_event_is_told_to_its_sections_subscribers_once(db: Database) -> None:
    edu, fin = await people(db)
    for person in (11, 12, 21):
        await follow(db, person, edu)
    await set_flag(db, 21, news_events=False)
    eid = await add_event(db, "NEW", edu)
    await add_event(db, "FINEV", fin)  # nobody follows FIN
    await add_event(db, "LOOSE", None)  # no section: no subscribers
    await add_event(db, "OLD", edu, created_at=NOW - timedelta(days=5))  # not news any more
    await add_event(db, "OFF", edu, status=EventStatus.CANCELLED)
    clock = ManualClock(KYIV, NOW + timedelta(minutes=1))
    assert (await run(db, clock)).written["published"] == 2
    rows = await published(db)
    assert {r.recipient for r in rows} == {11, 12}
    by = {r.recipient: r for r in rows}
    assert "Новий захід секції «Освіта»" in by[11].text and "Захід NEW" in by[11].text
    assert "Education" in by[12].text and "Event NEW" in by[12].text
    assert by[11].dedupe_key == f"event:{eid}:published:to:11"
    # A re-plan, or someone following the section later, gets nothing twice or late.
    await follow(db, 21, fin)
    await set_flag(db, 21, news_events=True)
    clock.advance(minutes=1)
    assert (await run(db, clock)).written["published"] == 0


async def test_a_new_training_goes_to_those_who_want_trainings(db: Database) -> None:
    edu, _ = await people(db)
    for person in (11, 12):
        await follow(db, person, edu)
    await set_flag(db, 11, news_events=False)  # events off, trainings on
    await set_flag(db, 12, news_trainings=False)
    await add_event(db, "TR", edu, category=Category.TRAINING)
    clock = ManualClock(KYIV, NOW + timedelta(minutes=1))
    assert (await run(db, clock)).written["published"] == 1
    [row] = await published(db)
    assert row.recipient == 11 and "Нове навчання" in row.text and "/trainings" in row.text


async def test_registration_closing_reaches_followers_not_yet_registered_once(
    db: Database,
) -> None:
    edu, _ = await people(db)
    for person in (11, 12, 21):
        await follow(db, person, edu)
    eid = await add_event(db, "SOON", edu, created_at=NOW - timedelta(days=5))
    deadline = NOW + timedelta(hours=30)
    async with db.session() as session:
        await session.execute(
            update(Event).where(col(Event.id) == eid).values(registration_deadline=deadline)
        )
        await session.commit()
    await enrol(db, 21, eid, RegistrationStatus.WAITLISTED)
    clock = ManualClock(KYIV, NOW)
    assert (await run(db, clock)).written["closing"] == 0  # 30 hours ahead: not yet
    clock.advance(hours=7)
    assert (await run(db, clock)).written["closing"] == 2
    rows = [r for r in await outbox_rows(db) if r.kind == "event_closing"]
    assert {r.recipient for r in rows} == {11, 12}  # 21 is already in the queue
    by = {r.recipient: r for r in rows}
    assert "Реєстрація закривається" in by[11].text and "Захід SOON" in by[11].text
    assert "Registration closes" in by[12].text
    assert all(r.expires_at == deadline for r in rows)  # never after registration closed
    clock.advance(hours=1)
    assert (await run(db, clock)).written["closing"] == 0  # once
    # A deadline moved later is a new "closes in 24 hours" when its time comes.
    async with db.session() as session:
        await session.execute(
            update(Event)
            .where(col(Event.id) == eid)
            .values(registration_deadline=deadline + timedelta(days=2))
        )
        await session.commit()
    clock.advance(days=2)
    assert (await run(db, clock)).written["closing"] == 2


async def test_many_new_events_at_once_each_reach_their_own_sections_followers(
    db: Database,
) -> None:
    """A programme imported at once: one pass, every event to its own section's followers."""
    edu, fin = await people(db)
    await follow(db, 11, edu)
    await follow(db, 21, fin)
    for section in (edu, fin):
        await follow(db, 12, section)
    edu_event = await add_event(db, "EDU1", edu)
    edu_training = await add_event(db, "EDU2", edu, category=Category.TRAINING)
    fin_event = await add_event(db, "FIN1", fin)
    await set_flag(db, 21, news_events=True, news_trainings=False)
    clock = ManualClock(KYIV, NOW + timedelta(minutes=1))
    assert (await run(db, clock)).written["published"] == 6
    got = {(r.recipient, r.dedupe_key.split(":")[1]) for r in await published(db)}
    assert got == {
        (11, str(edu_event)),
        (11, str(edu_training)),
        (12, str(edu_event)),
        (12, str(edu_training)),
        (12, str(fin_event)),
        (21, str(fin_event)),
    }
    english = sorted(r.text for r in await published(db) if r.recipient == 12)
    assert len(english) == 3 and all("Education" in t or "Finance" in t for t in english)
    assert not any("Захід" in t for t in english)


async def test_registration_closing_for_several_events_skips_only_their_own_registrants(
    db: Database,
) -> None:
    edu, _ = await people(db)
    for person in (11, 12):
        await follow(db, person, edu)
    first = await add_event(db, "A", edu, created_at=NOW - timedelta(days=5))
    second = await add_event(db, "B", edu, created_at=NOW - timedelta(days=5))
    async with db.session() as session:
        await session.execute(
            update(Event)
            .where(col(Event.id).in_([first, second]))
            .values(registration_deadline=NOW + timedelta(hours=20))
        )
        await session.commit()
    await enrol(db, 11, first, RegistrationStatus.REGISTERED)
    assert (await run(db, ManualClock(KYIV, NOW))).written["closing"] == 3
    rows = [r for r in await outbox_rows(db) if r.kind == "event_closing"]
    got = {(r.recipient, int(r.dedupe_key.split(":")[1])) for r in rows}
    assert got == {(11, second), (12, first), (12, second)}

"""The planner on a clock that moves: dues, deadline and announcement reminders, audiences,
late reminders dropped, and re-planning that never writes twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from bot.clock import ManualClock, parse_moment
from bot.db import Database
from bot.i18n import Translator
from bot.notifications.planner import (
    PlanResult,
    dues_stage,
    plan,
    reminder_day,
)
from bot.services import announcements, audiences, deadlines, outbox
from models import Outbox, OutboxStatus, Payment
from tests.notify_support import (
    FakeSender,
    add_charge,
    add_member,
    add_person,
    dispatcher,
    outbox_rows,
)

KYIV = ZoneInfo("Europe/Kyiv")
DUE = date(2026, 3, 31)
TRANSLATOR = Translator(KYIV)


def kyiv(y: int, m: int, d: int, hh: int = 12, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=KYIV).astimezone(UTC)


async def run(db: Database, clock: ManualClock) -> PlanResult:
    result = await plan(db=db, clock=clock, translator=TRANSLATOR)
    assert result is not None
    return result


@pytest.mark.parametrize(
    ("day", "stage"),
    [
        (date(2026, 2, 28), None),  # 31 days before
        (date(2026, 3, 1), "30d"),
        (date(2026, 3, 23), "30d"),
        (date(2026, 3, 24), "7d"),
        (date(2026, 3, 29), "7d"),
        (date(2026, 3, 30), "1d"),
        (date(2026, 3, 31), None),  # due today: the 1-day reminder had its day
        (date(2026, 4, 1), "overdue:0"),
        (date(2026, 4, 30), "overdue:0"),
        (date(2026, 5, 1), "overdue:1"),
        (date(2027, 4, 1), "overdue:12"),
    ],
)
def test_dues_stages(day: date, stage: str | None) -> None:
    assert dues_stage(DUE, day) == stage


def test_month_ends_are_clamped() -> None:
    due = date(2026, 1, 30)  # overdue from 31 January
    assert dues_stage(due, date(2026, 2, 27)) == "overdue:0"
    assert dues_stage(due, date(2026, 2, 28)) == "overdue:1"  # no 31 February


def test_reminders_of_a_day_start_at_ten_kyiv() -> None:
    clock = ManualClock(KYIV)
    assert reminder_day(kyiv(2026, 3, 1, 9, 59), clock) == date(2026, 2, 28)
    assert reminder_day(kyiv(2026, 3, 1, 10, 0), clock) == date(2026, 3, 1)


async def deadline_rows(db: Database) -> list[Outbox]:
    return [r for r in await outbox_rows(db) if r.kind == "deadline"]


async def council(db: Database) -> tuple[int, int]:
    """Council A (two linked officials, uk and en, plus an unlinked, a blocked and an inactive
    one) with a charge due DUE; council B with one official and no charge."""
    async with db.session() as session:
        a = await add_member(session, "10000001", region="Полтавська")
        b = await add_member(session, "10000002", region="Київська")
        await add_person(session, 11, a, lang="uk")
        await add_person(session, 12, a, lang="en")
        await add_person(session, None, a)
        await add_person(session, 13, a, blocked=True)
        await add_person(session, 14, a, active=False)
        await add_person(session, 21, b)
        charge = await add_charge(session, a, DUE, 150_000)
        await session.commit()
    return a, charge


async def test_dues_reminders_reach_the_councils_officials_once_per_stage(db: Database) -> None:
    await council(db)
    clock = ManualClock(KYIV, kyiv(2026, 2, 28, 23))
    assert (await run(db, clock)).total == 0  # 31 days before: nothing yet

    clock.set(kyiv(2026, 3, 1, 10, 5))
    assert (await run(db, clock)).written == {
        "announcements": 0,
        "deadlines": 0,
        "dues": 2,
        "event_changes": 0,
        "event_reminders": 0,
    }
    rows = await outbox_rows(db)
    assert sorted(r.recipient for r in rows) == [11, 12]
    by_person = {r.recipient: r for r in rows}
    assert "Нагадування про внески" in by_person[11].text
    assert "1\xa0500,00" in by_person[11].text and "31 березня 2026" in by_person[11].text
    assert "Dues reminder" in by_person[12].text and "1,500.00" in by_person[12].text
    assert by_person[11].kind == "dues" and not by_person[11].urgent

    clock.advance(minutes=30)
    assert (await run(db, clock)).total == 0  # re-planning writes nothing twice

    clock.set(kyiv(2026, 3, 25, 10))
    assert (await run(db, clock)).written["dues"] == 2
    clock.set(kyiv(2026, 3, 30, 10))
    assert (await run(db, clock)).written["dues"] == 2
    clock.set(kyiv(2026, 3, 31, 18))
    assert (await run(db, clock)).total == 0
    clock.set(kyiv(2026, 4, 1, 10))
    assert (await run(db, clock)).written["dues"] == 2
    overdue = [r for r in await outbox_rows(db) if "overdue:0" in r.dedupe_key]
    assert {r.recipient for r in overdue} == {11, 12}
    assert "Прострочені внески" in next(r.text for r in overdue if r.recipient == 11)
    clock.set(kyiv(2026, 4, 20, 10))
    assert (await run(db, clock)).total == 0
    clock.set(kyiv(2026, 5, 1, 10))
    assert (await run(db, clock)).written["dues"] == 2  # monthly while overdue
    assert len(await outbox_rows(db)) == 10


async def test_paid_charges_get_no_reminder(db: Database) -> None:
    a, _ = await council(db)
    async with db.session() as session:
        # Paid without naming a purpose: allocation settles the oldest charge, as /dues shows.
        session.add(
            Payment(member_id=a, amount_kop=150_000, paid_on=date(2026, 3, 20), reference="p1")
        )
        await session.commit()
    clock = ManualClock(KYIV, kyiv(2026, 3, 25, 10))
    assert (await run(db, clock)).total == 0
    clock.set(kyiv(2026, 4, 1, 10))
    assert (await run(db, clock)).total == 0
    assert await outbox_rows(db) == []


async def test_partly_paid_charges_are_reminded_of_the_rest(db: Database) -> None:
    a, _ = await council(db)
    async with db.session() as session:
        session.add(
            Payment(member_id=a, amount_kop=50_000, paid_on=date(2026, 3, 20), reference="p1")
        )
        await session.commit()
    clock = ManualClock(KYIV, kyiv(2026, 3, 25, 10))
    await run(db, clock)
    uk = next(r for r in await outbox_rows(db) if r.recipient == 11)
    assert "1\xa0000,00" in uk.text


async def test_a_late_start_sends_only_the_reminder_still_due(db: Database) -> None:
    a, _ = await council(db)
    # The bot was down from before the 30-day reminder until 3 days before the due date.
    clock = ManualClock(KYIV, kyiv(2026, 3, 28, 11))
    await run(db, clock)
    keys = {r.dedupe_key.rsplit(":to:", 1)[0] for r in await outbox_rows(db)}
    assert keys == {f"dues:{a}:2026-03-31:7d"}


async def test_dues_reminders_go_to_each_council_separately(db: Database) -> None:
    await council(db)
    async with db.session() as session:
        b2 = await add_member(session, "10000003")
        await add_person(session, 31, b2)
        await add_charge(session, b2, DUE, 70_000)
        await session.commit()
    clock = ManualClock(KYIV, kyiv(2026, 3, 25, 10))
    await run(db, clock)
    rows = await outbox_rows(db)
    assert sorted(r.recipient for r in rows) == [11, 12, 31]
    assert "700,00" in next(r.text for r in rows if r.recipient == 31)
    assert all("700,00" not in r.text for r in rows if r.recipient == 11)


async def test_deadline_reminders_seven_days_and_one_day_before(db: Database) -> None:
    await council(db)
    due = kyiv(2026, 6, 15, 18)
    clock = ManualClock(KYIV, kyiv(2026, 6, 1))
    async with db.session() as session:
        await deadlines.add(
            session=session,
            title_uk="Показники до АСМС",
            title_en="ASMS indicators",
            description_uk="Подати річні показники",
            due_at=due,
            now=clock.now(),
        )
    assert (await run(db, clock)).written["deadlines"] == 0
    clock.set(due - timedelta(days=7))
    assert (await run(db, clock)).written["deadlines"] == 3  # A's two and B's one
    rows = await deadline_rows(db)
    uk = next(r for r in rows if r.recipient == 11)
    en = next(r for r in rows if r.recipient == 12)
    assert "Показники до АСМС" in uk.text and "Подати річні показники" in uk.text
    assert "ASMS indicators" in en.text
    assert uk.expires_at == due
    clock.advance(hours=1)
    assert (await run(db, clock)).written["deadlines"] == 0
    clock.set(due - timedelta(hours=23))
    assert (await run(db, clock)).written["deadlines"] == 3
    clock.set(due + timedelta(minutes=1))
    assert (await run(db, clock)).written["deadlines"] == 0
    assert len(await deadline_rows(db)) == 6


async def test_a_deadline_added_late_skips_the_reminder_it_missed(db: Database) -> None:
    await council(db)
    clock = ManualClock(KYIV, kyiv(2026, 6, 1))
    async with db.session() as session:
        await deadlines.add(
            session=session,
            title_uk="Пропозиції до законопроєкту",
            title_en="Proposals on the draft law",
            due_at=clock.now() + timedelta(hours=10),
            now=clock.now(),
            audience="region:Київська",
        )
    await run(db, clock)
    rows = await deadline_rows(db)
    assert [r.recipient for r in rows] == [21]  # the region's official only
    assert rows[0].dedupe_key.startswith("deadline:1:1d:")


async def test_open_deadlines_for_a_region(db: Database) -> None:
    now = kyiv(2026, 6, 1)
    async with db.session() as session:
        await add_member(session, "10000001", region="Полтавська")
        for title, audience in (("all", "all"), ("pl", "region:Полтавська")):
            await deadlines.add(
                session=session,
                title_uk=title,
                title_en=title,
                due_at=now + timedelta(days=3),
                now=now,
                audience=audience,
            )
        mine = await deadlines.open_deadlines(session=session, now=now, region="Київська")
        staff = await deadlines.open_deadlines(
            session=session, now=now, region=None, everything=True
        )
        later = await deadlines.open_deadlines(
            session=session, now=now + timedelta(days=4), region="Полтавська"
        )
    assert [d.title_uk for d in mine] == ["all"]
    assert [d.title_uk for d in staff] == ["all", "pl"]
    assert later == []


async def test_deadline_input_is_checked(db: Database) -> None:
    now = kyiv(2026, 6, 1)
    async with db.session() as session:
        with pytest.raises(ValueError):
            await deadlines.add(
                session=session,
                title_uk=" ",
                title_en="x",
                due_at=now + timedelta(days=1),
                now=now,
            )
        with pytest.raises(ValueError):
            await deadlines.add(session=session, title_uk="x", title_en="x", due_at=now, now=now)
        with pytest.raises(audiences.AudienceError):
            await deadlines.add(
                session=session,
                title_uk="x",
                title_en="x",
                due_at=now + timedelta(days=1),
                now=now,
                audience="overdue",
            )


async def test_announcement_audiences(db: Database) -> None:
    a, _ = await council(db)
    now = kyiv(2026, 4, 2)
    clock = ManualClock(KYIV, now)

    async def reach(audience: str) -> set[int]:
        async with db.session() as session:
            item = await announcements.create(
                session=session,
                text=f"To {audience}",
                audience=audience,
                now=now,
                today=now.date(),
            )
        return {r.recipient for r in await outbox_rows(db) if r.announcement_id == item.id}

    assert await reach("all") == {11, 12, 21}
    assert await reach("region:Київська") == {21}
    assert await reach("overdue") == {11, 12}  # council A owes since 31 March
    async with db.session() as session:
        session.add(
            Payment(member_id=a, amount_kop=150_000, paid_on=date(2026, 4, 1), reference="p")
        )
        await session.commit()
    assert await reach("overdue") == set()
    assert clock.now() == now


async def test_bad_audiences_are_refused(db: Database) -> None:
    await council(db)
    now = kyiv(2026, 4, 2)
    async with db.session() as session:
        for bad, reason in (
            ("everyone", "unknown_kind"),
            ("region:Марс", "unknown_region"),
            ("region", "malformed"),
            ("all:x", "malformed"),
        ):
            with pytest.raises(audiences.AudienceError) as info:
                await announcements.create(
                    session=session, text="x", audience=bad, now=now, today=now.date()
                )
            assert info.value.reason == reason
        with pytest.raises(ValueError):
            await announcements.create(
                session=session, text="x" * 5000, audience="all", now=now, today=now.date()
            )
    assert await outbox_rows(db) == []


async def test_announcement_text_is_sent_as_written(db: Database) -> None:
    await council(db)
    now = kyiv(2026, 4, 2)
    async with db.session() as session:
        await announcements.create(
            session=session,
            text="Форум <2026> & Co",
            audience="region:Київська",
            now=now,
            today=now.date(),
        )
    [row] = await outbox_rows(db)
    assert row.text == "Форум &lt;2026&gt; &amp; Co"


async def test_scheduled_announcements_go_out_when_due(db: Database) -> None:
    await council(db)
    clock = ManualClock(KYIV, kyiv(2026, 4, 2, 12))
    at = kyiv(2026, 4, 3, 9)
    async with db.session() as session:
        item = await announcements.create(
            session=session,
            text="Завтра форум",
            audience="all",
            now=clock.now(),
            today=clock.today(),
            send_at=at,
        )
    assert item.expanded_at is None
    assert (await run(db, clock)).written["announcements"] == 0
    clock.set(at)
    assert (await run(db, clock)).written["announcements"] == 3
    assert (await run(db, clock)).written["announcements"] == 0
    sender = FakeSender()
    await dispatcher(db, sender, clock).drain()
    async with db.session() as session:
        _, report = await announcements.status(session=session, announcement_id=item.id or 0)
    assert (report.delivered, report.total) == (3, 3)
    with pytest.raises(announcements.AnnouncementNotFound):
        async with db.session() as session:
            await announcements.status(session=session, announcement_id=999)


async def test_planned_reminders_are_delivered_by_the_dispatcher(db: Database) -> None:
    await council(db)
    clock = ManualClock(KYIV, kyiv(2026, 3, 1, 10))
    await run(db, clock)
    sender = FakeSender()
    await dispatcher(db, sender, clock).drain()
    assert sorted(sender.chats()) == [11, 12]
    assert {r.status for r in await outbox_rows(db)} == {OutboxStatus.SENT}


async def test_the_planner_runs_one_at_a_time(db: Database) -> None:
    await council(db)
    clock = ManualClock(KYIV, kyiv(2026, 3, 1, 10))
    if db.engine.dialect.name == "postgresql":
        async with db.engine.connect() as holder:
            await holder.execute(
                text("SELECT pg_advisory_lock(:ns, :key)"),
                {"ns": outbox.LOCK_NAMESPACE, "key": outbox.PLANNER_LOCK},
            )
            assert await plan(db=db, clock=clock, translator=TRANSLATOR) is None
            await holder.execute(
                text("SELECT pg_advisory_unlock(:ns, :key)"),
                {"ns": outbox.LOCK_NAMESPACE, "key": outbox.PLANNER_LOCK},
            )
    # Concurrent passes (two processes' planners) never write a message twice.
    results = await asyncio.gather(
        *(plan(db=db, clock=clock, translator=TRANSLATOR) for _ in range(3))
    )
    assert sum(r.total for r in results if r is not None) == 2
    assert len(await outbox_rows(db)) == 2


def test_moments_are_read_in_kyiv() -> None:
    assert parse_moment("2026-06-15 18:00", KYIV) == datetime(2026, 6, 15, 15, 0, tzinfo=UTC)
    assert parse_moment("2026-06-15T18:00+00:00", KYIV) == datetime(2026, 6, 15, 18, tzinfo=UTC)
    for bad in ("2026-06-15", "15.06.2026 18:00", "soon"):
        with pytest.raises(ValueError):
            parse_moment(bad, KYIV)

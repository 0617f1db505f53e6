"""Registration: seats, the waitlist, cancellation with promotion, refusals, concurrency."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlmodel import col

from bot.db import Database
from bot.services import events
from bot.services.events import Outcome
from models import Category, Event, Member, Official, Registration, RegistrationStatus
from tests.conftest import NOW

START = NOW + timedelta(days=10)


async def make_event(db: Database, **kw: object) -> int:
    fields: dict[str, object] = {
        "code": "E-1",
        "category": Category.EVENT,
        "kind": "section_meeting",
        "title_uk": "Засідання",
        "title_en": "Meeting",
        "starts_at": START,
        "ends_at": START + timedelta(hours=3),
        "capacity": 2,
    }
    fields.update(kw)
    async with db.session() as session:
        event = Event(**fields)  # type: ignore[arg-type]
        session.add(event)
        await session.commit()
        assert event.id is not None
        return event.id


async def make_officials(db: Database, n: int, *, councils: int = 1) -> list[tuple[int, int]]:
    """n officials spread over `councils` councils: (official id, member id)."""
    async with db.session() as session:
        members = [
            Member(
                code=f"{10000000 + i}",
                name_uk=f"Рада {i}",
                name_en=f"Council {i}",
                region="Полтавська",
                kind="city",
            )
            for i in range(councils)
        ]
        session.add_all(members)
        await session.flush()
        people = [
            Official(member_id=members[i % councils].id or 0, full_name=f"Посадовець {i:03d}")
            for i in range(n)
        ]
        session.add_all(people)
        await session.commit()
        return [(p.id or 0, p.member_id) for p in people]


async def reg(
    db: Database, event_id: int, who: tuple[int, int], now: datetime = NOW
) -> events.RegistrationResult:
    async with db.session() as session:
        return await events.register(
            session=session, event_id=event_id, official_id=who[0], member_id=who[1], now=now
        )


async def cancel(
    db: Database, event_id: int, who: tuple[int, int], now: datetime = NOW
) -> events.RegistrationResult:
    async with db.session() as session:
        return await events.cancel_registration(
            session=session, event_id=event_id, official_id=who[0], now=now
        )


async def statuses(db: Database, event_id: int) -> dict[int, str]:
    async with db.session() as session:
        rows = await session.execute(
            select(col(Registration.official_id), col(Registration.status)).where(
                col(Registration.event_id) == event_id
            )
        )
        return dict(rows.all())


async def test_full_event_waitlists_and_a_cancellation_promotes_the_first_in_line(
    db: Database,
) -> None:
    eid = await make_event(db)
    a, b, c, d = await make_officials(db, 4, councils=2)
    assert (await reg(db, eid, a)).outcome == Outcome.REGISTERED
    assert (await reg(db, eid, b)).outcome == Outcome.REGISTERED
    third = await reg(db, eid, c, NOW + timedelta(seconds=1))
    assert (third.outcome, third.position) == (Outcome.WAITLISTED, 1)
    fourth = await reg(db, eid, d, NOW + timedelta(seconds=2))
    assert (fourth.outcome, fourth.position) == (Outcome.WAITLISTED, 2)

    # Registering twice is a no-op that says where one stands.
    assert (await reg(db, eid, a)).outcome == Outcome.ALREADY_REGISTERED
    again = await reg(db, eid, d)
    assert (again.outcome, again.position) == (Outcome.ALREADY_WAITLISTED, 2)

    # b cancels: c, first in line, takes the seat; d moves up.
    done = await cancel(db, eid, b)
    assert done.outcome == Outcome.CANCELLED
    assert [p.registration_id for p in done.promoted] != []
    assert (await statuses(db, eid))[c[0]] == RegistrationStatus.REGISTERED
    assert (await reg(db, eid, d)).position == 1

    # Cancelling from the waitlist promotes nobody; cancelling twice says so.
    done = await cancel(db, eid, d)
    assert (done.outcome, done.promoted) == (Outcome.CANCELLED, [])
    assert (await cancel(db, eid, d)).outcome == Outcome.NOT_REGISTERED
    # Coming back puts them at the end of the line.
    back = await reg(db, eid, b, NOW + timedelta(seconds=5))
    assert (back.outcome, back.position) == (Outcome.WAITLISTED, 1)


async def test_promotion_tells_who_to_notify_in_their_language(db: Database) -> None:
    from models import TelegramUser

    eid = await make_event(db, capacity=1)
    a, b = await make_officials(db, 2)
    async with db.session() as session:
        session.add(TelegramUser(id=5551, first_name="B", language="en"))
        await session.flush()
        official = await session.get(Official, b[0])
        assert official is not None
        official.telegram_id = 5551
        await session.commit()
    await reg(db, eid, a)
    await reg(db, eid, b)
    done = await cancel(db, eid, a)
    [promotion] = done.promoted
    assert promotion.contact == events.Contact(5551, "en")
    assert promotion.event_id == eid


async def test_refusals_carry_their_reason(db: Database) -> None:
    eid = await make_event(
        db, capacity=None, per_council_limit=2, registration_deadline=NOW + timedelta(days=1)
    )
    a, b, c = await make_officials(db, 3, councils=1)
    await reg(db, eid, a)
    await reg(db, eid, b)
    limited = await reg(db, eid, c)
    assert (limited.outcome, limited.limit) == (Outcome.COUNCIL_LIMIT, 2)
    # A colleague cancels: the council has room again.
    await cancel(db, eid, b)
    assert (await reg(db, eid, c)).outcome == Outcome.REGISTERED
    late = await reg(db, eid, b, NOW + timedelta(days=2))
    assert late.outcome == Outcome.DEADLINE_PASSED
    started = await reg(db, eid, b, START + timedelta(minutes=1))
    assert started.outcome == Outcome.STARTED
    assert (await reg(db, 999_999, b)).outcome == Outcome.NOT_FOUND
    async with db.session() as session:
        event = await session.get(Event, eid)
        assert event is not None
        event.status = "cancelled"
        await session.commit()
    assert (await reg(db, eid, b)).outcome == Outcome.EVENT_CANCELLED


async def test_one_hundred_at_once_for_fifty_seats(db: Database) -> None:
    eid = await make_event(db, capacity=50)
    people = await make_officials(db, 100, councils=10)
    results = await asyncio.gather(*(reg(db, eid, who) for who in people))
    outcomes = [r.outcome for r in results]
    assert outcomes.count(Outcome.REGISTERED) == 50
    assert outcomes.count(Outcome.WAITLISTED) == 50
    # Every waitlist position is handed out exactly once.
    assert sorted(r.position for r in results if r.position) == list(range(1, 51))
    final = list((await statuses(db, eid)).values())
    assert final.count(RegistrationStatus.REGISTERED) == 50
    assert final.count(RegistrationStatus.WAITLISTED) == 50

    # Twenty cancel at once: exactly twenty are promoted, the seats stay at fifty.
    seated = [
        who for who, r in zip(people, results, strict=True) if r.outcome == Outcome.REGISTERED
    ]
    done = await asyncio.gather(*(cancel(db, eid, who) for who in seated[:20]))
    assert sum(len(d.promoted) for d in done) == 20
    final = list((await statuses(db, eid)).values())
    assert final.count(RegistrationStatus.REGISTERED) == 50
    assert final.count(RegistrationStatus.WAITLISTED) == 30


async def test_card_shows_seats_my_place_and_colleagues(db: Database) -> None:
    eid = await make_event(db, capacity=1)
    a, b, c = await make_officials(db, 3, councils=1)
    await reg(db, eid, a)
    await reg(db, eid, b)
    async with db.session() as session:
        card = await events.event_card(
            session=session, event_id=eid, official_id=b[0], member_id=b[1]
        )
    assert card is not None
    assert (card.seated, card.waitlisted, card.seats_left) == (1, 1, 0)
    assert card.mine == events.Mine(RegistrationStatus.WAITLISTED, 1)
    assert card.colleagues == ["Посадовець 000"]
    async with db.session() as session:
        page = await events.catalog(session=session, category=Category.EVENT, now=NOW)
        assert [i.id for i in page.items] == [eid]
        past = await events.catalog(
            session=session, category=Category.EVENT, now=START + timedelta(days=1)
        )
        assert past.items == []
        none = await events.catalog(session=session, category=Category.TRAINING, now=NOW)
        assert none.total == 0
    _ = c, UTC


async def test_added_seats_go_to_those_waiting_before_a_newcomer(db: Database) -> None:
    eid = await make_event(db, capacity=1)
    a, b, c = await make_officials(db, 3)
    await reg(db, eid, a)
    await reg(db, eid, b, NOW + timedelta(seconds=1))  # waitlisted
    async with db.session() as session:
        event = await session.get(Event, eid)
        assert event is not None
        event.capacity = 2  # as a re-import that raises the capacity does
        await session.commit()
    late = await reg(db, eid, c, NOW + timedelta(seconds=2))
    assert (late.outcome, late.position) == (Outcome.WAITLISTED, 1)
    assert [p.registration_id for p in late.promoted] != []
    assert (await statuses(db, eid))[b[0]] == RegistrationStatus.REGISTERED


async def test_a_lifted_capacity_seats_everyone_waiting(db: Database) -> None:
    eid = await make_event(db, capacity=1)
    a, b, c, d = await make_officials(db, 4)
    await reg(db, eid, a)
    await reg(db, eid, b, NOW + timedelta(seconds=1))
    await reg(db, eid, c, NOW + timedelta(seconds=2))
    async with db.session() as session:
        event = await session.get(Event, eid)
        assert event is not None
        event.capacity = None
        await session.commit()
    newcomer = await reg(db, eid, d, NOW + timedelta(seconds=3))
    assert newcomer.outcome == Outcome.REGISTERED
    assert len(newcomer.promoted) == 2
    assert set((await statuses(db, eid)).values()) == {RegistrationStatus.REGISTERED}

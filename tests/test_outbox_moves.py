"""Messages to people other than the caller: written by the service with the change, or not at all.

A crash between the change and its message can lose nothing: the outbox row commits in the
same transaction as the change, and a change that rolls back leaves no row behind.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from bot.db import Database
from bot.services import access_requests, event_admin, events
from bot.services.access_requests import Decision, RequestOutcome, RequestResult
from bot.services.certificates import CertificateView
from bot.services.outbox import Document, Rendered
from models import (
    AccessRequest,
    Category,
    Certificate,
    Event,
    EventStatus,
    Official,
    Outbox,
    Registration,
    RegistrationStatus,
    TelegramUser,
)
from tests.conftest import NOW
from tests.notify_support import add_member, outbox_rows

START = NOW + timedelta(days=10)


class Crash(RuntimeError):
    """The process dies after the change, before the transaction commits."""


async def person(db: Database, telegram_id: int, member_id: int, lang: str = "uk") -> int:
    """A linked official; returns the official's id."""
    async with db.session() as session:
        session.add(TelegramUser(id=telegram_id, first_name=f"P{telegram_id}", language=lang))
        await session.flush()
        official = Official(
            member_id=member_id, full_name=f"P{telegram_id}", telegram_id=telegram_id
        )
        session.add(official)
        await session.commit()
        assert official.id is not None
        return official.id


async def council(db: Database, code: str = "10000001") -> int:
    async with db.session() as session:
        member_id = await add_member(session, code)
        await session.commit()
        return member_id


async def make_event(db: Database, **kw: object) -> int:
    fields: dict[str, object] = {
        "code": "E-1",
        "category": Category.EVENT,
        "kind": "section_meeting",
        "title_uk": "Засідання",
        "title_en": "Meeting",
        "starts_at": START,
        "ends_at": START + timedelta(hours=3),
        "capacity": 1,
    }
    fields.update(kw)
    async with db.session() as session:
        event = Event(**fields)  # type: ignore[arg-type]
        session.add(event)
        await session.commit()
        assert event.id is not None
        return event.id


async def count(db: Database, model: type) -> int:
    async with db.session() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


def event_notice(lang: str, event: Event) -> Rendered:
    return Rendered(f"{lang}: {event.title(lang)}", [[{"text": "open", "callback_data": "x"}]])


def crashing(*_: object) -> Rendered:
    raise Crash


# --- access requests ---------------------------------------------------------------------------


def staff_notice(lang: str, result: RequestResult) -> Rendered:
    return Rendered(
        f"{lang}: #{result.request_id}",
        [[{"text": "ok", "callback_data": f"acc:ok:{result.request_id}"}]],
    )


async def file_request(db: Database, member_id: int, render: object) -> RequestResult:
    async with db.session() as session:
        return await access_requests.request_access(
            session=session,
            telegram_id=555,
            member_id=member_id,
            full_name="Іван Коваль",
            position="секретар",
            now=NOW,
            admin_ids=frozenset({900, 901}),
            render_staff=render,  # type: ignore[arg-type]
        )


async def test_access_request_and_staff_messages_commit_together(db: Database) -> None:
    member_id = await council(db)
    async with db.session() as session:
        session.add(TelegramUser(id=901, language="en"))
        await session.commit()
    created = await file_request(db, member_id, staff_notice)
    assert created.outcome == RequestOutcome.CREATED
    rows = await outbox_rows(db)
    assert [(r.recipient, r.dedupe_key, r.text, r.kind) for r in rows] == [
        (
            900,
            f"access:{created.request_id}:to:900",
            f"uk: #{created.request_id}",
            "access_request",
        ),
        (
            901,
            f"access:{created.request_id}:to:901",
            f"en: #{created.request_id}",
            "access_request",
        ),
    ]
    assert rows[0].buttons == [[{"text": "ok", "callback_data": f"acc:ok:{created.request_id}"}]]
    assert rows[0].urgent

    def decision_notice(decision: Decision) -> Rendered:
        return Rendered(f"{decision.requester_language}: {decision.outcome}", [[{"text": "menu"}]])

    async with db.session() as session:
        await access_requests.decide_access_request(
            session=session,
            request_id=created.request_id,
            approve=True,
            staff_id=900,
            now=NOW,
            render_decision=decision_notice,
        )
    [decided] = [r for r in await outbox_rows(db) if r.recipient == 555]
    assert (decided.dedupe_key, decided.text) == (
        f"access:{created.request_id}:decision",
        "uk: approved",
    )
    assert decided.buttons == [[{"text": "menu"}]]


async def test_a_crash_before_commit_leaves_neither_request_nor_message(db: Database) -> None:
    member_id = await council(db)
    with pytest.raises(Crash):
        await file_request(db, member_id, crashing)
    assert await count(db, AccessRequest) == 0
    assert await count(db, Outbox) == 0


async def test_a_decision_that_rolls_back_sends_nothing(db: Database) -> None:
    member_id = await council(db)
    created = await file_request(db, member_id, staff_notice)
    with pytest.raises(Crash):
        async with db.session() as session:
            await access_requests.decide_access_request(
                session=session,
                request_id=created.request_id,
                approve=True,
                staff_id=900,
                now=NOW,
                render_decision=crashing,
            )
    async with db.session() as session:
        request = await session.get(AccessRequest, created.request_id)
        assert request is not None and request.status == "pending"
        assert (await session.execute(select(Official))).first() is None  # nobody linked
    assert [r.recipient for r in await outbox_rows(db)] == [900, 901]


# --- waitlist promotions -------------------------------------------------------------------------


async def test_promotion_message_commits_with_the_seat(db: Database) -> None:
    member_id = await council(db)
    first, second = await person(db, 1, member_id), await person(db, 2, member_id, "en")
    eid = await make_event(db)
    async with db.session() as session:
        await events.register(
            session=session, event_id=eid, official_id=first, member_id=member_id, now=NOW
        )
    async with db.session() as session:
        await events.register(
            session=session, event_id=eid, official_id=second, member_id=member_id, now=NOW
        )
    with pytest.raises(Crash):
        async with db.session() as session:
            await events.cancel_registration(
                session=session,
                event_id=eid,
                official_id=first,
                now=NOW,
                render_promoted=crashing,
            )
    assert await count(db, Outbox) == 0
    async with db.session() as session:
        statuses = sorted(
            (await session.execute(select(col(Registration.status)))).scalars().all()
        )
    assert statuses == [RegistrationStatus.REGISTERED, RegistrationStatus.WAITLISTED]

    async with db.session() as session:
        done = await events.cancel_registration(
            session=session,
            event_id=eid,
            official_id=first,
            now=NOW,
            render_promoted=event_notice,
        )
    assert len(done.promoted) == 1
    [row] = await outbox_rows(db)
    assert (row.recipient, row.text, row.kind) == (2, "en: Meeting", "promotion")
    assert row.expires_at == START  # a seat at a finished event is news to nobody
    assert row.buttons == [[{"text": "open", "callback_data": "x"}]]


# --- event cancellation --------------------------------------------------------------------------


async def test_cancellation_tells_registered_and_waitlisted_once(db: Database) -> None:
    member_id = await council(db)
    ids = [
        await person(db, 1, member_id),
        await person(db, 2, member_id, "en"),
        await person(db, 3, member_id),
    ]
    eid = await make_event(db)
    for official_id in ids:
        async with db.session() as session:
            await events.register(
                session=session,
                event_id=eid,
                official_id=official_id,
                member_id=member_id,
                now=NOW,
            )
    async with db.session() as session:  # the third cancels: not told
        await events.cancel_registration(
            session=session, event_id=eid, official_id=ids[2], now=NOW
        )

    with pytest.raises(Crash):
        async with db.session() as session:
            await event_admin.cancel_event(
                session=session, event_id=eid, now=NOW, render_cancelled=crashing
            )
    assert await count(db, Outbox) == 0
    async with db.session() as session:
        event = await session.get(Event, eid)
        assert event is not None and event.status == EventStatus.PUBLISHED

    async with db.session() as session:
        done = await event_admin.cancel_event(
            session=session, event_id=eid, now=NOW, render_cancelled=event_notice
        )
    assert done is not None and done[1] == 2
    rows = await outbox_rows(db)
    assert sorted((r.recipient, r.text, r.urgent) for r in rows) == [
        (1, "uk: Засідання", True),
        (2, "en: Meeting", True),
    ]
    assert {r.dedupe_key for r in rows} == {
        f"event:{eid}:cancelled:to:1",
        f"event:{eid}:cancelled:to:2",
    }
    assert rows[0].buttons == [[{"text": "open", "callback_data": "x"}]]
    async with db.session() as session:  # cancelling again tells nobody again
        again = await event_admin.cancel_event(
            session=session, event_id=eid, now=NOW, render_cancelled=event_notice
        )
    assert again is not None and again[1] == 0
    assert len(await outbox_rows(db)) == 2


# --- certificates --------------------------------------------------------------------------------


def certificate(view: CertificateView, lang: str) -> tuple[Rendered, Document]:
    return Rendered(f"{lang}: {view.number}"), Document(f"{view.number}.pdf", b"%PDF-1.4 test")


async def test_certificate_document_commits_with_attendance(db: Database) -> None:
    member_id = await council(db)
    official_id = await person(db, 1, member_id)
    eid = await make_event(
        db,
        category=Category.TRAINING,
        kind="seminar",
        hours=6,
        starts_at=NOW - timedelta(hours=4),
        ends_at=NOW - timedelta(hours=1),
    )
    async with db.session() as session:
        session.add(
            Registration(
                event_id=eid,
                official_id=official_id,
                member_id=member_id,
                status=RegistrationStatus.REGISTERED,
                queued_at=NOW - timedelta(days=3),
            )
        )
        await session.commit()

    def broken(view: CertificateView, lang: str) -> tuple[Rendered, Document]:
        raise Crash

    with pytest.raises(Crash):
        async with db.session() as session:
            await event_admin.mark_attendance(
                session=session, now=NOW, by=900, event_id=eid, render_certificate=broken
            )
    assert await count(db, Certificate) == 0
    assert await count(db, Outbox) == 0

    async with db.session() as session:
        result = await event_admin.mark_attendance(
            session=session, now=NOW, by=900, event_id=eid, render_certificate=certificate
        )
    [issued] = result.issued
    [row] = await outbox_rows(db)
    assert row.recipient == 1 and row.kind == "certificate"
    assert row.dedupe_key == f"certificate:{issued.certificate_id}:to:1"
    assert row.document == b"%PDF-1.4 test" and (row.document_name or "").endswith(".pdf")
    assert row.text.startswith("uk: ")

"""Events and trainings: the catalog, cards, registration with a waitlist, and /my.

Registration and cancellation lock the event first, so seats are counted by one writer at a
time: PostgreSQL locks the event row (SELECT ... FOR UPDATE); SQLite, which locks the whole
database, takes its write lock up front (BEGIN IMMEDIATE: the driver then issues no BEGIN of
its own), so two registrations never count the same free seat.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.i18n import localized
from bot.services.audiences import Query, for_language, reachable_officials
from bot.services.callers import pick_language, untyped
from bot.services.outbox import Document, Rendered, enqueue, enqueue_select
from locales import LANGUAGES
from models import (
    SEATED,
    Category,
    Certificate,
    Event,
    EventStatus,
    Official,
    Registration,
    RegistrationStatus,
    Section,
    TelegramUser,
)

# EventKind and TrainingFormat are re-exported: handlers name them, but never import models.
from models import EventKind as EventKind
from models import TrainingFormat as TrainingFormat

PAGE_SIZE = 6
ACTIVE = (*SEATED, RegistrationStatus.WAITLISTED)  # counts toward a council's limit
MAX_COLLEAGUES = 10

# Renders a message about an event for a reader of a language (handlers pass one in).
EventRenderer = Callable[[str, Event], Rendered]


class Outcome(StrEnum):
    """What a registration or cancellation did, or why it was refused."""

    REGISTERED = "registered"
    WAITLISTED = "waitlisted"
    ALREADY_REGISTERED = "already_registered"
    ALREADY_WAITLISTED = "already_waitlisted"
    CANCELLED = "cancelled"
    NOT_REGISTERED = "not_registered"
    NOT_FOUND = "not_found"
    EVENT_CANCELLED = "event_cancelled"
    DEADLINE_PASSED = "deadline_passed"
    STARTED = "started"
    COUNCIL_LIMIT = "council_limit"


@dataclass(frozen=True)
class Contact:
    """Someone to tell about a change, in their language."""

    telegram_id: int
    language: str


@dataclass(frozen=True)
class Promotion:
    """A waitlisted person who got a seat."""

    registration_id: int
    event_id: int
    contact: Contact | None  # None if they have no Telegram link any more


@dataclass(frozen=True)
class RegistrationResult:
    """The answer to "register me" or "cancel my registration"."""

    outcome: Outcome
    position: int | None = None  # on the waitlist, 1 = next in line
    limit: int | None = None  # the council's limit, when that was the reason
    promoted: list[Promotion] = field(default_factory=list)


def deadline_of(event: Event) -> datetime:
    """When registration closes: the stated deadline, else the start."""
    return event.registration_deadline or event.starts_at


def is_open(event: Event, now: datetime) -> bool:
    """Whether someone may register now."""
    return (
        event.status == EventStatus.PUBLISHED
        and now <= deadline_of(event)
        and (now < event.starts_at)
    )


async def lock_event(session: AsyncSession, event_id: int) -> Event | None:
    """The event, locked against other registrations until this transaction ends."""
    event, _ = await _lock_event_for(session, event_id, None)
    return event


async def _lock_event_for(
    session: AsyncSession, event_id: int, official_id: int | None
) -> tuple[Event | None, Registration | None]:
    """Lock the event; with `official_id`, also read their registration in the same query.

    Only the event row is locked and read together with it: counts of seats must come from a
    later statement, which (in READ COMMITTED) sees what the previous lock holder committed.
    """
    if session.in_transaction():
        await session.commit()  # the lock must be the transaction's first statement
    if session.get_bind().dialect.name == "sqlite":
        # SQLite locks the whole database: take the write lock before reading anything.
        await session.execute(text("BEGIN IMMEDIATE"))
    if official_id is None:
        event = (
            await session.execute(
                select(Event)
                .where(col(Event.id) == event_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()
        return event, None
    row = (
        await session.execute(
            select(Event, Registration)
            .outerjoin(
                Registration,
                and_(
                    col(Registration.event_id) == col(Event.id),
                    col(Registration.official_id) == official_id,
                ),
            )
            .where(col(Event.id) == event_id)
            .with_for_update(of=Event)  # the registration is read, never locked
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    return (row[0], row[1]) if row is not None else (None, None)


async def _count(session: AsyncSession, *conditions: ColumnElement[bool]) -> int:
    return int(
        (
            await session.execute(
                select(func.count()).select_from(Registration).where(*conditions)
            )
        ).scalar_one()
    )


async def seated_count(session: AsyncSession, event_id: int) -> int:
    """Seats taken at an event."""
    return await _count(
        session, col(Registration.event_id) == event_id, col(Registration.status).in_(SEATED)
    )


async def waitlist_position(session: AsyncSession, reg: Registration) -> int:
    """1 for the first in line."""
    return await _count(
        session,
        col(Registration.event_id) == reg.event_id,
        col(Registration.status) == RegistrationStatus.WAITLISTED,
        or_(
            col(Registration.queued_at) < reg.queued_at,
            and_(col(Registration.queued_at) == reg.queued_at, col(Registration.id) <= reg.id),
        ),
    )


async def register(
    *,
    session: AsyncSession,
    event_id: int,
    official_id: int,
    member_id: int,
    now: datetime,
    render_promoted: EventRenderer | None = None,
) -> RegistrationResult:
    """Take a seat, or a place on the waitlist when the event is full; one transaction.

    Anyone promoted on the way is told through the outbox, in the same transaction.
    """
    event, reg = await _lock_event_for(session, event_id, official_id)
    try:
        if event is None:
            return RegistrationResult(Outcome.NOT_FOUND)
        if event.status == EventStatus.CANCELLED:
            return RegistrationResult(Outcome.EVENT_CANCELLED)
        if reg is not None and reg.status in SEATED:
            return RegistrationResult(Outcome.ALREADY_REGISTERED)
        if reg is not None and reg.status == RegistrationStatus.WAITLISTED:
            return RegistrationResult(
                Outcome.ALREADY_WAITLISTED, position=await waitlist_position(session, reg)
            )
        if now >= event.starts_at:
            return RegistrationResult(Outcome.STARTED)
        if now > deadline_of(event):
            return RegistrationResult(Outcome.DEADLINE_PASSED)
        limit = event.per_council_limit
        # Seats taken, people waiting and this council's registrations, in one query.
        seated, waiting, council = (
            await session.execute(
                select(
                    func.count().filter(col(Registration.status).in_(SEATED)),
                    func.count().filter(col(Registration.status) == RegistrationStatus.WAITLISTED),
                    func.count().filter(
                        col(Registration.member_id) == member_id,
                        col(Registration.status).in_(ACTIVE),
                    ),
                ).where(col(Registration.event_id) == event_id)
            )
        ).one()
        if limit is not None and council >= limit:
            return RegistrationResult(Outcome.COUNCIL_LIMIT, limit=limit)
        promoted: list[Promotion] = []
        if waiting and (event.capacity is None or seated < event.capacity):
            # Seats were added (a re-import raised or lifted the capacity): those waiting first.
            promoted = await _promote(session, event, now, render_promoted)
            seated += len(promoted)
        full = event.capacity is not None and seated >= event.capacity
        status = RegistrationStatus.WAITLISTED if full else RegistrationStatus.REGISTERED
        if reg is None:
            reg = Registration(
                event_id=event_id,
                official_id=official_id,
                member_id=member_id,
                status=status,
                queued_at=now,
                created_at=now,
                updated_at=now,
            )
            session.add(reg)
        else:  # they had cancelled: back at the end of the line
            reg.status, reg.member_id, reg.queued_at, reg.updated_at = status, member_id, now, now
            reg.promoted_at = None
        await session.flush()
        position = await waitlist_position(session, reg) if full else None
        await session.commit()
        return RegistrationResult(Outcome(status.value), position=position, promoted=promoted)
    finally:
        if session.in_transaction():
            await session.rollback()


async def _promote(
    session: AsyncSession, event: Event, now: datetime, render: EventRenderer | None
) -> list[Promotion]:
    """Give free seats to the first in line, in order; each is told through the outbox."""
    promoted: list[Promotion] = []
    if event.status != EventStatus.PUBLISHED or now >= event.starts_at:
        return promoted
    free = (
        None
        if event.capacity is None
        else event.capacity - await seated_count(session, event.id or 0)
    )
    while free is None or free > 0:
        first = (
            await session.execute(
                select(Registration)
                .where(
                    col(Registration.event_id) == event.id,
                    col(Registration.status) == RegistrationStatus.WAITLISTED,
                )
                .order_by(col(Registration.queued_at), col(Registration.id))
                .limit(1)
            )
        ).scalar_one_or_none()
        if first is None:
            break
        first.status = RegistrationStatus.REGISTERED
        first.promoted_at = first.updated_at = now
        await session.flush()
        contact = await contact_of(session, first.official_id)
        promoted.append(Promotion(first.id or 0, event.id or 0, contact))
        if contact is not None and render is not None:
            message = render(contact.language, event)
            await enqueue(
                session=session,
                recipient=contact.telegram_id,
                text=message.text,
                buttons=message.buttons,
                kind="promotion",
                # A registration can be promoted again after a cancel and a new place in line.
                dedupe_key=f"event:{event.id}:reg:{first.id}:promoted:{now.isoformat()}",
                not_before=now,
                expires_at=event.starts_at,
            )
        if free is not None:
            free -= 1
    return promoted


async def contact_of(session: AsyncSession, official_id: int) -> Contact | None:
    """How to reach an official on Telegram, if they are linked and active."""
    row = (
        await session.execute(
            select(
                col(Official.telegram_id),
                col(TelegramUser.language),
                col(TelegramUser.language_code),
            )
            .outerjoin(TelegramUser, col(TelegramUser.id) == col(Official.telegram_id))
            .where(col(Official.id) == official_id, col(Official.active))
        )
    ).one_or_none()
    if row is None or row[0] is None:
        return None
    return Contact(int(row[0]), pick_language(row[1], row[2]))


def registrants(event_id: int) -> Query:
    """Telegram id and language of everyone registered or waitlisted, reachable, once each."""
    return (
        reachable_officials()
        .join(Registration, col(Registration.official_id) == col(Official.id))
        .where(
            col(Registration.event_id) == event_id,
            col(Registration.status).in_(
                (RegistrationStatus.REGISTERED, RegistrationStatus.WAITLISTED)
            ),
        )
        .distinct()
    )


async def notify_registrants(
    *,
    session: AsyncSession,
    event: Event,
    render: EventRenderer,
    kind: str,
    key: str,
    now: datetime,
    urgent: bool = False,
    document: Callable[[str], Document] | None = None,
) -> int:
    """One message per language to everyone registered or waitlisted (INSERT ... SELECT).

    `key` + the recipient's id is each row's dedupe key. Returns the rows written.
    """
    written = 0
    query = registrants(event.id or 0)
    for lang in LANGUAGES:
        message = render(lang, event)
        written += await enqueue_select(
            session=session,
            recipients=for_language(query, lang),
            text=message.text,
            buttons=message.buttons,
            document=document(lang) if document is not None else None,
            kind=kind,
            key_prefix=key,
            not_before=now,
            urgent=urgent,
        )
    return written


async def cancel_registration(
    *,
    session: AsyncSession,
    event_id: int,
    official_id: int,
    now: datetime,
    render_promoted: EventRenderer | None = None,
) -> RegistrationResult:
    """Give up a seat or a waitlist place; the first in line takes a freed seat and is told
    through the outbox, in the same transaction."""
    event, reg = await _lock_event_for(session, event_id, official_id)
    try:
        if event is None:
            return RegistrationResult(Outcome.NOT_FOUND)
        if reg is None or reg.status == RegistrationStatus.CANCELLED:
            return RegistrationResult(Outcome.NOT_REGISTERED)
        if now >= event.starts_at or reg.status not in (
            RegistrationStatus.REGISTERED,
            RegistrationStatus.WAITLISTED,
        ):
            return RegistrationResult(Outcome.STARTED)
        was_seated = reg.status == RegistrationStatus.REGISTERED
        reg.status, reg.updated_at = RegistrationStatus.CANCELLED, now
        await session.flush()
        promoted = await _promote(session, event, now, render_promoted) if was_seated else []
        await session.commit()
        return RegistrationResult(Outcome.CANCELLED, promoted=promoted)
    finally:
        if session.in_transaction():
            await session.rollback()


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SectionInfo:
    """A section to filter by."""

    id: int
    code: str
    name_uk: str
    name_en: str


@dataclass(frozen=True)
class CatalogItem:
    """One line of the catalog."""

    id: int
    kind: str
    title_uk: str
    title_en: str
    starts_at: datetime
    status: str

    def title(self, lang: str) -> str:
        """The title in the reader's language."""
        return localized(lang, self.title_uk, self.title_en)


@dataclass(frozen=True)
class CatalogPage:
    """A page of upcoming events or trainings."""

    items: list[CatalogItem]
    page: int
    pages: int
    total: int


async def sections(*, session: AsyncSession) -> list[SectionInfo]:
    """Every section, by code."""
    rows = await session.execute(
        select(
            col(Section.id), col(Section.code), col(Section.name_uk), col(Section.name_en)
        ).order_by(col(Section.code))
    )
    return [SectionInfo(*untyped(r)) for r in rows]


async def catalog(
    *,
    session: AsyncSession,
    category: Category,
    now: datetime,
    kind: str | None = None,
    section_id: int | None = None,
    page: int = 0,
    page_size: int = PAGE_SIZE,
) -> CatalogPage:
    """What has not ended yet, soonest first, optionally of one kind or section."""
    conditions = [
        col(Event.category) == category,
        col(Event.ends_at) > now,
        col(Event.status) == EventStatus.PUBLISHED,
    ]
    if kind:
        conditions.append(col(Event.kind) == kind)
    if section_id:
        conditions.append(col(Event.section_id) == section_id)
    total = int(
        (
            await session.execute(select(func.count()).select_from(Event).where(*conditions))
        ).scalar_one()
    )
    pages = max(1, -(-total // page_size))
    page = min(max(page, 0), pages - 1)
    rows = await session.execute(
        select(
            col(Event.id),
            col(Event.kind),
            col(Event.title_uk),
            col(Event.title_en),
            col(Event.starts_at),
            col(Event.status),
        )
        .where(*conditions)
        .order_by(col(Event.starts_at), col(Event.id))
        .offset(page * page_size)
        .limit(page_size)
    )
    return CatalogPage([CatalogItem(*untyped(r)) for r in rows], page, pages, total)


@dataclass(frozen=True)
class Mine:
    """The caller's own registration."""

    status: str
    position: int | None


@dataclass(frozen=True)
class EventCard:
    """Everything an event's card shows."""

    event: Event
    section: SectionInfo | None
    seated: int
    waitlisted: int
    mine: Mine | None
    colleagues: list[str]  # others from the caller's council, registered or waiting
    council_active: int  # registrations of the caller's council that count toward its limit

    @property
    def seats_left(self) -> int | None:
        """Free seats, or None when unlimited."""
        cap = self.event.capacity
        return None if cap is None else max(cap - self.seated, 0)


async def event_card(
    *,
    session: AsyncSession,
    event_id: int,
    official_id: int | None = None,
    member_id: int | None = None,
) -> EventCard | None:
    """An event with its seats, the caller's registration and colleagues; None if unknown.

    Three queries (four for someone on the waitlist): the card is the catalog's hot path.
    """
    found = (
        await session.execute(
            select(Event, Section)
            .outerjoin(Section, col(Section.id) == col(Event.section_id))
            .where(col(Event.id) == event_id)
        )
    ).one_or_none()
    if found is None:
        return None
    event, s = found
    section = SectionInfo(s.id or 0, s.code, s.name_uk, s.name_en) if s is not None else None
    counts = dict(
        (
            await session.execute(
                select(col(Registration.status), func.count())
                .where(col(Registration.event_id) == event_id)
                .group_by(col(Registration.status))
            )
        ).all()
    )
    seated = sum(int(counts.get(s, 0)) for s in SEATED)
    waitlisted = int(counts.get(RegistrationStatus.WAITLISTED, 0))
    mine = None
    colleagues: list[str] = []
    council_active = 0
    if official_id is not None or member_id is not None:
        # The caller's own registration and their council's, in one query.
        whose = []
        if official_id is not None:
            whose.append(col(Registration.official_id) == official_id)
        if member_id is not None:
            whose.append(col(Registration.member_id) == member_id)
        rows = (
            await session.execute(
                select(Registration, col(Official.full_name))
                .join(Official, col(Official.id) == col(Registration.official_id))
                .where(
                    col(Registration.event_id) == event_id,
                    col(Registration.status) != RegistrationStatus.CANCELLED,
                    or_(*whose),
                )
                .order_by(col(Official.full_name))
            )
        ).all()
        for reg, name in rows:
            if reg.official_id == official_id:
                position = (
                    await waitlist_position(session, reg)
                    if reg.status == RegistrationStatus.WAITLISTED
                    else None
                )
                mine = Mine(reg.status, position)
            elif member_id is not None and len(colleagues) < MAX_COLLEAGUES:
                colleagues.append(name)
        council_active = sum(1 for reg, _ in rows if reg.member_id == member_id)
    return EventCard(event, section, seated, waitlisted, mine, colleagues, council_active)


@dataclass(frozen=True)
class MyItem:
    """One of the caller's upcoming registrations."""

    event_id: int
    category: str
    title_uk: str
    title_en: str
    starts_at: datetime
    status: str
    position: int | None
    event_status: str

    def title(self, lang: str) -> str:
        """The title in the reader's language."""
        return localized(lang, self.title_uk, self.title_en)


@dataclass(frozen=True)
class CompletedTraining:
    """A training the caller attended."""

    title_uk: str
    title_en: str
    starts_at: datetime
    hours: int

    def title(self, lang: str) -> str:
        """The title in the reader's language."""
        return localized(lang, self.title_uk, self.title_en)


@dataclass(frozen=True)
class CertificateItem:
    """A certificate the caller can download again."""

    id: int
    number: str
    title_uk: str
    title_en: str
    hours: int

    def title(self, lang: str) -> str:
        """The title in the reader's language."""
        return localized(lang, self.title_uk, self.title_en)


@dataclass(frozen=True)
class MyOverview:
    """What /my shows."""

    upcoming: list[MyItem]
    completed: list[CompletedTraining]
    hours: int
    certificates: list[CertificateItem]


async def my_overview(
    *, session: AsyncSession, official_id: int, now: datetime, tz: ZoneInfo
) -> MyOverview:
    """Upcoming registrations and waitlist places, this year's trainings and certificates."""
    regs = (
        await session.execute(
            select(Registration, Event)
            .join(Event, col(Event.id) == col(Registration.event_id))
            .where(
                col(Registration.official_id) == official_id,
                col(Registration.status).in_(
                    (RegistrationStatus.REGISTERED, RegistrationStatus.WAITLISTED)
                ),
                col(Event.ends_at) > now,
            )
            .order_by(col(Event.starts_at))
        )
    ).all()
    upcoming = []
    for reg, event in regs:
        position = (
            await waitlist_position(session, reg)
            if reg.status == RegistrationStatus.WAITLISTED
            else None
        )
        upcoming.append(
            MyItem(
                event.id or 0,
                event.category,
                event.title_uk,
                event.title_en,
                event.starts_at,
                reg.status,
                position,
                event.status,
            )
        )
    year = now.astimezone(tz).year  # "this year" as people in Kyiv count it
    start = datetime(year, 1, 1, tzinfo=tz)
    end = datetime(year + 1, 1, 1, tzinfo=tz)
    done = (
        await session.execute(
            select(
                col(Event.title_uk), col(Event.title_en), col(Event.starts_at), col(Event.hours)
            )
            .join(Registration, col(Registration.event_id) == col(Event.id))
            .where(
                col(Registration.official_id) == official_id,
                col(Registration.status) == RegistrationStatus.ATTENDED,
                col(Event.category) == Category.TRAINING,
                col(Event.starts_at) >= start,
                col(Event.starts_at) < end,
            )
            .order_by(col(Event.starts_at))
        )
    ).all()
    completed = [CompletedTraining(t_uk, t_en, at, hours or 0) for t_uk, t_en, at, hours in done]
    certs = (
        await session.execute(
            select(
                col(Certificate.id),
                col(Certificate.number),
                col(Event.title_uk),
                col(Event.title_en),
                col(Certificate.hours),
            )
            .join(Event, col(Event.id) == col(Certificate.event_id))
            .where(col(Certificate.official_id) == official_id)
            .order_by(col(Certificate.issued_at).desc())
        )
    ).all()
    return MyOverview(
        upcoming,
        completed,
        sum(c.hours for c in completed),
        [CertificateItem(*untyped(c)) for c in certs],
    )


async def event_by_id(*, session: AsyncSession, event_id: int) -> Event | None:
    """An event or training by its id, whatever its status; None if there is none."""
    return await session.get(Event, event_id)

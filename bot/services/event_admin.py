"""Staff work on events: the list, who comes (by council), attendance, cancellation, export."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.i18n import localized
from bot.services import certificates
from bot.services.callers import untyped
from bot.services.certificates import CertificateView
from bot.services.events import (
    Contact,
    EventRenderer,
    contact_of,
    lock_event,
    notify_registrants,
)
from bot.services.outbox import Document, Rendered, enqueue
from models import (
    SEATED,
    Category,
    Certificate,
    Event,
    EventStatus,
    Member,
    Official,
    Registration,
    RegistrationStatus,
)

STAFF_PAGE = 8
RECENT = timedelta(days=14)  # ended events stay on the staff list this long, for attendance


@dataclass(frozen=True)
class StaffItem:
    """An event on the staff list with its numbers."""

    id: int
    category: str
    title_uk: str
    title_en: str
    starts_at: datetime
    status: str
    seated: int
    waitlisted: int
    capacity: int | None

    def title(self, lang: str) -> str:
        """The title in the reader's language."""
        return localized(lang, self.title_uk, self.title_en)


@dataclass(frozen=True)
class StaffPage:
    """A page of the staff list."""

    items: list[StaffItem]
    page: int
    pages: int


async def staff_list(*, session: AsyncSession, now: datetime, page: int = 0) -> StaffPage:
    """Events and trainings that are coming or ended in the last two weeks, soonest first."""
    condition = col(Event.ends_at) > now - RECENT
    total = int(
        (
            await session.execute(select(func.count()).select_from(Event).where(condition))
        ).scalar_one()
    )
    pages = max(1, -(-total // STAFF_PAGE))
    page = min(max(page, 0), pages - 1)
    found = list(
        (
            await session.execute(
                select(Event)
                .where(condition)
                .order_by(col(Event.starts_at), col(Event.id))
                .offset(page * STAFF_PAGE)
                .limit(STAFF_PAGE)
            )
        ).scalars()
    )
    ids = [e.id for e in found]
    counts: dict[tuple[int, str], int] = {
        (eid, status): int(n)
        for eid, status, n in await session.execute(
            select(col(Registration.event_id), col(Registration.status), func.count())
            .where(col(Registration.event_id).in_(ids))
            .group_by(col(Registration.event_id), col(Registration.status))
        )
    }
    items = [
        StaffItem(
            e.id or 0,
            e.category,
            e.title_uk,
            e.title_en,
            e.starts_at,
            e.status,
            sum(counts.get((e.id or 0, s), 0) for s in SEATED),
            counts.get((e.id or 0, RegistrationStatus.WAITLISTED), 0),
            e.capacity,
        )
        for e in found
    ]
    return StaffPage(items, page, pages)


@dataclass(frozen=True)
class RosterLine:
    """One registration as staff see it."""

    registration_id: int
    full_name: str
    position: str
    phone: str
    email: str
    member_code: str
    member_name_uk: str
    member_name_en: str
    region: str
    status: str
    waitlist_position: int | None
    registered_at: datetime

    def member_name(self, lang: str) -> str:
        """The council's name in the reader's language."""
        return localized(lang, self.member_name_uk, self.member_name_en)


@dataclass(frozen=True)
class Roster:
    """Who is registered for an event, as far as the viewer may see."""

    event: Event
    lines: list[RosterLine]  # by council, then status, then name


async def roster(
    *, session: AsyncSession, event_id: int, region: str | None = None
) -> Roster | None:
    """Registrations and the waitlist of an event (of one region's councils, for coordinators)."""
    event = await session.get(Event, event_id)
    if event is None:
        return None
    query = (
        select(
            col(Registration.id),
            col(Official.full_name),
            col(Official.position),
            col(Official.phone),
            col(Official.email),
            col(Member.code),
            col(Member.name_uk),
            col(Member.name_en),
            col(Member.region),
            col(Registration.status),
            col(Registration.queued_at),
        )
        .join(Official, col(Official.id) == col(Registration.official_id))
        .join(Member, col(Member.id) == col(Registration.member_id))
        .where(
            col(Registration.event_id) == event_id,
            col(Registration.status) != RegistrationStatus.CANCELLED,
        )
        .order_by(col(Registration.queued_at), col(Registration.id))
    )
    rows = [untyped(r) for r in (await session.execute(query)).all()]
    # Positions count the whole waitlist, whatever part of it the viewer sees.
    positions: dict[int, int] = {}
    for rid, *_rest, status, _queued in rows:
        if status == RegistrationStatus.WAITLISTED:
            positions[rid] = len(positions) + 1
    lines = [
        RosterLine(
            rid, name, pos, phone, email, code, m_uk, m_en, reg, status, positions.get(rid), queued
        )
        for rid, name, pos, phone, email, code, m_uk, m_en, reg, status, queued in rows
        if region is None or reg == region
    ]
    order: dict[str, int] = {s: n for n, s in enumerate((*SEATED, RegistrationStatus.WAITLISTED))}
    lines.sort(key=lambda x: (x.member_name_uk, order.get(x.status, 9), x.full_name))
    return Roster(event, lines)


class MarkOutcome(StrEnum):
    """What marking attendance did."""

    MARKED = "marked"
    NOT_FOUND = "not_found"
    TOO_EARLY = "too_early"
    NOT_SEATED = "not_seated"
    FORBIDDEN = "forbidden"
    CANCELLED = "cancelled"


# Renders a certificate for its holder in a language: the caption and the PDF.
CertificateRenderer = Callable[[CertificateView, str], tuple[Rendered, Document]]


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate just issued, to send to its holder."""

    certificate_id: int
    contact: Contact | None


@dataclass(frozen=True)
class MarkResult:
    """The result of marking attendance."""

    outcome: MarkOutcome
    event_id: int | None = None
    changed: int = 0
    issued: tuple[IssuedCertificate, ...] = ()


async def _set_attendance(
    session: AsyncSession,
    event: Event,
    regs: list[Registration],
    present: bool | None,
    by: int,
    now: datetime,
) -> tuple[int, list[Certificate]]:
    """present: True/False sets, None toggles; trainings get (or lose) certificates."""
    changed, issued = 0, []
    for reg in regs:
        attended = reg.status == RegistrationStatus.ATTENDED
        target = (not attended) if present is None else present
        status = RegistrationStatus.ATTENDED if target else RegistrationStatus.ABSENT
        if reg.status == status:
            continue
        reg.status, reg.marked_by, reg.updated_at = status, by, now
        changed += 1
        if event.category != Category.TRAINING:
            continue
        if target:
            cert = await certificates.issue(
                session=session, registration=reg, event=event, now=now
            )
            if cert is not None:
                issued.append(cert)
        else:
            await certificates.withdraw(session=session, registration_id=reg.id or 0)
    return changed, issued


async def mark_attendance(
    *,
    session: AsyncSession,
    now: datetime,
    by: int,
    registration_id: int | None = None,
    event_id: int | None = None,
    region: str | None = None,
    render_certificate: CertificateRenderer | None = None,
) -> MarkResult:
    """Toggle one participant (registration_id), or mark everyone seated present (event_id).

    Coordinators pass their `region`: they mark only their region's councils. Each
    certificate issued goes to its holder through the outbox, in the same transaction.
    """
    if registration_id is not None:
        reg = await session.get(Registration, registration_id)
        if reg is None:
            return MarkResult(MarkOutcome.NOT_FOUND)
        event_id = reg.event_id
    if event_id is None:
        return MarkResult(MarkOutcome.NOT_FOUND)
    event = await lock_event(session, event_id)
    try:
        if event is None:
            return MarkResult(MarkOutcome.NOT_FOUND)
        if event.status == EventStatus.CANCELLED:
            return MarkResult(MarkOutcome.CANCELLED, event_id)  # no certificates for it
        if now < event.starts_at:
            return MarkResult(MarkOutcome.TOO_EARLY, event_id)
        query = (
            select(Registration)
            .join(Member, col(Member.id) == col(Registration.member_id))
            .where(col(Registration.event_id) == event_id, col(Registration.status).in_(SEATED))
            .execution_options(populate_existing=True)
        )
        if region is not None:
            query = query.where(col(Member.region) == region)
        if registration_id is not None:
            query = query.where(col(Registration.id) == registration_id)
        regs = list((await session.execute(query)).scalars())
        if registration_id is not None and not regs:
            reg = await session.get(Registration, registration_id)
            seated = reg is not None and reg.status in SEATED
            return MarkResult(
                MarkOutcome.FORBIDDEN if seated else MarkOutcome.NOT_SEATED, event_id
            )
        changed, issued = await _set_attendance(
            session, event, regs, None if registration_id is not None else True, by, now
        )
        contacts = [
            IssuedCertificate(c.id or 0, await contact_of(session, c.official_id)) for c in issued
        ]
        if render_certificate is not None:
            await session.flush()
            for item in contacts:
                view = await certificates.by_id(
                    session=session, certificate_id=item.certificate_id
                )
                if item.contact is None or view is None:
                    continue
                caption, document = render_certificate(view, item.contact.language)
                await enqueue(
                    session=session,
                    recipient=item.contact.telegram_id,
                    text=caption.text,
                    buttons=caption.buttons,
                    document=document,
                    kind="certificate",
                    dedupe_key=f"certificate:{item.certificate_id}:to:{item.contact.telegram_id}",
                    not_before=now,
                )
        await session.commit()
        return MarkResult(MarkOutcome.MARKED, event_id, changed, tuple(contacts))
    finally:
        if session.in_transaction():
            await session.rollback()


async def cancel_event(
    *,
    session: AsyncSession,
    event_id: int,
    now: datetime,
    render_cancelled: EventRenderer | None = None,
) -> tuple[Event, int] | None:
    """Cancel an event; everyone registered or waiting is told through the outbox (urgent),
    in the same transaction. Returns the event and how many people will be told."""
    event = await lock_event(session, event_id)
    try:
        if event is None:
            return None
        if event.status == EventStatus.CANCELLED:
            return event, 0
        event.status = EventStatus.CANCELLED
        event.cancelled_at = now
        event.sequence += 1  # calendars show the entry as cancelled
        await session.flush()
        told = 0
        if render_cancelled is not None:
            told = await notify_registrants(
                session=session,
                event=event,
                render=render_cancelled,
                kind="event_cancelled",
                key=f"event:{event_id}:cancelled:to:",
                now=now,
                urgent=True,
            )
        await session.commit()
        return event, told
    finally:
        if session.in_transaction():
            await session.rollback()


def roster_xlsx(
    roster: Roster, *, headers: list[str], statuses: dict[str, str], lang: str, tz_name: str
) -> bytes:
    """The roster as an XLSX workbook: one row per registration, with a header row."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(tz_name)
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # noqa: S101 - a new workbook has one sheet
    sheet.title = roster.event.code[:31]
    sheet.append(headers)
    for line in roster.lines:
        sheet.append(
            [
                line.member_code,
                line.member_name(lang),
                line.region,
                line.full_name,
                line.position,
                line.phone,
                line.email,
                statuses.get(line.status, line.status),
                line.waitlist_position,
                line.registered_at.astimezone(tz).replace(tzinfo=None),
            ]
        )
    for n, width in enumerate((12, 40, 18, 32, 32, 18, 28, 18, 10, 18), start=1):
        sheet.column_dimensions[get_column_letter(n)].width = width
    sheet.freeze_panes = "A2"
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()

"""Announcements: staff write once, the outbox delivers to the audience, staff read the report."""

from __future__ import annotations

import html
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audiences
from bot.services.outbox import MAX_TEXT, DeliveryReport, delivery_report, enqueue_select
from models import Announcement

KIND = "announcement"


class AnnouncementNotFound(LookupError):
    """No announcement with that id."""


def as_html(text: str) -> str:
    """Staff text as Telegram HTML: sent exactly as written, markup characters escaped."""
    return html.escape(text.strip(), quote=False)


async def create(
    *,
    session: AsyncSession,
    text: str,
    audience: str,
    now: datetime,
    today: date,
    send_at: datetime | None = None,
    urgent: bool = False,
) -> Announcement:
    """Store an announcement; one due now is expanded into the outbox in the same transaction.

    Raises AudienceError for a bad audience and ValueError for an empty or too long text.
    Commits.
    """
    body = as_html(text)
    if not body or len(body) > MAX_TEXT:
        raise ValueError(f"announcement text must be 1..{MAX_TEXT} characters")
    parsed = await audiences.validate(session=session, value=audience)
    item = Announcement(
        text=body, audience=str(parsed), send_at=send_at or now, urgent=urgent, created_at=now
    )
    session.add(item)
    await session.flush()
    if item.send_at <= now:
        await expand(session=session, announcement=item, now=now, today=today)
    await session.commit()
    return item


async def expand(
    *, session: AsyncSession, announcement: Announcement, now: datetime, today: date
) -> int:
    """Write one outbox row per recipient (INSERT ... SELECT); no commit here."""
    if announcement.id is None:
        raise ValueError("flush the announcement before expanding it")
    query = await audiences.recipients(
        session=session, audience=audiences.parse(announcement.audience), today=today
    )
    written = await enqueue_select(
        session=session,
        recipients=query,
        text=announcement.text,
        kind=KIND,
        key_prefix=f"ann:{announcement.id}:to:",
        not_before=now,
        urgent=announcement.urgent,
        announcement_id=announcement.id,
    )
    announcement.expanded_at = now
    announcement.recipients = written
    session.add(announcement)
    return written


async def status(
    *, session: AsyncSession, announcement_id: int
) -> tuple[Announcement, DeliveryReport]:
    """The announcement and where its messages stand."""
    item = await session.get(Announcement, announcement_id)
    if item is None:
        raise AnnouncementNotFound(announcement_id)
    return item, await delivery_report(session=session, announcement_id=announcement_id)

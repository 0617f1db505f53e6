"""Announcements: staff write once, the outbox delivers to the audience, staff read the report."""

from __future__ import annotations

import html
from datetime import date, datetime
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audiences
from bot.services.outbox import (
    MAX_TEXT,
    DeliveryReport,
    Document,
    delivery_report,
    enqueue_select,
)
from bot.text import clean_line
from models import Announcement

KIND = "announcement"
MAX_FILE_ID = 200  # the columns' width; Telegram's file_ids are well under 100 characters
MAX_DOCUMENT_NAME = 200


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
    link_url: str | None = None,
    document_file_id: str | None = None,
    document_name: str | None = None,
) -> Announcement:
    """Store an announcement; one due now is expanded into the outbox in the same transaction.

    `document_file_id` is a file Telegram holds (one staff sent to the bot); every recipient
    gets it with the text. Raises AudienceError for a bad audience and ValueError for an
    empty or too long text or a bad file_id. Commits.
    """
    body = as_html(text)
    if not body or len(body) > MAX_TEXT:
        raise ValueError(f"announcement text must be 1..{MAX_TEXT} characters")
    if link_url is not None:
        link_url = clean_url(link_url)
    if document_file_id is not None:
        document_file_id = clean_file_id(document_file_id)
        document_name = document_label(document_name)
    else:
        document_name = None
    parsed = await audiences.validate(session=session, value=audience)
    item = Announcement(
        text=body,
        audience=str(parsed),
        send_at=send_at or now,
        urgent=urgent,
        created_at=now,
        link_url=link_url,
        document_file_id=document_file_id,
        document_name=document_name,
    )
    session.add(item)
    await session.flush()
    if item.send_at <= now:
        await expand(session=session, announcement=item, now=now, today=today)
    await session.commit()
    return item


MAX_URL = 500


def clean_url(value: str) -> str:
    """A link for the button under an announcement: http(s) with a host; ValueError otherwise."""
    url = value.strip()
    parts = urlsplit(url)
    if (
        len(url) > MAX_URL
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(c.isspace() for c in url)
    ):
        raise ValueError(f"not a web link: {value[:100]!r}")
    return url


def clean_file_id(value: str) -> str:
    """A Telegram file_id as the bot received it; ValueError when it cannot be one."""
    file_id = value.strip()
    if not file_id or len(file_id) > MAX_FILE_ID or any(c.isspace() for c in file_id):
        raise ValueError(f"not a Telegram file_id: {value[:40]!r}")
    return file_id


def document_label(name: str | None) -> str:
    """The name a document is shown by in reports (what its sender called it)."""
    return clean_line(name or "", MAX_DOCUMENT_NAME) or "document"


def document_of(item: Announcement) -> Document | None:
    """The document every recipient gets with the announcement, if it has one."""
    if item.document_file_id is None:
        return None
    return Document(filename=document_label(item.document_name), file_id=item.document_file_id)


def link_buttons(url: str | None) -> list[list[dict[str, str]]] | None:
    """The link button as the outbox stores it, labelled with the site's name (any language)."""
    if not url:
        return None
    host = urlsplit(url).hostname or url
    return [[{"text": f"🔗 {host.removeprefix('www.')}", "url": url}]]


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
        buttons=link_buttons(announcement.link_url),
        document=document_of(announcement),
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

"""Announcements composed in Telegram, step by step: the draft is a database row.

Text, then an optional link button and/or document, then the audience, then now or a time,
then a confirmation. Each step checks that the draft is at that step, so an old or forged
button changes nothing. Coordinators may address only their own region. Sending goes through
`announcements.create`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.services import announcements, audiences
from bot.services.callers import untyped
from bot.services.outbox import MAX_TEXT, fits_caption
from models import Announcement, AnnouncementDraft, Event, EventStatus, Member, Section

# Recipients open the document on their phones, often on mobile data; a larger file belongs on
# a web page, behind the link button.
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024


class Step(StrEnum):
    """Where a draft stands: what the author is asked for next."""

    TEXT = "text"
    LINK = "link"  # attachments: a link button and/or a document, each optional
    AUDIENCE = "audience"
    WHEN = "when"
    TIME = "time"
    CONFIRM = "confirm"


class DraftError(ValueError):
    """A step that does not fit the draft (`reason`: no_draft, wrong_step, too_long, empty,
    bad_link, bad_document, too_big, bad_audience, forbidden_audience, past)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Author:
    """Who composes: staff address anyone, a coordinator only `region`."""

    telegram_id: int
    region: str | None = None  # set for coordinators


async def start(*, session: AsyncSession, author: Author, now: datetime) -> AnnouncementDraft:
    """Begin a new draft, forgetting an unfinished one. Commits."""
    await session.execute(
        delete(AnnouncementDraft).where(col(AnnouncementDraft.author) == author.telegram_id)
    )
    draft = AnnouncementDraft(author=author.telegram_id, step=Step.TEXT, updated_at=now)
    session.add(draft)
    await session.commit()
    return draft


async def current(*, session: AsyncSession, author: Author) -> AnnouncementDraft | None:
    """The author's unfinished draft, if any."""
    return await session.get(AnnouncementDraft, author.telegram_id)


async def _at(session: AsyncSession, author: Author, *steps: Step) -> AnnouncementDraft:
    draft = await current(session=session, author=author)
    if draft is None:
        raise DraftError("no_draft")
    if draft.step not in steps:
        raise DraftError("wrong_step")
    return draft


async def _save(
    session: AsyncSession, draft: AnnouncementDraft, step: Step, now: datetime
) -> None:
    draft.step = step
    draft.updated_at = now
    session.add(draft)
    await session.commit()


async def set_text(
    *, session: AsyncSession, author: Author, text: str, now: datetime
) -> AnnouncementDraft:
    """The announcement's text, exactly as recipients will read it."""
    draft = await _at(session, author, Step.TEXT)
    body = announcements.as_html(text)
    if not body:
        raise DraftError("empty")
    if len(body) > MAX_TEXT:
        raise DraftError("too_long")
    draft.text = text.strip()
    await _save(session, draft, Step.LINK, now)
    return draft


async def _attached(session: AsyncSession, draft: AnnouncementDraft, now: datetime) -> None:
    # With both a link and a document there is nothing more to attach: on to the audience.
    done = draft.link_url is not None and draft.document_file_id is not None
    await _save(session, draft, Step.AUDIENCE if done else Step.LINK, now)


async def set_link(
    *, session: AsyncSession, author: Author, url: str, now: datetime
) -> AnnouncementDraft:
    """A web link for a button under the text (a second one replaces the first)."""
    draft = await _at(session, author, Step.LINK)
    try:
        draft.link_url = announcements.clean_url(url)
    except ValueError:
        raise DraftError("bad_link") from None
    await _attached(session, draft, now)
    return draft


async def set_document(
    *,
    session: AsyncSession,
    author: Author,
    file_id: str,
    name: str | None,
    size: int | None,
    now: datetime,
) -> AnnouncementDraft:
    """A document every recipient gets with the text, by the file_id Telegram gave it (a
    second one replaces the first)."""
    draft = await _at(session, author, Step.LINK)
    if size is not None and size > MAX_DOCUMENT_BYTES:
        raise DraftError("too_big")
    try:
        draft.document_file_id = announcements.clean_file_id(file_id)
    except ValueError:
        raise DraftError("bad_document") from None
    draft.document_name = announcements.document_label(name)
    await _attached(session, draft, now)
    return draft


async def attachments_done(
    *, session: AsyncSession, author: Author, now: datetime
) -> AnnouncementDraft:
    """No (more) link or document: on to the audience."""
    draft = await _at(session, author, Step.LINK)
    await _save(session, draft, Step.AUDIENCE, now)
    return draft


def caption_fits(draft: AnnouncementDraft) -> bool:
    """Whether the text goes as the document's caption; else it is a message of its own,
    just before the document."""
    return fits_caption(announcements.as_html(draft.text))


async def set_audience(
    *, session: AsyncSession, author: Author, audience: str, now: datetime
) -> AnnouncementDraft:
    """Who receives it (`all`, `region:NAME`, ...); a coordinator only `region:THEIRS`."""
    draft = await _at(session, author, Step.AUDIENCE)
    try:
        parsed = await audiences.validate(session=session, value=audience)
    except audiences.AudienceError:
        raise DraftError("bad_audience") from None
    if author.region is not None and str(parsed) != f"region:{author.region}":
        raise DraftError("forbidden_audience")
    draft.audience = str(parsed)
    await _save(session, draft, Step.WHEN, now)
    return draft


async def send_now(*, session: AsyncSession, author: Author, now: datetime) -> AnnouncementDraft:
    """Send as soon as it is confirmed."""
    draft = await _at(session, author, Step.WHEN, Step.TIME)
    draft.send_at = None
    await _save(session, draft, Step.CONFIRM, now)
    return draft


async def ask_time(*, session: AsyncSession, author: Author, now: datetime) -> AnnouncementDraft:
    """The author wants to give a time."""
    draft = await _at(session, author, Step.WHEN)
    await _save(session, draft, Step.TIME, now)
    return draft


async def set_time(
    *, session: AsyncSession, author: Author, at: datetime, now: datetime
) -> AnnouncementDraft:
    """Send at `at` (a moment in the future)."""
    draft = await _at(session, author, Step.TIME)
    if at <= now:
        raise DraftError("past")
    draft.send_at = at
    await _save(session, draft, Step.CONFIRM, now)
    return draft


async def reach(*, session: AsyncSession, draft: AnnouncementDraft, today: date) -> int:
    """How many people the draft's audience reaches now."""
    if draft.audience is None:
        return 0
    return await audiences.count(
        session=session, audience=audiences.parse(draft.audience), today=today
    )


async def confirm(
    *, session: AsyncSession, author: Author, now: datetime, today: date
) -> Announcement:
    """Create the announcement from the draft and forget the draft, in one transaction."""
    draft = await _at(session, author, Step.CONFIRM)
    if draft.audience is None:
        raise DraftError("bad_audience")
    if draft.send_at is not None and draft.send_at <= now:
        draft.send_at = None  # the chosen time passed while the author looked: send now
    await session.delete(draft)
    try:
        return await announcements.create(
            session=session,
            text=draft.text,
            audience=draft.audience,
            now=now,
            today=today,
            send_at=draft.send_at,
            link_url=draft.link_url,
            document_file_id=draft.document_file_id,
            document_name=draft.document_name,
        )
    except audiences.AudienceError:  # what it named is gone since
        await session.rollback()
        raise DraftError("bad_audience") from None


async def cancel(*, session: AsyncSession, author: Author) -> bool:
    """Forget the draft; whether there was one. Commits."""
    result = await session.execute(
        delete(AnnouncementDraft).where(col(AnnouncementDraft.author) == author.telegram_id)
    )
    await session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Choice:
    """One thing an audience can name, with its id for a button."""

    id: int
    code: str
    name_uk: str
    name_en: str


async def regions(*, session: AsyncSession) -> list[str]:
    """Every region that has a council, in order (buttons carry the index)."""
    return list(
        (await session.execute(select(col(Member.region)).distinct().order_by("region"))).scalars()
    )


async def section_choices(*, session: AsyncSession) -> list[Choice]:
    """Every section."""
    rows = await session.execute(
        select(
            col(Section.id), col(Section.code), col(Section.name_uk), col(Section.name_en)
        ).order_by(col(Section.code))
    )
    return [Choice(*untyped(r)) for r in rows]


async def event_choices(*, session: AsyncSession, now: datetime, limit: int = 20) -> list[Choice]:
    """Events and trainings not over yet, soonest first."""
    rows = await session.execute(
        select(col(Event.id), col(Event.code), col(Event.title_uk), col(Event.title_en))
        .where(col(Event.ends_at) > now, col(Event.status) == EventStatus.PUBLISHED)
        .order_by(col(Event.starts_at), col(Event.id))
        .limit(limit)
    )
    return [Choice(*untyped(r)) for r in rows]


async def section_code(*, session: AsyncSession, section_id: int) -> str | None:
    """The code of a section, None if there is none with that id."""
    found = await session.get(Section, section_id)
    return found.code if found is not None else None


async def event_code(*, session: AsyncSession, event_id: int) -> str | None:
    """The code of an event, None if there is none with that id."""
    found = await session.get(Event, event_id)
    return found.code if found is not None else None

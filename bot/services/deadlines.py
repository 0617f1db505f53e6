"""Deadlines staff set (ASMS indicators, proposals on a draft law) and who sees them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.i18n import localized
from bot.services import audiences
from bot.text import clean_line
from models import Deadline

MAX_TITLE = 300
MAX_DESCRIPTION = 2000
# Audiences a deadline may have: everyone, or one region's councils.
DEADLINE_AUDIENCES = ("all", "region")


@dataclass(frozen=True)
class DeadlineView:
    """A deadline as a list shows it."""

    id: int
    title_uk: str
    title_en: str
    description_uk: str
    description_en: str
    due_at: datetime
    audience: str
    code: str | None = None  # from `amu-bot import deadlines`; None for `deadline add`

    def title(self, lang: str) -> str:
        """The title in the reader's language."""
        return localized(lang, self.title_uk, self.title_en)

    def description(self, lang: str) -> str:
        """The description in the reader's language."""
        return localized(lang, self.description_uk, self.description_en)


def _view(d: Deadline) -> DeadlineView:
    return DeadlineView(
        d.id or 0,
        d.title_uk,
        d.title_en,
        d.description_uk,
        d.description_en,
        d.due_at,
        d.audience,
        d.code,
    )


async def add(
    *,
    session: AsyncSession,
    title_uk: str,
    title_en: str,
    due_at: datetime,
    now: datetime,
    audience: str = "all",
    description_uk: str = "",
    description_en: str = "",
) -> DeadlineView:
    """Create a deadline (commits); ValueError for empty titles or a past due time."""
    title_uk, title_en = clean_line(title_uk, MAX_TITLE), clean_line(title_en, MAX_TITLE)
    if not title_uk or not title_en:
        raise ValueError("a deadline needs a Ukrainian and an English title")
    if due_at <= now:
        raise ValueError("the due time has already passed")
    parsed = await audiences.validate(session=session, value=audience)
    if parsed.kind not in DEADLINE_AUDIENCES:
        raise audiences.AudienceError("unknown_kind", audience, DEADLINE_AUDIENCES)
    item = Deadline(
        title_uk=title_uk,
        title_en=title_en,
        description_uk=description_uk.strip()[:MAX_DESCRIPTION],
        description_en=description_en.strip()[:MAX_DESCRIPTION],
        due_at=due_at,
        audience=str(parsed),
        created_at=now,
    )
    session.add(item)
    await session.commit()
    return _view(item)


async def open_deadlines(
    *, session: AsyncSession, now: datetime, region: str | None, everything: bool = False
) -> list[DeadlineView]:
    """Deadlines not yet passed, soonest first: for everyone and for `region` (all for staff)."""
    query = select(Deadline).where(col(Deadline.due_at) > now).order_by(col(Deadline.due_at))
    if not everything:
        mine = [col(Deadline.audience) == "all"]
        if region is not None:
            mine.append(col(Deadline.audience) == f"region:{region}")
        query = query.where(or_(*mine))
    return [_view(d) for d in (await session.execute(query)).scalars()]

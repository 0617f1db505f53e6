"""The member registry as the bot reads it: a council by code, its region, search by name."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.i18n import localized
from bot.services.callers import untyped
from bot.services.imports import EDRPOU
from bot.text import clean_line, ukrainian_sort_key
from models import Member, search_key

MIN_QUERY = 3
MAX_QUERY = 100


def is_edrpou(code: str) -> bool:
    """Whether `code` can be an EDRPOU code at all (8 digits), as imports check it."""
    return bool(EDRPOU.match(code))


async def member_by_code(*, session: AsyncSession, code: str) -> Member | None:
    """The council with this EDRPOU code."""
    return (
        await session.execute(select(Member).where(col(Member.code) == code.strip()))
    ).scalar_one_or_none()


async def member_region(*, session: AsyncSession, member_id: int) -> str | None:
    """The region of a council, for access checks; None if there is no such council."""
    return (
        await session.execute(select(col(Member.region)).where(col(Member.id) == member_id))
    ).scalar_one_or_none()


@dataclass(frozen=True)
class MemberMatch:
    """A council offered to someone looking for theirs."""

    id: int
    name_uk: str
    name_en: str
    region: str


@dataclass(frozen=True)
class MemberSearch:
    """The first councils that match, in alphabetical order, and how many match in all."""

    matches: list[MemberMatch]
    total: int

    @property
    def cut(self) -> bool:
        """More councils match than are listed."""
        return self.total > len(self.matches)


async def find_members(
    *, session: AsyncSession, query: str, lang: str = "uk", limit: int = 8
) -> MemberSearch:
    """Councils whose Ukrainian or English name contains `query`, case-insensitively, sorted
    by their name in `lang` in that language's alphabetical order."""
    key = search_key(clean_line(query))
    if not (MIN_QUERY <= len(key) <= MAX_QUERY):
        return MemberSearch([], 0)
    escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = await session.execute(
        select(col(Member.id), col(Member.name_uk), col(Member.name_en), col(Member.region)).where(
            col(Member.search_name).like(f"%{escaped}%", escape="\\")
        )
    )
    # Sorted here, not in SQL: databases sort Ukrainian by code point or by their own locale.
    # Even "рад" (every council) is at most a few thousand short rows.
    found = sorted(
        (MemberMatch(*untyped(row)) for row in rows),
        key=lambda m: (ukrainian_sort_key(localized(lang, m.name_uk, m.name_en)), m.id),
    )
    return MemberSearch(found[:limit], len(found))

"""The member registry as the bot reads it: a council by code, its region, search by name."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.services.callers import untyped
from bot.text import clean_line
from models import Member, search_key

MIN_QUERY = 3
MAX_QUERY = 100


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

    def name(self, lang: str) -> str:
        """The council's name in the reader's language."""
        return self.name_en if lang == "en" and self.name_en else self.name_uk


async def find_members(*, session: AsyncSession, query: str, limit: int = 8) -> list[MemberMatch]:
    """Councils whose Ukrainian or English name contains `query`, case-insensitively."""
    key = search_key(clean_line(query))
    if not (MIN_QUERY <= len(key) <= MAX_QUERY):
        return []
    escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = await session.execute(
        select(col(Member.id), col(Member.name_uk), col(Member.name_en), col(Member.region))
        .where(col(Member.search_name).like(f"%{escaped}%", escape="\\"))
        .order_by(col(Member.name_uk))
        .limit(limit)
    )
    return [MemberMatch(*untyped(row)) for row in rows]

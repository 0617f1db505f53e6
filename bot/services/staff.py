"""Staff to notify: everyone in ADMIN_IDS and every official with the admin role."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.services.callers import DEFAULT_LANGUAGE, pick_language
from models import Official, Role, TelegramUser


@dataclass(frozen=True)
class StaffContact:
    """A staff member to notify, in their language."""

    telegram_id: int
    language: str


async def staff_contacts(
    *, session: AsyncSession, admin_ids: frozenset[int]
) -> list[StaffContact]:
    """Everyone who decides access requests: ADMIN_IDS and officials with the admin role."""
    linked = set(
        (
            await session.execute(
                select(col(Official.telegram_id)).where(
                    col(Official.role) == Role.ADMIN,
                    col(Official.active),
                    col(Official.telegram_id).is_not(None),
                )
            )
        ).scalars()
    )
    ids = sorted(set(admin_ids) | {i for i in linked if i is not None})
    users = {
        u.id: u
        for u in (
            await session.execute(select(TelegramUser).where(col(TelegramUser.id).in_(ids)))
        ).scalars()
    }
    return [
        StaffContact(
            i,
            pick_language(users[i].language, users[i].language_code)
            if i in users
            else DEFAULT_LANGUAGE,
        )
        for i in ids
    ]

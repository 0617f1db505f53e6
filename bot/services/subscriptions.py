"""What a person receives: the sections they follow, the kinds of news, reminders, quiet hours.

Kept on `tg_user` (flags, quiet hours) and in `section_subscription` (one row per person and
section). The planner's rules and `audiences` read them in SQL; /settings changes them here.
A newly linked official starts with every kind of news on and no section followed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.quiet_hours import OFF
from bot.services.audiences import NEWS_FLAGS
from bot.services.callers import untyped
from bot.services.events import SectionInfo, sections
from models import Section, SectionSubscription, TelegramUser

# Reminders before an event or a training starts (read by the planner's event rules).
REMINDER_FLAGS = ("remind_day_before", "remind_hour_before")
# Everything /settings can switch on and off, in the order it shows them.
FLAGS = (*NEWS_FLAGS, *REMINDER_FLAGS)
# The quiet hours one can choose ("HH:MM-HH:MM" in Kyiv time, or off).
QUIET_PRESETS = ("21:00-08:00", "22:00-07:00", "23:00-09:00", OFF)


class UnknownUser(LookupError):
    """No such Telegram user has written to the bot."""


@dataclass(frozen=True)
class Preferences:
    """One person's choices, as /settings shows them."""

    flags: dict[str, bool]
    quiet_hours: str | None  # None: the association's default (QUIET_HOURS)
    sections: list[tuple[SectionInfo, bool]]  # every section, and whether they follow it

    @property
    def followed(self) -> int:
        """How many sections they follow."""
        return sum(1 for _, on in self.sections if on)


async def preferences(*, session: AsyncSession, telegram_id: int) -> Preferences:
    """Everything a person has chosen; UnknownUser if they never wrote to the bot."""
    row = (
        await session.execute(
            select(
                col(TelegramUser.quiet_hours),
                *(TelegramUser.__table__.c[f] for f in FLAGS),  # type: ignore[attr-defined]
            ).where(col(TelegramUser.id) == telegram_id)
        )
    ).first()
    if row is None:
        raise UnknownUser(telegram_id)
    quiet, *values = untyped(row)
    followed = set(
        (
            await session.execute(
                select(col(SectionSubscription.section_id)).where(
                    col(SectionSubscription.telegram_id) == telegram_id
                )
            )
        ).scalars()
    )
    return Preferences(
        flags=dict(zip(FLAGS, (bool(v) for v in values), strict=True)),
        quiet_hours=quiet,
        sections=[(s, s.id in followed) for s in await sections(session=session)],
    )


async def toggle_flag(*, session: AsyncSession, telegram_id: int, flag: str) -> bool:
    """Switch one kind of news or reminder on or off; returns its new value. Commits."""
    if flag not in FLAGS:
        raise ValueError(f"unknown flag {flag!r}")
    column = TelegramUser.__table__.c[flag]  # type: ignore[attr-defined]
    result = await session.execute(
        update(TelegramUser)
        .where(col(TelegramUser.id) == telegram_id)
        .values({column: ~column})
        .returning(column)
    )
    value = result.scalar_one_or_none()
    if value is None:
        await session.rollback()
        raise UnknownUser(telegram_id)
    await session.commit()
    return bool(value)


async def toggle_section(*, session: AsyncSession, telegram_id: int, section_id: int) -> bool:
    """Follow a section, or stop following it; returns whether they follow it now. Commits.

    LookupError if there is no such section (a forged or stale button changes nothing).
    """
    if await session.get(Section, section_id) is None:
        raise LookupError(section_id)
    if await session.get(TelegramUser, telegram_id) is None:
        raise UnknownUser(telegram_id)
    removed = await session.execute(
        delete(SectionSubscription).where(
            col(SectionSubscription.telegram_id) == telegram_id,
            col(SectionSubscription.section_id) == section_id,
        )
    )
    if removed.rowcount:  # type: ignore[attr-defined]
        await session.commit()
        return False
    session.add(SectionSubscription(telegram_id=telegram_id, section_id=section_id))
    try:
        await session.commit()
    except IntegrityError:  # the same tap twice at once: the other one followed it
        await session.rollback()
    return True


async def set_quiet_hours(*, session: AsyncSession, telegram_id: int, value: str) -> None:
    """Choose one of QUIET_PRESETS. Commits."""
    if value not in QUIET_PRESETS:
        raise ValueError(f"not a preset: {value!r}")
    result = await session.execute(
        update(TelegramUser).where(col(TelegramUser.id) == telegram_id).values(quiet_hours=value)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        await session.rollback()
        raise UnknownUser(telegram_id)
    await session.commit()

"""Who is calling: the Telegram user behind an update, their link to a council, their rights."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.db import Query
from bot.text import clean_line
from models import Member, Official, Role, TelegramUser, search_key

LANGUAGES = ("uk", "en")
DEFAULT_LANGUAGE = "uk"
# Writing last_seen on every update would turn every read into a write.
SEEN_RESOLUTION = timedelta(hours=1)


def untyped(row: Any) -> Any:
    """A result row for a dataclass; SQLModel types primary keys `int | None` even when read."""
    return row


def pick_language(chosen: str | None, telegram_code: str | None) -> str:
    """The chosen language, else English for English Telegram clients, else Ukrainian."""
    if chosen in LANGUAGES:
        return chosen
    if telegram_code and telegram_code.lower().split("-")[0] == "en":
        return "en"
    return DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Profile:
    """What Telegram tells about the person behind an update."""

    telegram_id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None

    @property
    def full_name(self) -> str:
        """First and last name as Telegram shows them."""
        return " ".join(p for p in (self.first_name, self.last_name) if p)


@dataclass(frozen=True)
class Link:
    """A caller's link to a council and the role it gives."""

    official_id: int
    member_id: int
    member_code: str
    member_name_uk: str
    member_name_en: str
    region: str
    role: str
    full_name: str


@dataclass(frozen=True)
class Caller:
    """The person behind an update, as far as access is concerned."""

    telegram_id: int
    language: str
    link: Link | None
    is_staff: bool


class Scope(StrEnum):
    """Whose dues a caller may see: the one place that says what each role may see."""

    NONE = "none"  # a stranger: public things only
    OWN = "own"  # an official: their own council
    REGION = "region"  # a coordinator: every council of their region
    ALL = "all"  # staff: every council


def scope(caller: Caller) -> Scope:
    """What the caller may see, by their role."""
    if caller.is_staff:
        return Scope.ALL
    if caller.link is None:
        return Scope.NONE
    return Scope.REGION if caller.link.role == Role.COORDINATOR else Scope.OWN


def may_name_council(caller: Caller) -> bool:
    """Whether the caller may ask for a council by its code (/dues 04057287)."""
    return scope(caller) in (Scope.REGION, Scope.ALL)


def may_view_member(caller: Caller, *, member_id: int, region: str) -> bool:
    """Staff see every council, coordinators their region's, officials their own."""
    match scope(caller):
        case Scope.ALL:
            return True
        case Scope.REGION:
            return caller.link is not None and region == caller.link.region
        case Scope.OWN:
            return caller.link is not None and member_id == caller.link.member_id
    return False


# The columns behind Link, in its field order.
LINK_COLUMNS = (
    col(Official.id),
    col(Official.member_id),
    col(Member.code),
    col(Member.name_uk),
    col(Member.name_en),
    col(Member.region),
    col(Official.role),
    col(Official.full_name),
)


async def find_link(session: AsyncSession, telegram_id: int) -> Link | None:
    row = (
        await session.execute(
            select(*LINK_COLUMNS)
            .join(Member, col(Member.id) == col(Official.member_id))
            .where(col(Official.telegram_id) == telegram_id, col(Official.active))
        )
    ).one_or_none()
    return Link(*untyped(row)) if row else None


async def link_account(
    session: AsyncSession,
    *,
    telegram_id: int,
    member_id: int,
    role: str,
    full_name: str,
    position: str,
    now: datetime,
) -> None:
    """Link a Telegram account to a council, reusing the roster entry with the same name."""
    current = (
        await session.execute(select(Official).where(col(Official.telegram_id) == telegram_id))
    ).scalar_one_or_none()
    if current is not None and current.member_id == member_id:
        current.role = role
        current.active = True
        current.linked_at = now
        if position:
            current.position = position
        return
    if current is not None:
        # Moving to another council: the old council's roster keeps its entry, unlinked.
        current.telegram_id = None
        current.linked_at = None
        await session.flush()
    key = search_key(full_name)
    roster = (
        await session.execute(
            select(Official).where(
                col(Official.member_id) == member_id,
                col(Official.telegram_id).is_(None),
            )
        )
    ).scalars()
    match = next((o for o in roster if search_key(o.full_name) == key), None)
    if match is not None:
        match.telegram_id = telegram_id
        match.role = role
        match.active = True
        match.linked_at = now
        return
    session.add(
        Official(
            member_id=member_id,
            full_name=clean_line(full_name, 300) or str(telegram_id),
            position=clean_line(position, 300),
            role=role,
            telegram_id=telegram_id,
            linked_at=now,
        )
    )


# What the gate reads on every update, built once: the user, their link, the council.
_CALLER = Query(
    select(
        col(TelegramUser.first_name),
        col(TelegramUser.last_name),
        col(TelegramUser.username),
        col(TelegramUser.language_code),
        col(TelegramUser.language),
        col(TelegramUser.last_seen_at),
        col(TelegramUser.blocked_at),
        *LINK_COLUMNS,
    )
    .select_from(TelegramUser)
    .outerjoin(
        Official,
        and_(col(Official.telegram_id) == col(TelegramUser.id), col(Official.active)),
    )
    .outerjoin(Member, col(Member.id) == col(Official.member_id))
    .where(col(TelegramUser.id) == bindparam("telegram_id"))
)


def _value(column: Any, name: str) -> Any:
    return bindparam(name, type_=column.type)


# What the gate writes when a person changed their name or was away for over an hour.
_SEEN = Query(
    update(TelegramUser)
    .where(col(TelegramUser.id) == bindparam("telegram_id"))
    .values(
        first_name=_value(col(TelegramUser.first_name), "new_first_name"),
        last_name=_value(col(TelegramUser.last_name), "new_last_name"),
        username=_value(col(TelegramUser.username), "new_username"),
        language_code=_value(col(TelegramUser.language_code), "new_language_code"),
        last_seen_at=_value(col(TelegramUser.last_seen_at), "seen_at"),
        blocked_at=None,  # they wrote to us, so they have unblocked the bot
    )
)


async def identify(
    *, session: AsyncSession, profile: Profile, now: datetime, admin_ids: frozenset[int]
) -> Caller:
    """Find the caller and their link in one query; write only what changed, at most hourly."""
    first_name = clean_line(profile.first_name, 300)
    last_name = clean_line(profile.last_name or "", 300) or None
    username = clean_line(profile.username or "", 100) or None
    language_code = clean_line(profile.language_code or "", 20) or None
    # Every update passes here, so this is one round trip: the user, their link, the council.
    row = await _CALLER.one_or_none(session, telegram_id=profile.telegram_id)
    seen = (first_name, last_name, username, language_code)
    link: Link | None = None
    chosen: str | None = None
    if row is None:
        session.add(
            TelegramUser(
                id=profile.telegram_id,
                first_name=first_name,
                last_name=last_name,
                username=username,
                language_code=language_code,
                created_at=now,
                last_seen_at=now,
            )
        )
        try:
            await session.commit()
        except IntegrityError:  # another worker inserted the same user first
            await session.rollback()
            return await identify(session=session, profile=profile, now=now, admin_ids=admin_ids)
    else:
        values = untyped(row)
        stored, chosen, last_seen, blocked = tuple(values[:4]), values[4], values[5], values[6]
        if values[7] is not None:
            link = Link(*values[7:])
        if stored != seen or blocked is not None or now - last_seen > SEEN_RESOLUTION:
            await _SEEN.write(
                session,
                telegram_id=profile.telegram_id,
                new_first_name=first_name,
                new_last_name=last_name,
                new_username=username,
                new_language_code=language_code,
                seen_at=now,
            )
    is_staff = profile.telegram_id in admin_ids or (link is not None and link.role == Role.ADMIN)
    return Caller(
        telegram_id=profile.telegram_id,
        language=pick_language(chosen, language_code),
        link=link,
        is_staff=is_staff,
    )


async def set_language(*, session: AsyncSession, telegram_id: int, language: str) -> None:
    """Remember the language a person chose."""
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")
    await session.execute(
        update(TelegramUser).where(col(TelegramUser.id) == telegram_id).values(language=language)
    )
    await session.commit()


async def mark_blocked(*, session: AsyncSession, telegram_id: int, now: datetime) -> None:
    """Telegram said the person blocked the bot (or deleted their account): remember since when.

    The first update they send again clears it (see `identify`).
    """
    await session.execute(
        update(TelegramUser)
        .where(col(TelegramUser.id) == telegram_id, col(TelegramUser.blocked_at).is_(None))
        .values(blocked_at=now)
    )
    await session.commit()


async def language_of(
    *, session: AsyncSession, telegram_id: int, telegram_code: str | None
) -> str:
    """The language a person reads, for messages outside a handler (errors, notifications)."""
    chosen = (
        await session.execute(
            select(col(TelegramUser.language)).where(col(TelegramUser.id) == telegram_id)
        )
    ).scalar_one_or_none()
    return pick_language(chosen, telegram_code)

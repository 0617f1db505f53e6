"""Audiences: who receives an announcement or a deadline reminder, as one SQL query.

An audience is written `all`, `region:NAME` or `overdue`. Each kind is a resolver in
`RESOLVERS`; a new kind (the events branch adds `section:CODE` and `event:CODE`) is one
more entry there and nothing else changes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.services.callers import untyped
from bot.services.dues import (
    CHARGE_COLUMNS,
    PAYMENT_COLUMNS,
    ChargeRow,
    PaymentRow,
    allocate,
)
from models import Charge, Member, Official, Payment, TelegramUser

# A SELECT of any columns; recipient queries yield (telegram_id, language).
Query = Select[*tuple[Any, ...]]


class AudienceError(ValueError):
    """An audience that is malformed or names nothing that exists."""

    def __init__(self, reason: str, value: str, known: tuple[str, ...] = ()) -> None:
        super().__init__(f"{reason}: {value!r}")
        self.reason = reason  # unknown_kind | unknown_region | malformed
        self.value = value
        self.known = known


@dataclass(frozen=True)
class Audience:
    """A parsed audience: its kind and argument (`region`, `Київська`)."""

    kind: str
    argument: str = ""

    def __str__(self) -> str:
        return f"{self.kind}:{self.argument}" if self.argument else self.kind


def language_expr() -> ColumnElement[str]:
    """The reader's language in SQL, as `callers.pick_language` decides it in Python."""
    code = func.lower(func.coalesce(col(TelegramUser.language_code), ""))
    return case(
        (col(TelegramUser.language).in_(("uk", "en")), col(TelegramUser.language)),
        (code == "en", "en"),
        (code.like("en-%"), "en"),
        else_="uk",
    )


def reachable_officials() -> Query:
    """Telegram id and language of every linked, active official who has not blocked the bot.

    Callers add WHERE clauses on Official or Member (joined) to narrow it.
    """
    return (
        select(col(TelegramUser.id).label("telegram_id"), language_expr().label("language"))
        .select_from(Official)
        .join(TelegramUser, col(TelegramUser.id) == col(Official.telegram_id))
        .join(Member, col(Member.id) == col(Official.member_id))
        .where(col(Official.active), col(TelegramUser.blocked_at).is_(None))
    )


async def overdue_member_ids(*, session: AsyncSession, today: date) -> set[int]:
    """Councils owing money past its due date, allocated the way statements allocate it."""
    debtors = select(col(Charge.member_id)).where(col(Charge.due_date) < today).distinct()
    charges: dict[int, list[ChargeRow]] = defaultdict(list)
    for charge in await session.execute(
        select(col(Charge.member_id), *CHARGE_COLUMNS).where(col(Charge.member_id).in_(debtors))
    ):
        charges[charge[0]].append(ChargeRow(*untyped(charge[1:])))
    payments: dict[int, list[PaymentRow]] = defaultdict(list)
    for row in await session.execute(
        select(col(Payment.member_id), *PAYMENT_COLUMNS).where(col(Payment.member_id).in_(debtors))
    ):
        payments[row[0]].append(PaymentRow(*untyped(row[1:])))
    owing = set()
    for member_id, rows in charges.items():
        allocation = allocate(rows, payments.get(member_id, []))
        paid: dict[int, int] = defaultdict(int)
        for a in allocation.applied:
            paid[a.charge_id] += a.amount_kop
        if any(c.due_date < today and c.amount_kop > paid[c.id] for c in rows):
            owing.add(member_id)
    return owing


Resolver = Callable[[AsyncSession, Audience, date], Awaitable[Query]]


async def _all(session: AsyncSession, audience: Audience, today: date) -> Query:
    return reachable_officials()


async def _region(session: AsyncSession, audience: Audience, today: date) -> Query:
    return reachable_officials().where(col(Member.region) == audience.argument)


async def _overdue(session: AsyncSession, audience: Audience, today: date) -> Query:
    owing = await overdue_member_ids(session=session, today=today)
    return reachable_officials().where(col(Official.member_id).in_(owing))


async def _check_region(session: AsyncSession, name: str) -> None:
    regions = tuple(
        (await session.execute(select(col(Member.region)).distinct().order_by("region")))
        .scalars()
        .all()
    )
    if name not in regions:
        raise AudienceError("unknown_region", name, regions)


@dataclass(frozen=True)
class AudienceKind:
    """How one kind of audience is checked and turned into SQL."""

    takes_argument: bool
    resolve: Resolver
    check: Callable[[AsyncSession, str], Awaitable[None]] | None = None


RESOLVERS: dict[str, AudienceKind] = {
    "all": AudienceKind(takes_argument=False, resolve=_all),
    "region": AudienceKind(takes_argument=True, resolve=_region, check=_check_region),
    "overdue": AudienceKind(takes_argument=False, resolve=_overdue),
}


def parse(value: str) -> Audience:
    """`all`, `region:NAME`, ... into an Audience; AudienceError if malformed."""
    kind, sep, argument = value.strip().partition(":")
    spec = RESOLVERS.get(kind.strip().lower())
    if spec is None:
        raise AudienceError("unknown_kind", value, tuple(RESOLVERS))
    argument = argument.strip()
    if spec.takes_argument != bool(argument) or (sep and not spec.takes_argument):
        raise AudienceError("malformed", value, tuple(RESOLVERS))
    return Audience(kind.strip().lower(), argument)


async def validate(*, session: AsyncSession, value: str) -> Audience:
    """Parse an audience and check that what it names exists."""
    audience = parse(value)
    spec = RESOLVERS[audience.kind]
    if spec.check is not None:
        await spec.check(session, audience.argument)
    return audience


async def recipients(*, session: AsyncSession, audience: Audience, today: date) -> Query:
    """SELECT telegram_id, language of everyone in the audience, once each."""
    query = await RESOLVERS[audience.kind].resolve(session, audience, today)
    return query.distinct()


async def count(*, session: AsyncSession, audience: Audience, today: date) -> int:
    """How many people the audience reaches now."""
    query = (await recipients(session=session, audience=audience, today=today)).subquery()
    return int((await session.execute(select(func.count()).select_from(query))).scalar_one())


def for_language(query: Query, lang: str) -> Query:
    """Only the telegram ids of recipients who read `lang`."""
    sub = query.subquery()
    return select(sub.c.telegram_id).where(and_(sub.c.language == lang))

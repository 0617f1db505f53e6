"""Audiences: who receives an announcement or a deadline reminder, as one SQL query.

An audience is written `all`, `region:NAME`, `overdue`, `section:CODE` or `event:CODE`.
Each kind is a resolver in `RESOLVERS`; a new kind is one more entry there and nothing else
changes. Each kind also names the kind of news (a flag on `tg_user`, set in /settings) an
announcement to it counts as: whoever turned that kind off is not in the audience.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, select, true
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
from models import (
    Charge,
    Event,
    Member,
    Official,
    Payment,
    Registration,
    RegistrationStatus,
    Section,
    SectionSubscription,
    TelegramUser,
)

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


async def _section(session: AsyncSession, audience: Audience, today: date) -> Query:
    return (
        reachable_officials()
        .join(SectionSubscription, col(SectionSubscription.telegram_id) == col(TelegramUser.id))
        .join(Section, col(Section.id) == col(SectionSubscription.section_id))
        .where(col(Section.code) == audience.argument)
    )


async def _check_section(session: AsyncSession, code: str) -> None:
    codes = tuple((await session.execute(select(col(Section.code)).order_by("code"))).scalars())
    if code not in codes:
        raise AudienceError("unknown_section", code, codes)


# Who an event's audience reaches: everyone with a seat or a place in its queue.
EVENT_AUDIENCE = (RegistrationStatus.REGISTERED.value, RegistrationStatus.WAITLISTED.value)


async def _event(session: AsyncSession, audience: Audience, today: date) -> Query:
    return (
        reachable_officials()
        .join(Registration, col(Registration.official_id) == col(Official.id))
        .join(Event, col(Event.id) == col(Registration.event_id))
        .where(col(Event.code) == audience.argument, col(Registration.status).in_(EVENT_AUDIENCE))
    )


async def _check_event(session: AsyncSession, code: str) -> None:
    found = (await session.execute(select(col(Event.id)).where(col(Event.code) == code))).first()
    if found is None:
        raise AudienceError("unknown_event", code)


@dataclass(frozen=True)
class AudienceKind:
    """How one kind of audience is checked and turned into SQL."""

    takes_argument: bool
    resolve: Resolver
    check: Callable[[AsyncSession, str], Awaitable[None]] | None = None
    # The tg_user flag (a kind of news) a recipient must have on; None: no such choice.
    news: str | None = None


RESOLVERS: dict[str, AudienceKind] = {
    "all": AudienceKind(takes_argument=False, resolve=_all, news="news_general"),
    "region": AudienceKind(
        takes_argument=True, resolve=_region, check=_check_region, news="news_general"
    ),
    "overdue": AudienceKind(takes_argument=False, resolve=_overdue, news="news_dues"),
    "section": AudienceKind(
        takes_argument=True, resolve=_section, check=_check_section, news="news_events"
    ),
    # People who registered asked for news of that event: no kind of news turns it off.
    "event": AudienceKind(takes_argument=True, resolve=_event, check=_check_event),
}

# The kinds of news a person chooses in /settings, as columns of tg_user.
NEWS_FLAGS = ("news_events", "news_trainings", "news_dues", "news_deadlines", "news_general")
# Ask for the audience's own kind of news (the default of `recipients`).
OWN_NEWS = "own"


def wants(flag: str) -> ColumnElement[bool]:
    """In SQL: the recipient receives this kind of news."""
    if flag not in NEWS_FLAGS:
        raise ValueError(f"unknown kind of news: {flag}")
    return TelegramUser.__table__.c[flag] == true()  # type: ignore[attr-defined]


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


async def recipients(
    *, session: AsyncSession, audience: Audience, today: date, news: str | None = OWN_NEWS
) -> Query:
    """SELECT telegram_id, language of everyone in the audience, once each.

    `news` is the kind of news the message is (a flag in NEWS_FLAGS): by default the
    audience's own (an announcement to everyone is general news); a deadline reminder
    passes `news_deadlines` whatever its audience; None for no filter.
    """
    spec = RESOLVERS[audience.kind]
    query = await spec.resolve(session, audience, today)
    flag = spec.news if news == OWN_NEWS else news
    if flag is not None:
        query = query.where(wants(flag))
    return query.distinct()


async def count(
    *, session: AsyncSession, audience: Audience, today: date, news: str | None = OWN_NEWS
) -> int:
    """How many people the audience reaches now."""
    query = (
        await recipients(session=session, audience=audience, today=today, news=news)
    ).subquery()
    return int((await session.execute(select(func.count()).select_from(query))).scalar_one())


def for_language(query: Query, lang: str) -> Query:
    """Only the telegram ids of recipients who read `lang`."""
    sub = query.subquery()
    return select(sub.c.telegram_id).where(and_(sub.c.language == lang))

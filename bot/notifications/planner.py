"""The planner: derives from the data what is due and writes it to the outbox.

Runs every ~30 s and at start-up. Nothing lives in memory: each reminder moment the planner
handles leaves a `plan_mark` row, each message an outbox row with a unique dedupe key, so a
restart, a re-plan or a second instance writes nothing twice. On PostgreSQL one pass runs at a
time across all processes (advisory lock); every pass is one transaction.

The work is a list of rules (`RULES`). A rule reads the data set-wise and writes with
INSERT ... SELECT; it never loops over officials in Python. Event and training reminders and
the "event changed/cancelled" notices join this list when events exist: each is one more
`Rule` appended to `RULES`, reusing `audiences` and `outbox.enqueue_select`.

A reminder is sent while its moment is no older than its own lead (a 7-day reminder up to the
1-day one, a 1-day reminder until the due time); past that it is dropped, never sent late.
"""

from __future__ import annotations

import html
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import String, case, cast, exists, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.clock import Clock
from bot.db import Database
from bot.i18n import N_, Translator, localized
from bot.notifications import event_rules
from bot.services import announcements, audiences
from bot.services.callers import untyped
from bot.services.dues import (
    CHARGE_COLUMNS,
    PAYMENT_COLUMNS,
    ChargeRow,
    PaymentRow,
    allocate,
)
from bot.services.outbox import (
    CLAIMABLE,
    PLANNER_LOCK,
    enqueue_per_council,
    enqueue_select,
    enqueue_staged,
    mark_planned,
    staged_groups,
    try_xact_lock,
)
from locales import LANGUAGES
from models import (
    Announcement,
    Category,
    Charge,
    Deadline,
    Event,
    EventStatus,
    Member,
    Official,
    Outbox,
    OutboxStatus,
    Payment,
    PlanMark,
    Registration,
    RegistrationStatus,
    Section,
    SectionSubscription,
    TelegramUser,
)

log = logging.getLogger(__name__)

# Dues reminders go out at this local time on their day (well outside default quiet hours).
REMINDER_TIME = time(10, 0)
DUES_LEADS = ((30, "30d"), (7, "7d"), (1, "1d"))
DEADLINE_LEADS = ((timedelta(days=7), "7d"), (timedelta(days=1), "1d"))
DUES_UPCOMING = N_("notify.dues.upcoming")
DUES_OVERDUE = N_("notify.dues.overdue")
KIND_NAMES = {
    "membership": N_("charge.kind.membership"),
    "fund": N_("charge.kind.fund"),
    "entrance": N_("charge.kind.entrance"),
}


@dataclass
class PlanContext:
    """What a rule sees: one session (one transaction), the moment, and the translator."""

    session: AsyncSession
    now: datetime
    clock: Clock
    translator: Translator


@dataclass(frozen=True)
class Rule:
    """One kind of derived notification; `run` returns how many outbox rows it wrote."""

    name: str
    run: Callable[[PlanContext], Awaitable[int]]


@dataclass
class PlanResult:
    """What one planner pass wrote, per rule."""

    written: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Outbox rows written by the pass."""
        return sum(self.written.values())


# --------------------------------------------------------------------------- dues


def reminder_day(now: datetime, clock: Clock) -> date:
    """The day whose reminders are due: today from REMINDER_TIME local time, else yesterday."""
    local = now.astimezone(clock.tz)
    return local.date() if local.time() >= REMINDER_TIME else local.date() - timedelta(days=1)


def _add_months(day: date, months: int) -> date:
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def dues_stage(due: date, day: date) -> str | None:
    """Which dues reminder a charge due on `due` is at on `day`, None for none.

    `30d`, `7d`, `1d` before the due date (each until the next one); then `overdue:N`
    monthly from the day after the due date. On the due date itself nothing is new: the
    1-day reminder has had its day and the charge is not overdue yet.
    """
    left = (due - day).days
    for lead, name in DUES_LEADS:
        following = next((d for d, _ in DUES_LEADS if d < lead), 0)
        if following < left <= lead:
            return name
    if left >= 0:
        return None
    start = due + timedelta(days=1)
    months = (day.year - start.year) * 12 + day.month - start.month
    if _add_months(start, months) > day:
        months -= 1
    return f"overdue:{months}"


def dues_stage_end(due: date, stage: str, clock: Clock) -> datetime:
    """When a dues reminder stops making sense (its moment plus its lead)."""
    if stage.startswith("overdue:"):
        n = int(stage.partition(":")[2])
        end_day = _add_months(due + timedelta(days=1), n + 1)
    else:
        end_day = due
    return datetime.combine(end_day, REMINDER_TIME, tzinfo=clock.tz)


@dataclass(frozen=True)
class _Candidate:
    charge_id: int
    member_id: int
    due_date: date
    stage: str


async def _dues_candidates(ctx: PlanContext, day: date) -> list[_Candidate]:
    """Charges at a reminder stage that the planner has not handled yet (one query)."""
    dates = (
        (
            await ctx.session.execute(
                select(col(Charge.due_date))
                .where(col(Charge.due_date) <= day + timedelta(days=DUES_LEADS[0][0]))
                .distinct()
            )
        )
        .scalars()
        .all()
    )
    stages = {d: s for d in dates if (s := dues_stage(d, day)) is not None}
    if not stages:
        return []
    stage = case(stages, value=col(Charge.due_date))
    key = literal("dues:") + cast(col(Charge.id), String) + literal(":") + stage
    rows = await ctx.session.execute(
        select(col(Charge.id), col(Charge.member_id), col(Charge.due_date), stage).where(
            col(Charge.due_date).in_(list(stages)),
            ~exists().where(col(PlanMark.key) == key),
        )
    )
    return [_Candidate(*untyped(r)) for r in rows]


@dataclass(frozen=True)
class _Owed:
    year: int
    kind: str
    amount_kop: int


async def _council_names(session: AsyncSession, ids: set[int]) -> dict[int, tuple[str, str]]:
    if not ids:
        return {}
    rows = await session.execute(
        select(col(Member.id), col(Member.name_uk), col(Member.name_en)).where(
            col(Member.id).in_(ids)
        )
    )
    return {untyped(r[0]): (r[1], r[2]) for r in rows}


async def _balances(session: AsyncSession, member_ids: set[int]) -> dict[int, _Owed]:
    """What is still owed on each charge of these councils, allocated as statements do."""
    charges: dict[int, list[ChargeRow]] = defaultdict(list)
    payments: dict[int, list[PaymentRow]] = defaultdict(list)
    ids = sorted(member_ids)
    for start in range(0, len(ids), 5000):  # stay below SQLite's bound-parameter limit
        chunk = ids[start : start + 5000]
        for charge in await session.execute(
            select(col(Charge.member_id), *CHARGE_COLUMNS).where(col(Charge.member_id).in_(chunk))
        ):
            charges[charge[0]].append(ChargeRow(*untyped(charge[1:])))
        for row in await session.execute(
            select(col(Payment.member_id), *PAYMENT_COLUMNS).where(
                col(Payment.member_id).in_(chunk)
            )
        ):
            payments[row[0]].append(PaymentRow(*untyped(row[1:])))
    owed: dict[int, _Owed] = {}
    for member_id, rows in charges.items():
        paid: dict[int, int] = defaultdict(int)
        for a in allocate(rows, payments.get(member_id, [])).applied:
            paid[a.charge_id] += a.amount_kop
        for c in rows:
            owed[c.id] = _Owed(c.year, c.kind, c.amount_kop - paid[c.id])
    return owed


async def plan_dues(ctx: PlanContext) -> int:
    """Dues reminders 30, 7 and 1 days before the due date, then monthly while overdue.

    One message per council, due date and stage, listing what is still owed, to the
    council's linked officials only; a fully paid charge gets none.
    """
    day = reminder_day(ctx.now, ctx.clock)
    candidates = await _dues_candidates(ctx, day)
    if not candidates:
        return 0
    owed = await _balances(ctx.session, {c.member_id for c in candidates})
    groups: dict[tuple[int, date, str], list[tuple[int, str, int]]] = defaultdict(list)
    for c in candidates:
        charge = owed.get(c.charge_id)
        if charge is not None and charge.amount_kop > 0:
            groups[(c.member_id, c.due_date, c.stage)].append(
                (charge.year, charge.kind, charge.amount_kop)
            )
    names = await _council_names(ctx.session, {member_id for member_id, _, _ in groups})
    rendered: list[dict[str, Any]] = []
    for (member_id, due, stage), lines in sorted(groups.items()):
        expires = dues_stage_end(due, stage, ctx.clock)
        for lang in LANGUAGES:
            tr = ctx.translator(lang)
            name_uk, name_en = names[member_id]
            body = "\n".join(
                tr.t(
                    "notify.dues.line",
                    kind=tr.t(KIND_NAMES.get(kind, kind)),
                    year=year,
                    amount=tr.money(amount),
                )
                for year, kind, amount in sorted(lines)
            )
            text = tr.t(
                DUES_OVERDUE if stage.startswith("overdue") else DUES_UPCOMING,
                council=_esc(localized(lang, name_uk, name_en)),
                due=tr.date(due),
                total=tr.money(sum(amount for _, _, amount in lines)),
                lines=body,
            )
            rendered.append(
                {
                    "member_id": member_id,
                    "lang": lang,
                    "text": text,
                    "key_prefix": f"dues:{member_id}:{due.isoformat()}:{stage}:to:",
                    "expires_at": expires,
                }
            )
    written = await enqueue_per_council(
        session=ctx.session, messages=rendered, kind="dues", now=ctx.now, news="news_dues"
    )
    await mark_planned(
        session=ctx.session,
        keys=[f"dues:{c.charge_id}:{c.stage}" for c in candidates],
        now=ctx.now,
    )
    return written


# --------------------------------------------------------------------------- deadlines


def deadline_stage(due_at: datetime, now: datetime) -> str | None:
    """`7d` from a week before the due time, `1d` from a day before, None otherwise."""
    left = due_at - now
    if left <= timedelta(0):
        return None
    stage = None
    for lead, name in DEADLINE_LEADS:
        if left <= lead:
            stage = name
    return stage


def deadline_mark(deadline: Deadline, stage: str) -> str:
    """The plan mark of a deadline reminder: it names the due moment, so a moved deadline is
    reminded again for its new one (`deadline:{id}:{stage}:{due epoch}`)."""
    return f"deadline:{deadline.id}:{stage}:{int(deadline.due_at.timestamp())}"


async def _drop_moved_deadline_reminders(ctx: PlanContext, current: Sequence[Deadline]) -> None:
    """Reminders still queued for a moment their deadline no longer has are dropped.

    `current` is every deadline whose reminders may be queued now: due within the longest
    lead. A queued row of a deadline outside it, or naming another due moment, was planned
    before the deadline moved; it would tell people the old date.
    """
    key = col(Outbox.dedupe_key)
    stale = [
        col(Outbox.kind) == "deadline",
        col(Outbox.status).in_(CLAIMABLE),
        col(Outbox.expires_at) > ctx.now,
        # Keys from before they named the due moment (`deadline:{id}:7d:to:{chat}`) belong
        # to deadlines added with `deadline add`, which nothing moves.
        ~key.like("deadline:%:_d:to:%"),
    ]
    if current:
        stale.append(
            ~or_(
                *(key.like(f"deadline:{d.id}:%:{int(d.due_at.timestamp())}:to:%") for d in current)
            )
        )
    # Look before writing: on SQLite an UPDATE takes the write lock even when it matches nothing.
    if (await ctx.session.execute(select(col(Outbox.id)).where(*stale).limit(1))).first():
        await ctx.session.execute(
            update(Outbox)
            .where(*stale)
            .values(status=OutboxStatus.DROPPED, last_error="the deadline moved")
            .execution_options(synchronize_session=False)
        )


async def plan_deadlines(ctx: PlanContext) -> int:
    """Deadline reminders 7 days and 1 day before, to the deadline's audience.

    A deadline moved (re-imported with another `due_at`) is reminded again for its new moment,
    and what was still queued for the old one is dropped first.
    """
    due = (
        (
            await ctx.session.execute(
                select(Deadline).where(
                    col(Deadline.due_at) > ctx.now,
                    col(Deadline.due_at) <= ctx.now + DEADLINE_LEADS[0][0],
                )
            )
        )
        .scalars()
        .all()
    )
    await _drop_moved_deadline_reminders(ctx, due)
    staged = {
        deadline_mark(d, stage): (d, stage)
        for d in due
        if (stage := deadline_stage(d.due_at, ctx.now)) is not None
    }
    if not staged:
        return 0
    # Marks written before they named the due moment count too, or an upgrade would send
    # every reminder of the current week again; such deadlines were never moved.
    legacy = {f"deadline:{d.id}:{stage}": mark for mark, (d, stage) in staged.items()}
    done = {
        legacy.get(key, key)
        for key in (
            await ctx.session.execute(
                select(col(PlanMark.key)).where(col(PlanMark.key).in_([*staged, *legacy]))
            )
        ).scalars()
    }
    written = 0
    today = ctx.clock.today()
    for mark, (deadline, _stage) in staged.items():
        if mark in done:
            continue
        query = await audiences.recipients(
            session=ctx.session,
            audience=audiences.parse(deadline.audience),
            today=today,
            news="news_deadlines",
        )
        for lang in LANGUAGES:
            tr = ctx.translator(lang)
            description = deadline.description(lang)
            text = tr.t(
                "notify.deadline",
                title=_esc(deadline.title(lang)),
                due=tr.datetime(deadline.due_at),
                description=f"\n\n{_esc(description)}" if description else "",
            )
            written += await enqueue_select(
                session=ctx.session,
                recipients=audiences.for_language(query, lang),
                text=text,
                kind="deadline",
                key_prefix=f"{mark}:to:",
                not_before=ctx.now,
                expires_at=deadline.due_at,
            )
    await mark_planned(session=ctx.session, keys=[k for k in staged if k not in done], now=ctx.now)
    return written


# --------------------------------------------------------------------------- announcements


async def plan_announcements(ctx: PlanContext) -> int:
    """Scheduled announcements whose time has come, expanded to their audience."""
    due = (
        (
            await ctx.session.execute(
                select(Announcement)
                .where(
                    col(Announcement.expanded_at).is_(None),
                    col(Announcement.send_at) <= ctx.now,
                )
                .order_by(col(Announcement.id))
            )
        )
        .scalars()
        .all()
    )
    written = 0
    for item in due:
        written += await announcements.expand(
            session=ctx.session, announcement=item, now=ctx.now, today=ctx.clock.today()
        )
    return written


# --------------------------------------------------------------------------- new events

# An event imported longer ago than this is not news any more (nor after an upgrade).
PUBLISHED_WINDOW = timedelta(days=2)
PUBLISHED_EVENT = N_("notify.event.published")
PUBLISHED_TRAINING = N_("notify.training.published")


def _followers(news: str, *, not_registered: bool = False) -> audiences.Query:
    """(event id, telegram id, language) of the followers of each staged event's section who
    receive `news`; with `not_registered`, only those holding neither a seat nor a place in
    its queue. The people of `enqueue_staged`."""
    query: audiences.Query = (
        audiences.reachable_officials()
        .with_only_columns(
            col(Event.id).label("group_id"),
            col(TelegramUser.id).label("telegram_id"),
            audiences.language_expr().label("lang"),
            maintain_column_froms=True,
        )
        .join(SectionSubscription, col(SectionSubscription.telegram_id) == col(TelegramUser.id))
        .join(Event, col(Event.section_id) == col(SectionSubscription.section_id))
        .where(col(Event.id).in_(staged_groups()), audiences.wants(news))
    )
    if not_registered:
        # Whoever already holds a seat or a place in the queue needs no nudge.
        query = query.where(
            ~exists().where(
                col(Registration.event_id) == col(Event.id),
                col(Registration.official_id) == col(Official.id),
                col(Registration.status).in_(
                    [RegistrationStatus.REGISTERED, RegistrationStatus.WAITLISTED]
                ),
            )
        )
    return query.distinct()


def _news_of(event: Event) -> str:
    """Trainings reach those who receive "trainings"; other events "events of my sections"."""
    return "news_trainings" if event.category == Category.TRAINING else "news_events"


async def _fan_out_by_news(
    ctx: PlanContext,
    messages: dict[str, list[dict[str, Any]]],
    kind: str,
    *,
    not_registered: bool = False,
) -> int:
    written = 0
    for news, batch in sorted(messages.items()):
        written += await enqueue_staged(
            session=ctx.session,
            messages=batch,
            people=_followers(news, not_registered=not_registered),
            kind=kind,
            now=ctx.now,
        )
    return written


async def plan_published_events(ctx: PlanContext) -> int:
    """A new event or training: the subscribers of its section are told once.

    Events of a section go to those who follow it and receive "events of my sections";
    trainings to those who follow it and receive "trainings". The texts are rendered per
    event and language and fanned out with one INSERT ... SELECT per kind of news, so a
    year's programme imported at once costs two statements; the mark
    `event:{id}:published` makes it once.
    """
    key = literal("event:") + cast(col(Event.id), String) + literal(":published")
    rows = (
        await ctx.session.execute(
            select(Event, Section)
            .join(Section, col(Section.id) == col(Event.section_id))
            .where(
                col(Event.status) == EventStatus.PUBLISHED,
                col(Event.starts_at) > ctx.now,
                col(Event.created_at) >= ctx.now - PUBLISHED_WINDOW,
                ~exists().where(col(PlanMark.key) == key),
            )
            .order_by(col(Event.starts_at), col(Event.id))
        )
    ).all()
    messages: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event, section in rows:
        training = event.category == Category.TRAINING
        open_until = event.registration_deadline or event.starts_at
        for lang in LANGUAGES:
            tr = ctx.translator(lang)
            place = tr.t("notify.published.place", place=_esc(event.location))
            text = tr.t(
                PUBLISHED_TRAINING if training else PUBLISHED_EVENT,
                title=_esc(event.title(lang)),
                section=_esc(section.name(lang)),
                when=tr.datetime(event.starts_at),
                place=place if event.location else "",
            )
            messages[_news_of(event)].append(
                {
                    "group_id": event.id,
                    "lang": lang,
                    "text": text,
                    "key_prefix": f"event:{event.id}:published:to:",
                    "expires_at": min(open_until, event.starts_at),
                }
            )
    written = await _fan_out_by_news(ctx, messages, "event_published")
    await mark_planned(
        session=ctx.session, keys=[f"event:{e.id}:published" for e, _ in rows], now=ctx.now
    )
    return written


CLOSING_AHEAD = timedelta(hours=24)
CLOSING = N_("notify.event.closing")


async def plan_registration_closing(ctx: PlanContext) -> int:
    """ "Registration closes in 24 hours" to the section's followers who have not registered.

    Once per event and deadline (a moved deadline is announced again); nothing for an event
    without a section, a cancelled one, or one whose registration has already closed.
    """
    rows = (
        await ctx.session.execute(
            select(Event, Section)
            .join(Section, col(Section.id) == col(Event.section_id))
            .where(
                col(Event.status) == EventStatus.PUBLISHED,
                col(Event.registration_deadline) > ctx.now,
                col(Event.registration_deadline) <= ctx.now + CLOSING_AHEAD,
                col(Event.starts_at) > ctx.now,
            )
            .order_by(col(Event.registration_deadline), col(Event.id))
        )
    ).all()
    marks = {
        f"event:{event.id}:closing:{event.registration_deadline.isoformat()}": (event, section)
        for event, section in rows
        if event.registration_deadline is not None
    }
    done = set(
        (
            await ctx.session.execute(
                select(col(PlanMark.key)).where(col(PlanMark.key).in_(list(marks)))
            )
        ).scalars()
    )
    todo = sorted(set(marks) - done)
    messages: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for mark in todo:
        event, _section = marks[mark]
        deadline = event.registration_deadline
        assert deadline is not None  # noqa: S101 - selected above
        for lang in LANGUAGES:
            tr = ctx.translator(lang)
            messages[_news_of(event)].append(
                {
                    "group_id": event.id,
                    "lang": lang,
                    "text": tr.t(
                        CLOSING,
                        title=_esc(event.title(lang)),
                        when=tr.datetime(event.starts_at),
                        deadline=tr.datetime(deadline),
                    ),
                    "key_prefix": f"{mark}:to:",
                    "expires_at": deadline,
                }
            )
    written = await _fan_out_by_news(ctx, messages, "event_closing", not_registered=True)
    await mark_planned(session=ctx.session, keys=todo, now=ctx.now)
    return written


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


# Order is the order of the pass; each rule runs in the pass's one transaction.
RULES: list[Rule] = [
    Rule("announcements", plan_announcements),
    Rule("deadlines", plan_deadlines),
    Rule("dues", plan_dues),
    Rule("published", plan_published_events),
    Rule("closing", plan_registration_closing),
    Rule("event_changes", event_rules.plan_event_changes),
    Rule("event_reminders", event_rules.plan_event_reminders),
]


async def plan(
    *, db: Database, clock: Clock, translator: Translator, rules: Sequence[Rule] = RULES
) -> PlanResult | None:
    """One planner pass; None when another process holds the planner lock (PostgreSQL)."""
    async with db.session() as session:
        if not await try_xact_lock(session, PLANNER_LOCK):
            await session.rollback()
            return None
        ctx = PlanContext(session=session, now=clock.now(), clock=clock, translator=translator)
        result = PlanResult()
        for rule in rules:
            result.written[rule.name] = await rule.run(ctx)
        await session.commit()
    if result.total:
        log.info("planned %d messages: %s", result.total, result.written)
    return result

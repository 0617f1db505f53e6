"""Planner rules for events and trainings: reminders before the start, and "time or place changed".

Each rule reads the few events at a reminder moment (one query), skips the moments already
handled (`plan_mark`, one query) and fans each message out to its readers with one
INSERT ... SELECT per language; nothing loops over officials in Python.

- Reminders 1 day and 1 hour before the start, to everyone registered (not the waitlist).
  Only the latest moment that has come is sent: the 1-day reminder until the 1-hour one is
  due, the 1-hour one until the start; past that nothing is sent late. The keys carry the
  start time, so an event moved to another day is reminded again for its new time.
- Time or place re-imported (`changed_at` and `sequence` rise): everyone registered or
  waitlisted gets the news with a fresh `.ics`, once per change.

Per-person reminder preferences and "registration closes in 24 hours" for section subscribers
need the subscriptions from /settings; they plug in here when those tables exist.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlmodel import col

from bot.i18n import N_, Tr
from bot.services import calendar
from bot.services.audiences import Query, for_language, language_expr, reachable_officials
from bot.services.events import registrants
from bot.services.outbox import (
    Document,
    enqueue_select,
    enqueue_staged,
    mark_planned,
    staged_groups,
)
from locales import LANGUAGES
from models import (
    Event,
    EventStatus,
    Official,
    PlanMark,
    Registration,
    RegistrationStatus,
    TelegramUser,
)

if TYPE_CHECKING:
    from bot.notifications.planner import PlanContext

# (lead, stage name, message id, urgent): the latest stage that has come is the one sent.
REMINDER_LEADS = (
    (timedelta(days=1), "1d", N_("notify.event.reminder_1d"), False),
    (timedelta(hours=1), "1h", N_("notify.event.reminder_1h"), True),
)
# Who switched which reminder off in /settings, by stage of REMINDER_LEADS.
REMINDER_WANTED = (TelegramUser.remind_day_before, TelegramUser.remind_hour_before)
CHANGED = N_("notify.event.changed")
URGENT_CHANGE = timedelta(days=1)  # a change this close to the start goes out at night too


def reminder_stage(starts_at: datetime, now: datetime) -> int | None:
    """Index into REMINDER_LEADS of the reminder due now, None before the first or once started."""
    left = starts_at - now
    if left <= timedelta(0):
        return None
    stage = None
    for n, (lead, *_) in enumerate(REMINDER_LEADS):
        if left <= lead:
            stage = n
    return stage


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def _params(tr: Tr, event: Event) -> dict[str, str]:
    return {
        "title": _esc(event.title(tr.lang)),
        "when": tr.datetime(event.starts_at),
        "place": f"\n📍 {_esc(event.location)}" if event.location else "",
    }


async def _unplanned(ctx: PlanContext, marks: list[str]) -> set[str]:
    if not marks:
        return set()
    done = set(
        (
            await ctx.session.execute(
                select(col(PlanMark.key)).where(col(PlanMark.key).in_(marks))
            )
        ).scalars()
    )
    return set(marks) - done


async def plan_event_reminders(ctx: PlanContext) -> int:
    """Reminders 1 day and 1 hour before an event or training, to everyone registered."""
    upcoming = (
        (
            await ctx.session.execute(
                select(Event).where(
                    col(Event.status) == EventStatus.PUBLISHED,
                    col(Event.starts_at) > ctx.now,
                    col(Event.starts_at) <= ctx.now + REMINDER_LEADS[0][0],
                )
            )
        )
        .scalars()
        .all()
    )
    staged: dict[str, tuple[Event, int]] = {}
    for event in upcoming:
        stage = reminder_stage(event.starts_at, ctx.now)
        if stage is not None:
            start = int(event.starts_at.timestamp())
            staged[f"event:{event.id}:{REMINDER_LEADS[stage][1]}:{start}"] = (event, stage)
    todo = await _unplanned(ctx, list(staged))
    # Rendered per event and language, then fanned out with one statement per stage (each
    # stage has its own "I want this reminder" switch): 800 events cost two, not 1,600.
    messages: list[list[dict[str, object]]] = [[] for _ in REMINDER_LEADS]
    for mark in sorted(todo):
        event, stage = staged[mark]
        _lead, _name, msgid, urgent = REMINDER_LEADS[stage]
        following = REMINDER_LEADS[stage + 1][0] if stage + 1 < len(REMINDER_LEADS) else None
        # A reminder still waiting when the next one is due, or at the start, is dropped.
        expires = event.starts_at - following if following is not None else event.starts_at
        for lang in LANGUAGES:
            tr = ctx.translator(lang)
            messages[stage].append(
                {
                    "group_id": event.id,
                    "lang": lang,
                    "text": tr.t(msgid, **_params(tr, event)),
                    "key_prefix": f"{mark}:to:",
                    "expires_at": expires,
                    "urgent": urgent,
                }
            )
    written = 0
    for stage, batch in enumerate(messages):
        written += await enqueue_staged(
            session=ctx.session,
            messages=batch,
            people=_registered_wanting(REMINDER_WANTED[stage]),
            kind="event_reminder",
            now=ctx.now,
        )
    await mark_planned(session=ctx.session, keys=sorted(todo), now=ctx.now)
    return written


def _registered_wanting(wanted: Any) -> Query:
    """(event id, telegram id, language) of everyone with a seat at a staged event who wants
    this reminder: the people of `enqueue_staged`."""
    return (
        reachable_officials()
        .with_only_columns(
            col(Registration.event_id).label("group_id"),
            col(TelegramUser.id).label("telegram_id"),
            language_expr().label("lang"),
            maintain_column_froms=True,
        )
        .join(Registration, col(Registration.official_id) == col(Official.id))
        .where(
            col(Registration.event_id).in_(staged_groups()),
            col(Registration.status) == RegistrationStatus.REGISTERED,
            col(wanted),
        )
        .distinct()
    )


async def plan_event_changes(ctx: PlanContext) -> int:
    """Time or place changed: everyone registered or waitlisted, with a fresh .ics, once."""
    changed = (
        (
            await ctx.session.execute(
                select(Event).where(
                    col(Event.status) == EventStatus.PUBLISHED,
                    col(Event.changed_at).is_not(None),
                    col(Event.starts_at) > ctx.now,
                )
            )
        )
        .scalars()
        .all()
    )
    # Marked by the moment of the change: a later title-only edit raises the sequence
    # but is no news to anyone's calendar plans.
    staged = {
        f"event:{e.id}:changed:{int(e.changed_at.timestamp())}": e
        for e in changed
        if e.changed_at is not None
    }
    todo = await _unplanned(ctx, list(staged))
    written = 0
    for mark in sorted(todo):
        event = staged[mark]
        for lang in LANGUAGES:
            tr = ctx.translator(lang)
            ics = calendar.event_ics(
                event,
                lang=lang,
                tz=tr.tz,
                now=ctx.now,
                reminder=tr.t("calendar.reminder", title=event.title(lang)),
            )
            written += await enqueue_select(
                session=ctx.session,
                recipients=for_language(registrants(event.id or 0), lang),
                text=tr.t(CHANGED, **_params(tr, event)),
                document=Document(filename=f"{event.code}.ics", content=ics),
                kind="event_changed",
                key_prefix=f"event:{event.id}:changed:{event.sequence}:to:",
                not_before=ctx.now,
                expires_at=event.starts_at,
                urgent=event.starts_at - ctx.now <= URGENT_CHANGE,
            )
    await mark_planned(session=ctx.session, keys=sorted(todo), now=ctx.now)
    return written

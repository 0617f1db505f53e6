"""/events, /trainings and /my: the catalog, cards, one-tap registration, calendar files."""

from __future__ import annotations

import logging
from typing import Any

from telegram import InlineKeyboardMarkup, InputFile, Update
from telegram.ext import BaseHandler, CommandHandler, MessageHandler, filters

from bot.context import AppContext
from bot.i18n import N_
from bot.services import calendar, events
from bot.services.events import (
    Event,
    EventCard,
    EventRenderer,
    Outcome,
    RegistrationStatus,
    is_open,
)
from bot.services.outbox import Rendered
from bot.text import ukrainian_sort_key
from handlers import events_render as render
from handlers.access_request import NEW_REQUEST
from handlers.callback_data import CATALOG, CHOICE, ID, PAGE, Callback
from handlers.certificates import DOWNLOAD
from handlers.common import answer, as_json, caller_of, inline, reply, show

log = logging.getLogger(__name__)

LIST = Callback("ev:l", (CATALOG, CHOICE, ID, PAGE))  # a page: catalog, kind, section (0: all)
KIND_MENU = Callback("ev:fk", (CATALOG, ID))  # choose a kind, keeping the section
SECTION_MENU = Callback("ev:fs", (CATALOG, CHOICE))  # choose a section, keeping the kind
OPEN = Callback("ev:o", (ID,))  # an event's card
REGISTER = Callback("ev:r", (ID,))  # register, or join the waitlist
CANCEL = Callback("ev:c", (ID,))  # give up one's seat or waitlist place
ICS = Callback("ev:i", (ID,))  # the event as a calendar file
TITLE_ON_BUTTON = 40

ANSWERS = {
    Outcome.REGISTERED: N_("reg.registered"),
    Outcome.WAITLISTED: N_("reg.waitlisted"),
    Outcome.ALREADY_REGISTERED: N_("reg.already_registered"),
    Outcome.ALREADY_WAITLISTED: N_("reg.already_waitlisted"),
    Outcome.CANCELLED: N_("reg.cancelled"),
    Outcome.NOT_REGISTERED: N_("reg.not_registered"),
    Outcome.NOT_FOUND: N_("reg.not_found"),
    Outcome.EVENT_CANCELLED: N_("reg.event_cancelled"),
    Outcome.DEADLINE_PASSED: N_("reg.deadline_passed"),
    Outcome.STARTED: N_("reg.started"),
}


def _short(title: str) -> str:
    return title if len(title) <= TITLE_ON_BUTTON else title[: TITLE_ON_BUTTON - 1] + "…"


async def _catalog(
    update: Update, context: AppContext, cat: str, kind_no: int, section_id: int, page: int
) -> None:
    tr = context.tr
    kinds = render.KINDS[cat]
    kind = kinds[kind_no - 1] if 0 < kind_no <= len(kinds) else None
    async with context.db.session() as session:
        sections = {s.id: s for s in await events.sections(session=session)}
        section = sections.get(section_id) if cat == "e" else None
        result = await events.catalog(
            session=session,
            category=render.CATEGORY[cat],
            now=context.clock.now(),
            kind=kind,
            section_id=section.id if section else None,
            page=page,
        )
    kind_no = kind_no if kind else 0
    sid = section.id if section else 0
    rows: list[list[tuple[str, str]]] = [
        [
            (
                f"{tr.datetime(item.starts_at, 'd.MM')} · {_short(item.title(tr.lang))}",
                OPEN.build(item.id),
            )
        ]
        for item in result.items
    ]
    nav = []
    if result.page > 0:
        nav.append((tr.t("events.btn.prev"), LIST.build(cat, kind_no, sid, result.page - 1)))
    if result.page + 1 < result.pages:
        nav.append((tr.t("events.btn.next"), LIST.build(cat, kind_no, sid, result.page + 1)))
    if nav:
        rows.append(nav)
    filters_row = [(tr.t("events.btn.kind"), KIND_MENU.build(cat, sid))]
    if cat == "e":
        filters_row.append((tr.t("events.btn.section"), SECTION_MENU.build(cat, kind_no)))
    rows.append(filters_row)
    section_name = tr.name(section.name_uk, section.name_en) if section is not None else None
    text = render.catalog(tr, cat, result, kind, section_name)
    await show(update, text, inline(rows))


async def show_events(update: Update, context: AppContext) -> None:
    """/events: upcoming events, soonest first."""
    await _catalog(update, context, "e", 0, 0, 0)


async def show_trainings(update: Update, context: AppContext) -> None:
    """/trainings: upcoming trainings, soonest first."""
    await _catalog(update, context, "t", 0, 0, 0)


async def on_list(update: Update, context: AppContext) -> None:
    """Another page, or the list with a filter applied."""
    cat, kind_no, section_id, page = LIST.parse(context.matches)
    await answer(update)
    await _catalog(update, context, cat, int(kind_no), int(section_id), int(page))


async def on_kind_menu(update: Update, context: AppContext) -> None:
    """Choose a kind (events) or format (trainings)."""
    cat, section = KIND_MENU.parse(context.matches)
    section_id = int(section)
    tr = context.tr
    await answer(update)
    rows = [[(tr.t("events.btn.all"), LIST.build(cat, 0, section_id, 0))]]
    rows += [
        [(render.kind_name(tr, kind), LIST.build(cat, n, section_id, 0))]
        for n, kind in enumerate(render.KINDS[cat], start=1)
    ]
    await show(update, tr.t("events.choose_kind"), inline(rows))


async def on_section_menu(update: Update, context: AppContext) -> None:
    """Choose a thematic section."""
    cat, kind = SECTION_MENU.parse(context.matches)
    kind_no = int(kind)
    tr = context.tr
    await answer(update)
    async with context.db.session() as session:
        sections = await events.sections(session=session)
    rows = [[(tr.t("events.btn.all"), LIST.build(cat, kind_no, 0, 0))]]
    named = sorted(
        ((tr.name(s.name_uk, s.name_en), s.id) for s in sections),
        key=lambda pair: ukrainian_sort_key(pair[0]),  # in the reader's alphabetical order
    )
    rows += [[(name, LIST.build(cat, kind_no, section_id, 0))] for name, section_id in named]
    await show(update, tr.t("events.choose_section"), inline(rows))


async def _card(context: AppContext, event_id: int) -> EventCard | None:
    caller = caller_of(context)
    async with context.db.session() as session:
        return await events.event_card(
            session=session,
            event_id=event_id,
            official_id=caller.link.official_id if caller.link else None,
            member_id=caller.link.member_id if caller.link else None,
        )


def _card_keyboard(context: AppContext, card: EventCard) -> InlineKeyboardMarkup:
    tr = context.tr
    e = card.event
    now = context.clock.now()
    caller = caller_of(context)
    rows: list[list[tuple[str, str]]] = []
    active = card.mine is not None and card.mine.status in (
        RegistrationStatus.REGISTERED,
        RegistrationStatus.WAITLISTED,
    )
    if active and now < e.starts_at:
        rows.append([(tr.t("card.btn.cancel"), CANCEL.build(e.id))])
    elif card.mine is None and is_open(e, now):
        if caller.link is None and not caller.is_staff:
            rows.append([(tr.t("access.btn.request"), NEW_REQUEST.build())])
        elif caller.link is not None and not (
            e.per_council_limit and card.council_active >= e.per_council_limit
        ):
            label = N_("card.btn.wait") if card.seats_left == 0 else N_("card.btn.register")
            rows.append([(tr.t(label), REGISTER.build(e.id))])
    # A cancelled event's file marks the calendar entry cancelled (same UID, higher SEQUENCE).
    rows.append([(tr.t("card.btn.calendar"), ICS.build(e.id))])
    cat = "t" if e.category == "training" else "e"
    rows.append([(tr.t("card.btn.back"), LIST.build(cat, 0, 0, 0))])
    return inline(rows)


async def _present_card(
    update: Update, context: AppContext, event_id: int, card: EventCard | None = None
) -> bool:
    card = card or await _card(context, event_id)
    if card is None:
        return False
    caller = caller_of(context)
    text = render.card(
        context.tr,
        card,
        context.clock.now(),
        linked=caller.link is not None,
        staff=caller.is_staff,
    )
    await show(update, text, _card_keyboard(context, card))
    return True


async def on_open(update: Update, context: AppContext) -> None:
    """Open an event's card."""
    (event_id,) = OPEN.numbers(context.matches)
    card = await _card(context, event_id)
    if card is None:
        await answer(update, context.tr.t("reg.not_found"), alert=True)
        return
    await answer(update)
    await _present_card(update, context, event_id, card)


def promotion_notice(context: AppContext) -> EventRenderer:
    """How a promoted person hears of their seat, in their language (for the outbox)."""

    def notice(lang: str, event: Event) -> Rendered:
        tr = context.runtime.translator(lang)
        buttons = inline([[(tr.t("card.btn.open"), OPEN.build(event.id))]])
        return Rendered(render.promoted(tr, event), as_json(buttons))

    return notice


async def on_register(update: Update, context: AppContext) -> None:
    """Register in one tap (or join the waitlist when the event is full)."""
    (event_id,) = REGISTER.numbers(context.matches)
    caller = caller_of(context)
    tr = context.tr
    if caller.link is None:
        await answer(update, tr.t("reg.link_first"), alert=True)
        await reply(
            update,
            tr.t("reg.link_first_long"),
            inline([[(tr.t("access.btn.request"), NEW_REQUEST.build())]]),
        )
        return
    async with context.db.session() as session:
        result = await events.register(
            session=session,
            event_id=event_id,
            official_id=caller.link.official_id,
            member_id=caller.link.member_id,
            now=context.clock.now(),
            render_promoted=promotion_notice(context),
        )
    if result.outcome == Outcome.COUNCIL_LIMIT:
        text = tr.tn("reg.council_limit", "reg.council_limit.plural", result.limit or 0)
    else:
        text = tr.t(ANSWERS[result.outcome], position=result.position)
    await answer(update, text, alert=result.outcome not in (Outcome.REGISTERED,))
    if result.outcome != Outcome.NOT_FOUND:
        await _present_card(update, context, event_id)


async def on_cancel(update: Update, context: AppContext) -> None:
    """Give up one's seat or waitlist place; whoever is promoted is told."""
    (event_id,) = CANCEL.numbers(context.matches)
    caller = caller_of(context)
    tr = context.tr
    if caller.link is None:
        await answer(update, tr.t("reg.not_registered"), alert=True)
        return
    async with context.db.session() as session:
        result = await events.cancel_registration(
            session=session,
            event_id=event_id,
            official_id=caller.link.official_id,
            now=context.clock.now(),
            render_promoted=promotion_notice(context),
        )
    text = tr.t(ANSWERS[result.outcome])
    await answer(update, text, alert=result.outcome != Outcome.CANCELLED)
    if result.outcome != Outcome.NOT_FOUND:
        await _present_card(update, context, event_id)


async def on_calendar(update: Update, context: AppContext) -> None:
    """Send the event as an .ics file."""
    (event_id,) = ICS.numbers(context.matches)
    tr = context.tr
    async with context.db.session() as session:
        event = await events.event_by_id(session=session, event_id=event_id)
    if event is None:
        await answer(update, tr.t("reg.not_found"), alert=True)
        return
    await answer(update)
    data = calendar.event_ics(
        event,
        lang=tr.lang,
        tz=tr.tz,
        now=context.clock.now(),
        reminder=tr.t("calendar.reminder", title=event.title(tr.lang)),
    )
    chat = update.effective_chat
    if chat is not None:
        await chat.send_document(
            InputFile(data, filename=f"{event.code}.ics"),
            caption=tr.t("calendar.caption"),
        )


async def show_my(update: Update, context: AppContext) -> None:
    """/my: my registrations and waitlist places, training hours, certificates."""
    caller = caller_of(context)
    tr = context.tr
    if caller.link is None and caller.is_staff:
        await reply(update, tr.t("my.staff_hint"))
        return
    if caller.link is None:
        await reply(
            update,
            tr.t("my.not_linked"),
            inline([[(tr.t("access.btn.request"), NEW_REQUEST.build())]]),
        )
        return
    async with context.db.session() as session:
        overview = await events.my_overview(
            session=session, official_id=caller.link.official_id, now=context.clock.now(), tz=tr.tz
        )
    rows = [[(f"{i.title(tr.lang)[:40]}", OPEN.build(i.event_id))] for i in overview.upcoming]
    rows += [
        [(tr.t("my.btn.certificate", number=c.number), DOWNLOAD.build(c.id))]
        for c in overview.certificates
    ]
    await reply(update, render.my(tr, overview), inline(rows) if rows else None)


def handlers(
    events_label: filters.BaseFilter,
    trainings_label: filters.BaseFilter,
    my_label: filters.BaseFilter,
) -> list[BaseHandler[Update, AppContext, Any]]:
    """The handlers of this feature; the labels match the menu buttons in any language."""
    message = filters.UpdateType.MESSAGE
    return [
        CommandHandler("events", show_events, filters=message),
        CommandHandler("trainings", show_trainings, filters=message),
        CommandHandler("my", show_my, filters=message),
        MessageHandler(message & events_label, show_events),
        MessageHandler(message & trainings_label, show_trainings),
        MessageHandler(message & my_label, show_my),
        LIST.handler(on_list),
        KIND_MENU.handler(on_kind_menu),
        SECTION_MENU.handler(on_section_menu),
        OPEN.handler(on_open),
        REGISTER.handler(on_register),
        CANCEL.handler(on_cancel),
        ICS.handler(on_calendar),
    ]

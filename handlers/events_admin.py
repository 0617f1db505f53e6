"""/admin for events and trainings: who comes, export, attendance, certificates, cancellation."""

from __future__ import annotations

import logging
from typing import Any

from telegram import InputFile, Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.context import AppContext
from bot.i18n import N_, Tr
from bot.services import callers, event_admin
from bot.services.event_admin import MarkOutcome, Roster
from bot.services.events import Category, Event, EventStatus, RegistrationStatus
from bot.services.outbox import Rendered
from handlers import announce, events_render
from handlers.callback_data import ID, PAGE, Callback
from handlers.certificates import bot_username, certificate_for
from handlers.common import answer, as_json, caller_of, esc, inline, reply, show
from handlers.events import ICS

log = logging.getLogger(__name__)

LIST = Callback("adm:l", (PAGE,))  # a page of the staff list
OPEN = Callback("adm:o", (ID,))  # one event: who comes, by council
EXPORT = Callback("adm:x", (ID,))  # its roster as a spreadsheet
ATTENDANCE = Callback("adm:a", (ID, PAGE))  # a page of its attendance sheet
TOGGLE = Callback("adm:p", (ID, PAGE))  # one registration present or absent; the sheet's page
ALL_PRESENT = Callback("adm:pa", (ID,))  # everyone with a seat present
CANCEL_ASK = Callback("adm:k", (ID,))  # ask before cancelling the event
CANCEL_DO = Callback("adm:kk", (ID,))  # cancel it and tell everyone
ATTENDANCE_PAGE = 15
STATUS: dict[str, str] = {
    RegistrationStatus.REGISTERED: N_("admin.status.registered"),
    RegistrationStatus.WAITLISTED: N_("admin.status.waitlisted"),
    RegistrationStatus.ATTENDED: N_("admin.status.attended"),
    RegistrationStatus.ABSENT: N_("admin.status.absent"),
}
MARK: dict[str, str] = {
    RegistrationStatus.ATTENDED: "✅",
    RegistrationStatus.ABSENT: "✖️",
    RegistrationStatus.REGISTERED: "▫️",
}
MARK_ANSWERS = {
    MarkOutcome.NOT_FOUND: N_("reg.not_found"),
    MarkOutcome.TOO_EARLY: N_("admin.too_early"),
    MarkOutcome.NOT_SEATED: N_("admin.not_seated"),
    MarkOutcome.FORBIDDEN: N_("admin.forbidden"),
    MarkOutcome.CANCELLED: N_("admin.event_cancelled"),
}


def _scope(context: AppContext) -> tuple[bool, str | None]:
    """(may use /admin, the region they are limited to): staff see all, coordinators a region."""
    caller = caller_of(context)
    match callers.scope(caller):
        case callers.Scope.ALL:
            return True, None
        case callers.Scope.REGION if caller.link is not None:
            return True, caller.link.region
    return False, None


async def _refuse(update: Update, context: AppContext) -> None:
    if update.callback_query is not None:
        await answer(update, context.tr.t("admin.only_staff"), alert=True)
    else:
        await reply(update, context.tr.t("admin.only_staff"))


async def _list(update: Update, context: AppContext, page: int) -> None:
    tr = context.tr
    async with context.db.session() as session:
        result = await event_admin.staff_list(session=session, now=context.clock.now(), page=page)
    out = [tr.t("admin.header"), ""]
    if not result.items:
        out.append(tr.t("admin.empty"))
    rows: list[list[tuple[str, str]]] = []
    for item in result.items:
        line = tr.t(
            N_("admin.item") if item.capacity is not None else N_("admin.item_open"),
            date=tr.datetime(item.starts_at, "d MMM y, HH:mm"),
            title=esc(item.title(tr.lang)),
            seated=tr.number(item.seated),
            capacity=tr.number(item.capacity or 0),
            waitlisted=tr.number(item.waitlisted),
        )
        if item.status == EventStatus.CANCELLED:
            line += " " + tr.t("admin.cancelled_mark")
        out.append(line)
        icon = "🎓" if item.category == Category.TRAINING else "📅"
        rows.append([(f"{icon} {item.title(tr.lang)[:45]}", OPEN.build(item.id))])
    nav = []
    if result.page > 0:
        nav.append((tr.t("events.btn.prev"), LIST.build(result.page - 1)))
    if result.page + 1 < result.pages:
        nav.append((tr.t("events.btn.next"), LIST.build(result.page + 1)))
    if nav:
        rows.append(nav)
    rows.append([(tr.t("announce.btn.start"), announce.START.build())])
    await show(update, "\n".join(out), inline(rows))


async def show_admin(update: Update, context: AppContext) -> None:
    """/admin: upcoming and recent events and trainings, for staff and coordinators."""
    allowed, _region = _scope(context)
    if not allowed:
        await _refuse(update, context)
        return
    await _list(update, context, 0)


async def on_list(update: Update, context: AppContext) -> None:
    """Another page of the staff list."""
    allowed, _region = _scope(context)
    if not allowed:
        await _refuse(update, context)
        return
    await answer(update)
    (page,) = LIST.numbers(context.matches)
    await _list(update, context, page)


def _roster_text(tr: Tr, roster: Roster, region: str | None) -> str:
    e = roster.event
    seated = sum(1 for x in roster.lines if x.status != RegistrationStatus.WAITLISTED)
    waiting = len(roster.lines) - seated
    out = [
        f"<b>{esc(e.title(tr.lang))}</b>",
        events_render.when(tr, e.starts_at, e.ends_at),
    ]
    if e.status == EventStatus.CANCELLED:
        out.append(tr.t("card.cancelled"))
    if region is not None:
        out.append(tr.t("admin.region_only", region=esc(region)))
    out.append(
        tr.t(
            N_("admin.totals") if e.capacity is not None else N_("admin.totals_open"),
            seated=tr.number(seated),
            capacity=tr.number(e.capacity or 0),
            waitlisted=tr.number(waiting),
        )
    )
    council = None
    for line in roster.lines:
        if line.member_code != council:
            council = line.member_code
            out += ["", f"<b>{esc(line.member_name(tr.lang))}</b>"]
        status = tr.t(STATUS.get(line.status, line.status))
        if line.waitlist_position is not None:
            status = tr.t("admin.waitlist_place", position=line.waitlist_position)
        out.append(tr.t("admin.line", name=esc(line.full_name), status=status))
    if not roster.lines:
        out += ["", tr.t("admin.nobody")]
    return "\n".join(out)


async def _roster(context: AppContext, event_id: int, region: str | None) -> Roster | None:
    async with context.db.session() as session:
        return await event_admin.roster(session=session, event_id=event_id, region=region)


async def _present_event(
    update: Update, context: AppContext, event_id: int, region: str | None
) -> bool:
    tr = context.tr
    roster = await _roster(context, event_id, region)
    if roster is None:
        return False
    e = roster.event
    rows = [[(tr.t("admin.btn.export"), EXPORT.build(event_id))]]
    if context.clock.now() >= e.starts_at and e.status == EventStatus.PUBLISHED:
        rows.append([(tr.t("admin.btn.attendance"), ATTENDANCE.build(event_id, 0))])
    if region is None and e.status == EventStatus.PUBLISHED and context.clock.now() < e.ends_at:
        rows.append([(tr.t("admin.btn.cancel_event"), CANCEL_ASK.build(event_id))])
    rows.append([(tr.t("admin.btn.back"), LIST.build(0))])
    await show(update, _roster_text(tr, roster, region), inline(rows))
    return True


async def on_open(update: Update, context: AppContext) -> None:
    """One event: registrations and the waitlist by council."""
    allowed, region = _scope(context)
    if not allowed:
        await _refuse(update, context)
        return
    (event_id,) = OPEN.numbers(context.matches)
    if await _roster(context, event_id, region) is None:
        await answer(update, context.tr.t("reg.not_found"), alert=True)
        return
    await answer(update)
    await _present_event(update, context, event_id, region)


async def on_export(update: Update, context: AppContext) -> None:
    """The roster as an XLSX document."""
    allowed, region = _scope(context)
    if not allowed:
        await _refuse(update, context)
        return
    tr = context.tr
    (event_id,) = EXPORT.numbers(context.matches)
    roster = await _roster(context, event_id, region)
    if roster is None:
        await answer(update, tr.t("reg.not_found"), alert=True)
        return
    await answer(update)
    headers = [
        tr.t(msgid)
        for msgid in (
            N_("admin.col.code"),
            N_("admin.col.council"),
            N_("admin.col.region"),
            N_("admin.col.name"),
            N_("admin.col.position"),
            N_("admin.col.phone"),
            N_("admin.col.email"),
            N_("admin.col.status"),
            N_("admin.col.waitlist"),
            N_("admin.col.registered_at"),
        )
    ]
    data = event_admin.roster_xlsx(
        roster,
        headers=headers,
        statuses={k: tr.t(v) for k, v in STATUS.items()},
        lang=tr.lang,
        tz_name=str(tr.tz),
    )
    chat = update.effective_chat
    if chat is not None:
        await chat.send_document(
            InputFile(data, filename=f"{roster.event.code}.xlsx"),
            caption=tr.t("admin.export_caption", count=len(roster.lines)),
        )


async def _attendance(
    update: Update, context: AppContext, event_id: int, page: int, region: str | None
) -> None:
    tr = context.tr
    roster = await _roster(context, event_id, region)
    if roster is None:
        await answer(update, tr.t("reg.not_found"), alert=True)
        return
    seated = [x for x in roster.lines if x.status != RegistrationStatus.WAITLISTED]
    pages = max(1, -(-len(seated) // ATTENDANCE_PAGE))
    page = min(page, pages - 1)
    shown = seated[page * ATTENDANCE_PAGE : (page + 1) * ATTENDANCE_PAGE]
    present = sum(1 for x in seated if x.status == RegistrationStatus.ATTENDED)
    text = "\n".join(
        [
            f"<b>{esc(roster.event.title(tr.lang))}</b>",
            tr.t("admin.attendance_help", present=present, total=len(seated)),
        ]
    )
    rows = [
        [
            (
                f"{MARK.get(x.status, '▫️')} {x.full_name[:28]} · {x.member_name(tr.lang)[:22]}",
                TOGGLE.build(x.registration_id, page),
            )
        ]
        for x in shown
    ]
    nav = []
    if page > 0:
        nav.append((tr.t("events.btn.prev"), ATTENDANCE.build(event_id, page - 1)))
    if page + 1 < pages:
        nav.append((tr.t("events.btn.next"), ATTENDANCE.build(event_id, page + 1)))
    if nav:
        rows.append(nav)
    if seated:
        rows.append([(tr.t("admin.btn.all_present"), ALL_PRESENT.build(event_id))])
    rows.append([(tr.t("admin.btn.back_event"), OPEN.build(event_id))])
    await show(update, text, inline(rows))


async def on_attendance(update: Update, context: AppContext) -> None:
    """The attendance sheet: one button per participant."""
    allowed, region = _scope(context)
    if not allowed:
        await _refuse(update, context)
        return
    event_id, page = ATTENDANCE.numbers(context.matches)
    await answer(update)
    await _attendance(update, context, event_id, page, region)


async def _mark(
    update: Update,
    context: AppContext,
    *,
    registration_id: int | None = None,
    event_id: int | None = None,
    page: int = 0,
) -> None:
    allowed, region = _scope(context)
    if not allowed:
        await _refuse(update, context)
        return
    tr = context.tr
    render_certificate = certificate_for(context, await bot_username(context))
    async with context.db.session() as session:
        result = await event_admin.mark_attendance(
            session=session,
            now=context.clock.now(),
            by=caller_of(context).telegram_id,
            registration_id=registration_id,
            event_id=event_id,
            region=region,
            render_certificate=render_certificate,
        )
    if result.outcome != MarkOutcome.MARKED or result.event_id is None:
        await answer(update, tr.t(MARK_ANSWERS[result.outcome]), alert=True)
        return
    sent = sum(1 for c in result.issued if c.contact is not None)
    notice = tr.t("admin.marked", changed=result.changed)
    if result.issued:
        notice += " " + tr.t("admin.certificates_sent", sent=sent, issued=len(result.issued))
    await answer(update, notice)
    await _attendance(update, context, result.event_id, page, region)


async def on_toggle(update: Update, context: AppContext) -> None:
    """Mark one participant present (or, tapped again, absent)."""
    registration_id, page = TOGGLE.numbers(context.matches)
    await _mark(update, context, registration_id=registration_id, page=page)


async def on_all_present(update: Update, context: AppContext) -> None:
    """Mark everyone with a seat present."""
    (event_id,) = ALL_PRESENT.numbers(context.matches)
    await _mark(update, context, event_id=event_id)


async def on_cancel_ask(update: Update, context: AppContext) -> None:
    """Ask before cancelling an event (admins only)."""
    allowed, region = _scope(context)
    if not allowed or region is not None:
        await _refuse(update, context)
        return
    tr = context.tr
    (event_id,) = CANCEL_ASK.numbers(context.matches)
    roster = await _roster(context, event_id, None)
    if roster is None:
        await answer(update, tr.t("reg.not_found"), alert=True)
        return
    await answer(update)
    await show(
        update,
        tr.t(
            "admin.cancel_confirm",
            title=esc(roster.event.title(tr.lang)),
            count=len(roster.lines),
        ),
        inline(
            [
                [(tr.t("admin.btn.cancel_yes"), CANCEL_DO.build(event_id))],
                [(tr.t("admin.btn.cancel_no"), OPEN.build(event_id))],
            ]
        ),
    )


async def on_cancel_do(update: Update, context: AppContext) -> None:
    """Cancel the event and tell everyone registered or waiting, each in their language."""
    allowed, region = _scope(context)
    if not allowed or region is not None:
        await _refuse(update, context)
        return
    tr = context.tr
    (event_id,) = CANCEL_DO.numbers(context.matches)

    def notice(lang: str, event: Event) -> Rendered:
        their = context.runtime.translator(lang)
        text = their.t(
            "events.cancelled_notice",
            title=esc(event.title(their.lang)),
            when=events_render.when(their, event.starts_at, event.ends_at),
        )
        buttons = inline([[(their.t("card.btn.calendar_update"), ICS.build(event.id))]])
        return Rendered(text, as_json(buttons))

    async with context.db.session() as session:
        done = await event_admin.cancel_event(
            session=session, event_id=event_id, now=context.clock.now(), render_cancelled=notice
        )
    if done is None:
        await answer(update, tr.t("reg.not_found"), alert=True)
        return
    _, told = done
    await answer(update, tr.t("admin.cancel_done", told=told))
    await _present_event(update, context, event_id, None)


def handlers() -> list[BaseHandler[Update, AppContext, Any]]:
    """The handlers of this feature."""
    return [
        CommandHandler("admin", show_admin, filters=filters.UpdateType.MESSAGE),
        LIST.handler(on_list),
        OPEN.handler(on_open),
        EXPORT.handler(on_export),
        ATTENDANCE.handler(on_attendance),
        TOGGLE.handler(on_toggle),
        ALL_PRESENT.handler(on_all_present),
        CANCEL_ASK.handler(on_cancel_ask),
        CANCEL_DO.handler(on_cancel_do),
    ]

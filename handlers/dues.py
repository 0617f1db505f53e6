"""/dues: a council's statement by year, and its payment history."""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.context import AppContext
from bot.services import callers, dues, members
from bot.services.dues import DuesStatement, PaymentPage
from handlers import render
from handlers.common import answer, caller_of, esc, inline, reply, show

YEAR = r"^dues:y:(\d{1,9}):(\d{4})$"
HISTORY = r"^dues:h:(\d{1,9}):(\d{1,4})$"
OVERVIEW = r"^dues:s:(\d{1,9})$"


YEAR_BUTTONS = 6  # the most recent years offered; older ones are reached by /dues history


def _statement_keyboard(
    context: AppContext, st: DuesStatement, *, overview: bool
) -> InlineKeyboardMarkup:
    """Buttons for the years not on screen, the payment history, and back to the overview."""
    tr = context.tr
    mid = st.member.id
    shown = {ys.year for ys in st.years}
    years = [y for y in st.all_years[-YEAR_BUTTONS:] if overview or y not in shown]
    rows = []
    if years:
        rows.append([(tr.t("dues.btn.year", year=y), f"dues:y:{mid}:{y}") for y in years])
    bottom = [(tr.t("dues.btn.history"), f"dues:h:{mid}:0")]
    if not overview:
        bottom.append((tr.t("dues.btn.overview"), f"dues:s:{mid}"))
    rows.append(bottom)
    return inline(rows)


def _history_keyboard(context: AppContext, page: PaymentPage) -> InlineKeyboardMarkup:
    tr = context.tr
    mid = page.member.id
    nav = []
    if page.page > 0:
        nav.append((tr.t("history.btn.newer"), f"dues:h:{mid}:{page.page - 1}"))
    if page.page + 1 < page.pages:
        nav.append((tr.t("history.btn.older"), f"dues:h:{mid}:{page.page + 1}"))
    rows = [nav] if nav else []
    rows.append([(tr.t("dues.btn.overview"), f"dues:s:{mid}")])
    return inline(rows)


async def _may_view(context: AppContext, member_id: int) -> bool:
    """Callback data is untrusted: re-check the caller's right to this council every time."""
    async with context.db.session() as session:
        region = await members.member_region(session=session, member_id=member_id)
    if region is None:
        return False
    return callers.may_view_member(caller_of(context), member_id=member_id, region=region)


async def _present_statement(
    update: Update, context: AppContext, member_id: int, year: int | None
) -> None:
    async with context.db.session() as session:
        st = await dues.statement(
            session=session, member_id=member_id, today=context.clock.today(), year=year
        )
    await show(
        update,
        render.dues(context.tr, st),
        _statement_keyboard(context, st, overview=year is None),
    )


async def show_dues(update: Update, context: AppContext) -> None:
    """Answer /dues (or the menu button) with the caller's council statement."""
    caller = caller_of(context)
    tr = context.tr
    args = context.args or []
    if args and (caller.is_staff or (caller.link and caller.link.role == "coordinator")):
        # Staff and coordinators may name a council: /dues 04057287
        async with context.db.session() as session:
            member = await members.member_by_code(session=session, code=args[0][:20])
        if member is None or member.id is None:
            await reply(update, tr.t("dues.no_such_member", code=esc(args[0][:20])))
            return
        if not callers.may_view_member(caller, member_id=member.id, region=member.region):
            await reply(update, tr.t("dues.forbidden"))
            return
        await _present_statement(update, context, member.id, None)
        return
    if caller.link is None and caller.is_staff:
        await reply(update, tr.t("dues.staff_hint"))
        return
    if caller.link is None:
        await reply(
            update,
            tr.t("dues.not_linked"),
            inline([[(tr.t("access.btn.request"), "acc:new")]]),
        )
        return
    await _present_statement(update, context, caller.link.member_id, None)


async def on_year(update: Update, context: AppContext) -> None:
    """Page to another year."""
    assert context.matches is not None  # noqa: S101 - set by the pattern
    member_id, year = int(context.matches[0].group(1)), int(context.matches[0].group(2))
    if not await _may_view(context, member_id):
        await answer(update, context.tr.t("dues.forbidden"), alert=True)
        return
    await answer(update)
    await _present_statement(update, context, member_id, year)


async def on_overview(update: Update, context: AppContext) -> None:
    """Back to this year and the unpaid years."""
    assert context.matches is not None  # noqa: S101 - set by the pattern
    member_id = int(context.matches[0].group(1))
    if not await _may_view(context, member_id):
        await answer(update, context.tr.t("dues.forbidden"), alert=True)
        return
    await answer(update)
    await _present_statement(update, context, member_id, None)


async def on_history(update: Update, context: AppContext) -> None:
    """Open a page of the payment history."""
    assert context.matches is not None  # noqa: S101 - set by the pattern
    member_id, page_no = int(context.matches[0].group(1)), int(context.matches[0].group(2))
    if not await _may_view(context, member_id):
        await answer(update, context.tr.t("dues.forbidden"), alert=True)
        return
    await answer(update)
    async with context.db.session() as session:
        page = await dues.payment_history(session=session, member_id=member_id, page=page_no)
    await show(update, render.payments(context.tr, page), _history_keyboard(context, page))


def handlers(menu_label: filters.BaseFilter) -> list[BaseHandler[Update, AppContext, Any]]:
    """The handlers of this feature; `menu_label` matches the menu button in any language."""
    return [
        CommandHandler("dues", show_dues, filters=filters.UpdateType.MESSAGE),
        MessageHandler(filters.UpdateType.MESSAGE & menu_label, show_dues),
        CallbackQueryHandler(on_year, pattern=YEAR),
        CallbackQueryHandler(on_overview, pattern=OVERVIEW),
        CallbackQueryHandler(on_history, pattern=HISTORY),
    ]

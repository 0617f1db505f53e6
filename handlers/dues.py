"""/dues: a council's statement by year, and its payment history."""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CommandHandler, MessageHandler, filters

from bot.context import AppContext
from bot.services import callers, dues, members
from bot.services.dues import DuesStatement, PaymentPage
from handlers import render
from handlers.access_request import NEW_REQUEST
from handlers.callback_data import ID, PAGE, YEAR, Callback
from handlers.common import answer, caller_of, esc, inline, reply, show

YEAR_PAGE = Callback("dues:y", (ID, YEAR))  # a council's statement for one year
HISTORY = Callback("dues:h", (ID, PAGE))  # a page of its payment history
OVERVIEW = Callback("dues:s", (ID,))  # back to the current year and the unpaid ones

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
        rows.append([(tr.t("dues.btn.year", year=y), YEAR_PAGE.build(mid, y)) for y in years])
    bottom = [(tr.t("dues.btn.history"), HISTORY.build(mid, 0))]
    if not overview:
        bottom.append((tr.t("dues.btn.overview"), OVERVIEW.build(mid)))
    rows.append(bottom)
    return inline(rows)


def _history_keyboard(context: AppContext, page: PaymentPage) -> InlineKeyboardMarkup:
    tr = context.tr
    mid = page.member.id
    nav = []
    if page.page > 0:
        nav.append((tr.t("history.btn.newer"), HISTORY.build(mid, page.page - 1)))
    if page.page + 1 < page.pages:
        nav.append((tr.t("history.btn.older"), HISTORY.build(mid, page.page + 1)))
    rows = [nav] if nav else []
    rows.append([(tr.t("dues.btn.overview"), OVERVIEW.build(mid))])
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
    code = args[0][:20] if args else None
    if code is not None and callers.may_name_council(caller):
        # Staff and coordinators may name a council: /dues 04057287
        if not members.is_edrpou(code):
            await reply(update, tr.t("dues.bad_code", code=esc(code)))
            return
        async with context.db.session() as session:
            member = await members.member_by_code(session=session, code=code)
        if member is None or member.id is None:
            await reply(update, tr.t("dues.no_such_member", code=esc(code)))
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
            inline([[(tr.t("access.btn.request"), NEW_REQUEST.build())]]),
        )
        return
    if code is not None and code != caller.link.member_code:
        await reply(update, tr.t("dues.own_only"))
        return
    await _present_statement(update, context, caller.link.member_id, None)


async def on_year(update: Update, context: AppContext) -> None:
    """Page to another year."""
    member_id, year = YEAR_PAGE.numbers(context.matches)
    if not await _may_view(context, member_id):
        await answer(update, context.tr.t("dues.forbidden"), alert=True)
        return
    await answer(update)
    await _present_statement(update, context, member_id, year)


async def on_overview(update: Update, context: AppContext) -> None:
    """Back to this year and the unpaid years."""
    (member_id,) = OVERVIEW.numbers(context.matches)
    if not await _may_view(context, member_id):
        await answer(update, context.tr.t("dues.forbidden"), alert=True)
        return
    await answer(update)
    await _present_statement(update, context, member_id, None)


async def on_history(update: Update, context: AppContext) -> None:
    """Open a page of the payment history."""
    member_id, page_no = HISTORY.numbers(context.matches)
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
        YEAR_PAGE.handler(on_year),
        OVERVIEW.handler(on_overview),
        HISTORY.handler(on_history),
    ]

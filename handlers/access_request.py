"""Access requests: a stranger finds their council by name, staff approve or deny with one tap."""

from __future__ import annotations

import logging
import warnings
from typing import Any

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.context import AppContext
from bot.i18n import N_
from bot.services import access_requests, members, staff
from bot.services.access_requests import DecisionOutcome, RequestOutcome
from bot.text import clean_line
from handlers import render
from handlers.common import answer, caller_of, esc, inline, menu, reply, show

log = logging.getLogger(__name__)

SEARCH, NAME, POSITION = range(3)
CHOOSE = r"^acc:m:(\d{1,9})$"
DECIDE = r"^acc:(ok|no):(\d{1,9})$"
MIN_TEXT, MAX_TEXT = 2, access_requests.MAX_NAME
TIMEOUT = 30 * 60  # seconds a half-filled request waits for the next answer


async def begin(update: Update, context: AppContext) -> int:
    """Ask for part of the council's name."""
    await answer(update)
    caller = caller_of(context)
    tr = context.tr
    if caller.link is not None:
        name = caller.link.member_name_en if tr.lang == "en" else caller.link.member_name_uk
        await reply(update, tr.t("access.already_linked", name=esc(name)))
        return ConversationHandler.END
    context.user_data.pop("access", None)  # type: ignore[union-attr]
    await reply(update, tr.t("access.ask_council"))
    return SEARCH


async def search(update: Update, context: AppContext) -> int:
    """Offer the councils whose name contains what was typed."""
    tr = context.tr
    key = _field(update)
    if len(key) < members.MIN_QUERY:
        await reply(update, tr.t("access.query_short", n=members.MIN_QUERY))
        return SEARCH
    if len(key) > members.MAX_QUERY:
        await reply(update, tr.t("access.query_long", n=members.MAX_QUERY))
        return SEARCH
    async with context.db.session() as session:
        found = await members.find_members(session=session, query=key)
    if not found:
        await reply(update, tr.t("access.not_found", query=esc(key)))
        return SEARCH
    await reply(
        update,
        render.matches(tr, found),
        inline([[(f"{m.name(tr.lang)} ({m.region})", f"acc:m:{m.id}")] for m in found]),
    )
    return SEARCH


async def choose(update: Update, context: AppContext) -> int:
    """Remember the council that was tapped and ask for the person's name."""
    assert context.matches is not None  # noqa: S101 - set by the pattern
    member_id = int(context.matches[0].group(1))
    async with context.db.session() as session:
        region = await members.member_region(session=session, member_id=member_id)
    if region is None:
        await answer(update, context.tr.t("fallback.stale_button"), alert=True)
        return SEARCH
    await answer(update)
    context.user_data["access"] = {"member_id": member_id}  # type: ignore[index]
    await show(update, context.tr.t("access.ask_name"))
    return NAME


def _field(update: Update) -> str:
    """The message text as one clean line (no control characters, folded spaces)."""
    return clean_line((update.effective_message.text if update.effective_message else None) or "")


async def take_name(update: Update, context: AppContext) -> int:
    """Take the full name and ask for the position."""
    value = _field(update)
    if not MIN_TEXT <= len(value) <= MAX_TEXT:
        await reply(update, context.tr.t("access.bad_text", low=MIN_TEXT, high=MAX_TEXT))
        return NAME
    context.user_data.setdefault("access", {})["full_name"] = value  # type: ignore[union-attr]
    await reply(update, context.tr.t("access.ask_position"))
    return POSITION


async def take_position(update: Update, context: AppContext) -> int:
    """File the request and tell staff."""
    tr = context.tr
    value = _field(update)
    if not MIN_TEXT <= len(value) <= MAX_TEXT:
        await reply(update, tr.t("access.bad_text", low=MIN_TEXT, high=MAX_TEXT))
        return POSITION
    draft = context.user_data.pop("access", {})  # type: ignore[union-attr]
    if "member_id" not in draft or "full_name" not in draft:
        await reply(update, tr.t("access.expired"))
        return ConversationHandler.END
    caller = caller_of(context)
    async with context.db.session() as session:
        result = await access_requests.request_access(
            session=session,
            telegram_id=caller.telegram_id,
            member_id=draft["member_id"],
            full_name=draft["full_name"],
            position=value,
            now=context.clock.now(),
        )
        contacts = await staff.staff_contacts(
            session=session, admin_ids=context.runtime.settings.admin_ids
        )
    name = result.member_name_en if tr.lang == "en" else result.member_name_uk
    if result.outcome == RequestOutcome.ALREADY_PENDING:
        await reply(update, tr.t("access.pending", name=esc(name)))
        return ConversationHandler.END
    if result.outcome == RequestOutcome.ALREADY_LINKED:
        await reply(update, tr.t("access.already_linked", name=esc(name)))
        return ConversationHandler.END
    if result.outcome == RequestOutcome.TOO_MANY:
        await reply(update, tr.t("access.too_many", n=access_requests.MAX_PENDING_REQUESTS))
        return ConversationHandler.END
    if result.outcome == RequestOutcome.NO_MEMBER:
        await reply(update, tr.t("access.expired"))
        return ConversationHandler.END
    await reply(update, tr.t("access.sent", name=esc(name)), menu(tr, caller))
    user = update.effective_user
    username = f"@{user.username}" if user and user.username else str(caller.telegram_id)
    for contact in contacts:
        st = context.runtime.translator(contact.language)
        text = st.t(
            "access.staff_new",
            id=result.request_id,
            full_name=esc(draft["full_name"]),
            position=esc(value),
            member=esc(result.member_name_en if st.lang == "en" else result.member_name_uk),
            region=esc(result.region),
            telegram=esc(username),
        )
        buttons = inline(
            [
                [
                    (st.t("access.btn.approve"), f"acc:ok:{result.request_id}"),
                    (st.t("access.btn.deny"), f"acc:no:{result.request_id}"),
                ]
            ]
        )
        try:
            await context.bot.send_message(
                contact.telegram_id, text, parse_mode="HTML", reply_markup=buttons
            )
        except TelegramError as exc:  # blocked us, never started the bot, network
            # One unreachable staff member must not stop the others from hearing of it.
            log.warning(
                "could not notify staff %s of request %s: %s",
                contact.telegram_id,
                result.request_id,
                exc,
            )
    if not contacts:
        log.warning(
            "access request %s filed, but no staff is configured (ADMIN_IDS)", result.request_id
        )
    return ConversationHandler.END


async def cancel(update: Update, context: AppContext) -> int:
    """Drop the half-filled request."""
    context.user_data.pop("access", None)  # type: ignore[union-attr]
    await reply(update, context.tr.t("cancel.done"), menu(context.tr, context.caller))
    return ConversationHandler.END


async def decide(update: Update, context: AppContext) -> None:
    """A staff tap on approve or deny; the requester hears the outcome in their language."""
    caller = caller_of(context)
    tr = context.tr
    if not caller.is_staff:
        await answer(update, tr.t("access.staff_only"), alert=True)
        return
    assert context.matches is not None  # noqa: S101 - set by the pattern
    approve = context.matches[0].group(1) == "ok"
    request_id = int(context.matches[0].group(2))
    async with context.db.session() as session:
        decision = await access_requests.decide_access_request(
            session=session,
            request_id=request_id,
            approve=approve,
            staff_id=caller.telegram_id,
            now=context.clock.now(),
        )
    if decision.outcome == DecisionOutcome.NOT_FOUND:
        await answer(update, tr.t("fallback.stale_button"), alert=True)
        return
    if decision.outcome == DecisionOutcome.ALREADY_DECIDED:
        await answer(update, tr.t("access.already_decided"), alert=True)
        return
    await answer(update)
    member = decision.member_name_en if tr.lang == "en" else decision.member_name_uk
    await show(
        update,
        tr.t(
            N_("access.staff_approved") if approve else N_("access.staff_denied"),
            id=request_id,
            full_name=esc(decision.full_name),
            position=esc(decision.position),
            member=esc(member),
        ),
    )
    rt = context.runtime.translator(decision.requester_language)
    name = decision.member_name_en if rt.lang == "en" else decision.member_name_uk
    text = rt.t(N_("access.you_approved") if approve else N_("access.you_denied"), name=esc(name))
    try:
        await context.bot.send_message(
            decision.requester_id, text, parse_mode="HTML", reply_markup=menu(rt, approve)
        )
    except TelegramError as exc:
        log.warning(
            "could not tell %s about request %s: %s", decision.requester_id, request_id, exc
        )


def handlers(menu_label: filters.BaseFilter) -> list[BaseHandler[Update, AppContext, Any]]:
    """The conversation and the staff decision buttons."""
    text = filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():
        # A CallbackQueryHandler inside a per-chat conversation is exactly what we want here.
        warnings.simplefilter("ignore", PTBUserWarning)
        conversation: ConversationHandler[AppContext] = ConversationHandler(
            entry_points=[
                MessageHandler(filters.UpdateType.MESSAGE & menu_label, begin),
                CallbackQueryHandler(begin, pattern=r"^acc:new$"),
            ],
            states={
                SEARCH: [
                    CallbackQueryHandler(choose, pattern=CHOOSE),
                    MessageHandler(text, search),
                ],
                NAME: [MessageHandler(text, take_name)],
                POSITION: [MessageHandler(text, take_position)],
            },
            fallbacks=[CommandHandler("cancel", cancel)],
            conversation_timeout=TIMEOUT,
            allow_reentry=True,
            name="access_request",
        )
    return [conversation, CallbackQueryHandler(decide, pattern=DECIDE)]

"""Access requests: a stranger finds their council by name, staff approve or deny with one tap."""

from __future__ import annotations

import logging
import warnings
from typing import Any

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.helpers import mention_html
from telegram.warnings import PTBUserWarning

from bot.context import AccessDraft, AppContext
from bot.i18n import N_, Tr
from bot.regions import region_name
from bot.services import access_requests, members, staff
from bot.services.access_requests import Decision, DecisionOutcome, RequestOutcome, RequestResult
from bot.services.outbox import Rendered
from bot.text import clean_line
from handlers import render
from handlers.callback_data import DECISION, ID, Callback
from handlers.common import answer, as_json, caller_of, esc, inline, menu, reply, show

log = logging.getLogger(__name__)

SEARCH, NAME, POSITION = range(3)
NEW_REQUEST = Callback("acc:new")  # start a request (offered to strangers who ask for dues)
CHOOSE = Callback("acc:m", (ID,))  # the council found by name
DECIDE = Callback("acc", (DECISION, ID))  # staff approve (ok) or deny (no) a request
MIN_TEXT, MAX_TEXT = 2, access_requests.MAX_NAME
CONVERSATION = "access_request"
TIMEOUT = 30 * 60  # seconds a half-filled request waits for the next answer


def _too_many(tr: Tr) -> str:
    limit = access_requests.MAX_PENDING_REQUESTS
    return tr.tn("access.too_many", "access.too_many.plural", limit)


async def begin(update: Update, context: AppContext) -> int:
    """Ask for part of the council's name, unless the caller may not file a request now."""
    await answer(update)
    caller = caller_of(context)
    tr = context.tr
    if caller.link is not None:
        name = tr.name(caller.link.member_name_uk, caller.link.member_name_en)
        await reply(update, tr.t("access.already_linked", name=esc(name)))
        return ConversationHandler.END
    async with context.db.session() as session:
        too_many = await access_requests.too_many_pending(
            session=session, telegram_id=caller.telegram_id
        )
    if too_many:  # say so now, not after they typed everything
        await reply(update, _too_many(tr))
        return ConversationHandler.END
    context.data.access_draft = None
    await reply(update, tr.t("access.ask_council"))
    return SEARCH


async def search(update: Update, context: AppContext) -> int:
    """Offer the councils whose name contains what was typed."""
    tr = context.tr
    key = _field(update)
    if len(key) < members.MIN_QUERY:
        await reply(
            update, tr.tn("access.query_short", "access.query_short.plural", members.MIN_QUERY)
        )
        return SEARCH
    if len(key) > members.MAX_QUERY:
        await reply(
            update,
            tr.tn("access.query_long", "access.query_long.plural", members.MAX_QUERY),
        )
        return SEARCH
    async with context.db.session() as session:
        found = await members.find_members(session=session, query=key, lang=tr.lang)
    if not found.total:
        await reply(update, tr.t("access.not_found", query=esc(key)))
        return SEARCH
    await reply(
        update,
        render.matches(tr, found),
        inline(
            [
                [
                    (
                        f"{tr.name(m.name_uk, m.name_en)} ({region_name(tr, m.region)})",
                        CHOOSE.build(m.id),
                    )
                ]
                for m in found.matches
            ]
        ),
    )
    return SEARCH


async def choose(update: Update, context: AppContext) -> int:
    """Remember the council that was tapped and ask for the person's name."""
    (member_id,) = CHOOSE.numbers(context.matches)
    async with context.db.session() as session:
        region = await members.member_region(session=session, member_id=member_id)
    if region is None:
        await answer(update, context.tr.t("fallback.stale_button"), alert=True)
        return SEARCH
    await answer(update)
    context.data.access_draft = AccessDraft(member_id=member_id)
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
    draft = context.data.access_draft
    if draft is None:
        await reply(update, context.tr.t("access.expired"))
        return ConversationHandler.END
    draft.full_name = value
    await reply(update, context.tr.t("access.ask_position"))
    return POSITION


async def take_position(update: Update, context: AppContext) -> int:
    """File the request and tell staff."""
    tr = context.tr
    value = _field(update)
    if not MIN_TEXT <= len(value) <= MAX_TEXT:
        await reply(update, tr.t("access.bad_text", low=MIN_TEXT, high=MAX_TEXT))
        return POSITION
    draft, context.data.access_draft = context.data.access_draft, None
    if draft is None or draft.full_name is None:
        await reply(update, tr.t("access.expired"))
        return ConversationHandler.END
    caller = caller_of(context)
    user = update.effective_user
    # Staff see who wrote, with a link that opens the chat, not just a number.
    telegram = mention_html(
        caller.telegram_id, user.full_name if user else str(caller.telegram_id)
    )
    if user and user.username:
        telegram += " " + esc(f"@{user.username}")
    full_name = draft.full_name

    def staff_notice(lang: str, filed: RequestResult) -> Rendered:
        st = context.runtime.translator(lang)
        text = st.t(
            "access.staff_new",
            id=filed.request_id,
            full_name=esc(full_name),
            position=esc(value),
            member=esc(st.name(filed.member_name_uk, filed.member_name_en)),
            region=esc(region_name(st, filed.region)),
            telegram=telegram,
        )
        buttons = inline(
            [
                [
                    (st.t("access.btn.approve"), DECIDE.build("ok", filed.request_id)),
                    (st.t("access.btn.deny"), DECIDE.build("no", filed.request_id)),
                ]
            ]
        )
        return Rendered(text, as_json(buttons))

    admin_ids = context.runtime.settings.admin_ids
    async with context.db.session() as session:
        result = await access_requests.request_access(
            session=session,
            telegram_id=caller.telegram_id,
            member_id=draft.member_id,
            full_name=draft.full_name,
            position=value,
            now=context.clock.now(),
            admin_ids=admin_ids,
            render_staff=staff_notice,
        )
        contacts = await staff.staff_contacts(session=session, admin_ids=admin_ids)
    name = tr.name(result.member_name_uk, result.member_name_en)
    if result.outcome == RequestOutcome.ALREADY_PENDING:
        await reply(update, tr.t("access.pending", name=esc(name)))
        return ConversationHandler.END
    if result.outcome == RequestOutcome.ALREADY_LINKED:
        await reply(update, tr.t("access.already_linked", name=esc(name)))
        return ConversationHandler.END
    if result.outcome == RequestOutcome.TOO_MANY:
        await reply(update, _too_many(tr))
        return ConversationHandler.END
    if result.outcome == RequestOutcome.NO_MEMBER:
        await reply(update, tr.t("access.expired"))
        return ConversationHandler.END
    await reply(update, tr.t("access.sent", name=esc(name)), menu(tr, caller))
    if not contacts:
        log.warning(
            "access request %s filed, but no staff is configured (ADMIN_IDS)", result.request_id
        )
    return ConversationHandler.END


async def cancel(update: Update, context: AppContext) -> int:
    """Drop the half-filled request."""
    context.data.access_draft = None
    await reply(update, context.tr.t("cancel.done"), menu(context.tr, context.caller))
    return ConversationHandler.END


async def decide(update: Update, context: AppContext) -> None:
    """A staff tap on approve or deny; the requester hears the outcome in their language."""
    caller = caller_of(context)
    tr = context.tr
    if not caller.is_staff:
        await answer(update, tr.t("access.staff_only"), alert=True)
        return
    verdict, request_id_text = DECIDE.parse(context.matches)
    approve, request_id = verdict == "ok", int(request_id_text)

    def requester_notice(decided: Decision) -> Rendered:
        rt = context.runtime.translator(decided.requester_language)
        name = rt.name(decided.member_name_uk, decided.member_name_en)
        text = rt.t(
            N_("access.you_approved") if approve else N_("access.you_denied"), name=esc(name)
        )
        return Rendered(text, as_json(menu(rt, approve)))

    async with context.db.session() as session:
        decision = await access_requests.decide_access_request(
            session=session,
            request_id=request_id,
            approve=approve,
            staff_id=caller.telegram_id,
            now=context.clock.now(),
            render_decision=requester_notice,
        )
    if decision.outcome == DecisionOutcome.NOT_FOUND:
        await answer(update, tr.t("fallback.stale_button"), alert=True)
        return
    if decision.outcome == DecisionOutcome.ALREADY_DECIDED:
        await answer(update, tr.t("access.already_decided"), alert=True)
        return
    await answer(update)
    member = tr.name(decision.member_name_uk, decision.member_name_en)
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


async def leave(update: Update, context: AppContext) -> int:
    """A command or a menu button during the request: never an answer. Drop the request and
    do what was asked, as if no request had been in progress."""
    context.data.access_draft = None
    app = context.application
    group: list[BaseHandler[Any, Any, Any]] = app.handlers.get(0, [])
    for handler in group:
        if isinstance(handler, ConversationHandler) and handler.name == CONVERSATION:
            continue
        check = handler.check_update(update)
        if check is not None and check is not False:
            try:
                await handler.handle_update(update, app, check, context)
            except Exception as exc:  # reported like any failure; the request ends regardless
                await app.process_error(update, exc)
            break
    return ConversationHandler.END


def handlers(
    menu_label: filters.BaseFilter, any_menu_label: filters.BaseFilter
) -> list[BaseHandler[Update, AppContext, Any]]:
    """The conversation and the staff decision buttons; `any_menu_label` matches every button
    of the menu keyboard, which stays on screen during the conversation."""
    answer_text = filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND & ~any_menu_label
    with warnings.catch_warnings():
        # A CallbackQueryHandler inside a per-chat conversation is exactly what we want here.
        warnings.simplefilter("ignore", PTBUserWarning)
        conversation: ConversationHandler[AppContext] = ConversationHandler(
            entry_points=[
                MessageHandler(filters.UpdateType.MESSAGE & menu_label, begin),
                NEW_REQUEST.handler(begin),
            ],
            states={
                SEARCH: [
                    CHOOSE.handler(choose),
                    MessageHandler(answer_text, search),
                ],
                NAME: [MessageHandler(answer_text, take_name)],
                POSITION: [MessageHandler(answer_text, take_position)],
            },
            fallbacks=[
                CommandHandler("cancel", cancel),
                MessageHandler(
                    filters.UpdateType.MESSAGE & (filters.COMMAND | any_menu_label), leave
                ),
            ],
            conversation_timeout=TIMEOUT,
            allow_reentry=True,
            name=CONVERSATION,
        )
    return [conversation, DECIDE.handler(decide)]

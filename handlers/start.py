"""/start: the welcome, and linking an account with an invite code from a deep link."""

from __future__ import annotations

import re
from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.context import AppContext
from bot.i18n import N_, Tr
from bot.services import callers, certificates, invites
from bot.services.invites import InviteOutcome, Redeemed
from handlers import render
from handlers.callback_data import INVITE_CODE, Callback
from handlers.certificates import verify as verify_certificate
from handlers.common import answer, caller_of, esc, inline, menu, reply, show

# Telegram deep-link payloads: up to 64 characters of A-Z, a-z, 0-9, _ and -.
PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FAILED = {
    InviteOutcome.EXPIRED: N_("start.invite_expired"),
    InviteOutcome.USED: N_("start.invite_used"),
    InviteOutcome.UNKNOWN: N_("start.invite_unknown"),
}
SWITCH = Callback("inv:sw", (INVITE_CODE,))  # yes, move me to the invite's council
KEEP = Callback("inv:keep")  # no, keep my council
# What the bot does, one line each, in the welcome; a feature that lands adds its line here.
WELCOME_FEATURES = [N_("start.feature.dues"), N_("start.programme")]


async def _profile(update: Update) -> callers.Profile:
    user = update.effective_user
    assert user is not None  # noqa: S101 - the gate stops updates without a user
    return callers.Profile(
        telegram_id=user.id,
        first_name=user.first_name or "",
        last_name=user.last_name,
        username=user.username,
        language_code=user.language_code,
    )


def _welcome(tr: Tr, caller: callers.Caller) -> str:
    if caller.link:
        linked = tr.t(
            "start.welcome_linked",
            name=esc(tr.name(caller.link.member_name_uk, caller.link.member_name_en)),
            role=render.role(tr, caller.link.role),
        )
        return "\n\n".join([linked, tr.t("start.programme")])
    if caller.is_staff:
        return "\n\n".join([tr.t("start.welcome_staff"), tr.t("start.programme")])
    features = "\n".join(tr.t(msgid) for msgid in WELCOME_FEATURES)
    return "\n\n".join([tr.t("start.welcome"), features, tr.t("start.how_to_join")])


async def _redeem(update: Update, context: AppContext, code: str, *, switch: bool) -> Redeemed:
    """Redeem the code; on success the caller is identified afresh (new link, new rights)."""
    profile = await _profile(update)
    async with context.db.session() as session:
        result = (
            await invites.redeem_invite(
                session=session, code=code, profile=profile, now=context.clock.now(), switch=switch
            )
            if PAYLOAD.match(code)
            else invites.Redeemed(InviteOutcome.UNKNOWN)
        )
        if result.outcome == InviteOutcome.LINKED:
            context.caller = await callers.identify(
                session=session,
                profile=profile,
                now=context.clock.now(),
                admin_ids=context.runtime.settings.admin_ids,
            )
    return result


def _linked_text(tr: Tr, result: Redeemed) -> str:
    name = tr.name(result.member_name_uk, result.member_name_en)
    msgid = {
        InviteOutcome.LINKED: N_("start.linked"),
        InviteOutcome.ALREADY_LINKED: N_("start.already_linked"),
        InviteOutcome.SAME_COUNCIL: N_("start.same_council"),
    }[result.outcome]
    return tr.t(msgid, name=esc(name), role=render.role(tr, result.role))


async def start(update: Update, context: AppContext) -> None:
    """Greet the caller; with an invite code, link their account first."""
    caller = caller_of(context)
    code = (context.args or [""])[0]
    if not code:
        await reply(update, _welcome(context.tr, caller), menu(context.tr, caller))
        return
    if code.startswith(certificates.VERIFY_PREFIX):  # the QR code on a certificate
        await verify_certificate(update, context, code.removeprefix(certificates.VERIFY_PREFIX))
        return
    result = await _redeem(update, context, code, switch=False)
    tr = context.tr
    if result.outcome in FAILED:
        await reply(update, tr.t(FAILED[result.outcome]), menu(tr, context.caller))
        return
    if result.outcome == InviteOutcome.CONFIRM_SWITCH and result.current is not None:
        current = result.current
        text = tr.t(
            "start.confirm_switch",
            current=esc(tr.name(current.member_name_uk, current.member_name_en)),
            current_role=render.role(tr, current.role),
            name=esc(tr.name(result.member_name_uk, result.member_name_en)),
            role=render.role(tr, result.role),
        )
        buttons = inline(
            [
                [
                    (tr.t("start.btn.switch"), SWITCH.build(code)),
                    (tr.t("start.btn.keep"), KEEP.build()),
                ]
            ]
        )
        await reply(update, text, buttons)
        return
    await reply(update, _linked_text(tr, result), menu(tr, context.caller))


async def on_switch(update: Update, context: AppContext) -> None:
    """The caller confirmed moving to the invite's council; the invite is checked again."""
    (code,) = SWITCH.parse(context.matches)
    result = await _redeem(update, context, code, switch=True)
    tr = context.tr
    if result.outcome == InviteOutcome.UNKNOWN:  # forged, or the invite was deleted
        await answer(update, tr.t("fallback.stale_button"), alert=True)
        return
    if result.outcome in FAILED:
        await answer(update, tr.t(FAILED[result.outcome]), alert=True)
        return
    await answer(update)
    await show(update, _linked_text(tr, result))
    if result.outcome == InviteOutcome.LINKED:
        await reply(update, tr.t("start.menu_updated"), menu(tr, context.caller))


async def on_keep(update: Update, context: AppContext) -> None:
    """The caller keeps their council; the invite stays unused."""
    await answer(update)
    await show(update, context.tr.t("start.kept"))


def handlers() -> list[BaseHandler[Update, AppContext, Any]]:
    """The handlers of this feature."""
    return [
        CommandHandler("start", start, filters=filters.UpdateType.MESSAGE),
        SWITCH.handler(on_switch),
        KEEP.handler(on_keep),
    ]

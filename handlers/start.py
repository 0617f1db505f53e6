"""/start: the welcome, and linking an account with an invite code from a deep link."""

from __future__ import annotations

import re
from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.context import AppContext
from bot.i18n import N_
from bot.services import callers, certificates, invites
from bot.services.invites import InviteOutcome
from handlers import render
from handlers.certificates import verify as verify_certificate
from handlers.common import caller_of, esc, menu, reply

# Telegram deep-link payloads: up to 64 characters of A-Z, a-z, 0-9, _ and -.
PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FAILED = {
    InviteOutcome.EXPIRED: N_("start.invite_expired"),
    InviteOutcome.USED: N_("start.invite_used"),
    InviteOutcome.UNKNOWN: N_("start.invite_unknown"),
}


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


async def start(update: Update, context: AppContext) -> None:
    """Greet the caller; with an invite code, link their account first."""
    caller = caller_of(context)
    code = (context.args or [""])[0]
    if not code:
        tr = context.tr
        if caller.link:
            text = tr.t(
                "start.welcome_linked",
                name=esc(
                    caller.link.member_name_en if tr.lang == "en" else caller.link.member_name_uk
                ),
                role=render.role(tr, caller.link.role),
            )
        elif caller.is_staff:
            text = tr.t("start.welcome_staff")
        else:
            text = tr.t("start.welcome_stranger")
        text += "\n\n" + tr.t("start.programme")
        await reply(update, text, menu(tr, caller))
        return

    if code.startswith(certificates.VERIFY_PREFIX):  # the QR code on a certificate
        await verify_certificate(update, context, code.removeprefix(certificates.VERIFY_PREFIX))
        return
    profile = await _profile(update)
    async with context.db.session() as session:
        result = (
            await invites.redeem_invite(
                session=session, code=code, profile=profile, now=context.clock.now()
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
    tr = context.tr
    if result.outcome in FAILED:
        await reply(update, tr.t(FAILED[result.outcome]), menu(tr, context.caller))
        return
    name = result.member_name_en if tr.lang == "en" else result.member_name_uk
    linked = result.outcome == InviteOutcome.LINKED
    msgid = N_("start.linked") if linked else N_("start.already_linked")
    await reply(
        update,
        tr.t(msgid, name=esc(name), role=render.role(tr, result.role)),
        menu(tr, context.caller),
    )


def handlers() -> list[BaseHandler[Update, AppContext, Any]]:
    """The handlers of this feature."""
    return [CommandHandler("start", start, filters=filters.UpdateType.MESSAGE)]

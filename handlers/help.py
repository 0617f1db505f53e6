"""/help and /cancel outside a conversation."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, MessageHandler, filters

from bot.context import AppContext
from bot.i18n import N_
from bot.regions import region_name
from bot.services import callers
from bot.services.callers import Scope
from handlers.common import caller_of, esc, menu, reply

# What each role may do, in the words of /help.
BY_SCOPE = {
    Scope.NONE: N_("help.stranger"),
    Scope.OWN: N_("help.official"),
    Scope.REGION: N_("help.coordinator"),
    Scope.ALL: N_("help.staff"),
}


async def show_help(update: Update, context: AppContext) -> None:
    """Explain what the caller can do, by who they are."""
    caller = caller_of(context)
    tr = context.tr
    link = caller.link
    name = esc(tr.name(link.member_name_uk, link.member_name_en)) if link else ""
    region = esc(region_name(tr, link.region)) if link else ""
    scope = callers.scope(caller)
    parts = [tr.t("help.intro"), tr.t(BY_SCOPE[scope], name=name, region=region)]
    if scope == Scope.ALL and link is not None:
        parts.append(tr.t("help.staff_linked", name=name))
    parts.append(tr.t("help.programme"))
    if scope in (Scope.REGION, Scope.ALL):
        parts.append(tr.t("help.admin_events"))
    parts.append(tr.t("help.commands"))
    await reply(update, "\n\n".join(parts), menu(tr, caller))


async def cancel(update: Update, context: AppContext) -> None:
    """/cancel when nothing is in progress."""
    await reply(update, context.tr.t("cancel.nothing"), menu(context.tr, context.caller))


def handlers(menu_label: filters.BaseFilter) -> list[BaseHandler[Update, AppContext, Any]]:
    """The handlers of this feature."""
    return [
        CommandHandler("help", show_help, filters=filters.UpdateType.MESSAGE),
        MessageHandler(filters.UpdateType.MESSAGE & menu_label, show_help),
        CommandHandler("cancel", cancel, filters=filters.UpdateType.MESSAGE),
    ]

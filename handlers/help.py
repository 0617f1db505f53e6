"""/help and /cancel outside a conversation."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, MessageHandler, filters

from bot.context import AppContext
from handlers.common import caller_of, menu, reply


async def show_help(update: Update, context: AppContext) -> None:
    """Explain what the caller can do, by who they are."""
    caller = caller_of(context)
    tr = context.tr
    parts = [tr.t("help.intro")]
    parts.append(tr.t("help.linked") if caller.link else tr.t("help.stranger"))
    parts.append(tr.t("help.programme"))
    if caller.is_staff or (caller.link and caller.link.role == "coordinator"):
        parts.append(tr.t("help.staff"))
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

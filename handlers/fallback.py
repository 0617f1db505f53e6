"""What the bot says to anything no feature understood; registered last."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, MessageHandler, filters

from bot.context import AppContext
from handlers.common import answer, menu, reply


async def unknown_command(update: Update, context: AppContext) -> None:
    """A command the bot does not have."""
    await reply(update, context.tr.t("fallback.unknown_command"), menu(context.tr, context.caller))


async def unknown_message(update: Update, context: AppContext) -> None:
    """Free text, stickers, photos: point to the menu."""
    await reply(update, context.tr.t("fallback.unknown_text"), menu(context.tr, context.caller))


async def stale_button(update: Update, context: AppContext) -> None:
    """A button whose data no handler accepts: old, or forged."""
    await answer(update, context.tr.t("fallback.stale_button"), alert=True)


def handlers() -> list[BaseHandler[Update, AppContext, Any]]:
    """Catch-alls; they must stay last."""
    return [
        MessageHandler(filters.UpdateType.MESSAGE & filters.COMMAND, unknown_command),
        MessageHandler(filters.UpdateType.MESSAGE, unknown_message),
        CallbackQueryHandler(stale_button),
    ]
